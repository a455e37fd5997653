@testable import Dashboard
import Foundation
import Testing

/// Issue 24, item 1: the session cookie is signed, expires, and cannot be forged or altered; a CSRF token
/// belongs to one session. No database needed.
struct SessionKeysTests {
    let keys = SessionKeys(secret: Array(repeating: 7, count: 32), lifetime: 3600)

    @Test func aCookieVerifiesUnderItsOwnSecretOnly() {
        let (session, cookie) = keys.issue()
        #expect(keys.verify(cookie) == session)
        #expect(session.id.count == 32 && session.actor == "admin session \(session.id.prefix(8))")
        let other = SessionKeys(secret: Array(repeating: 8, count: 32), lifetime: 3600)
        #expect(other.verify(cookie) == nil, "a cookie signed under another secret is no session")
        // A new admin token ends the sessions of the old one, even under the same configured secret.
        let rotated = SessionKeys(secret: Array(repeating: 7, count: 32), lifetime: 3600, boundTo: Array("new-admin-token".utf8))
        #expect(rotated.verify(cookie) == nil)
        // Without a configured secret each server start draws its own.
        #expect(SessionKeys(secret: nil, lifetime: 60).verify(SessionKeys(secret: nil, lifetime: 60).issue().cookie) == nil)
    }

    @Test func anExpiredCookieIsNoSession() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let (_, cookie) = keys.issue(now: start)
        #expect(keys.verify(cookie, now: start.addingTimeInterval(3599)) != nil)
        #expect(keys.verify(cookie, now: start.addingTimeInterval(3600)) == nil)
        #expect(keys.verify(cookie, now: start.addingTimeInterval(90_000)) == nil)
    }

    @Test func alteredOrMalformedCookiesAreNoSession() {
        let (_, cookie) = keys.issue()
        let parts = cookie.split(separator: ".").map(String.init)
        // A later expiry with the old signature: the signature covers the expiry.
        let extended = "\(Int64(parts[0])! + 86_400).\(parts[1]).\(parts[2])"
        let otherID = "\(parts[0]).\(String(repeating: "a", count: 32)).\(parts[2])"
        let flipped = String(cookie.dropLast()) + (cookie.last == "0" ? "1" : "0")
        let hostile = ["", ".", "..", "a.b.c", "1.2.3.4", cookie + ".", String(repeating: "9", count: 5000),
                       "99999999999999999999999.\(parts[1]).\(parts[2])", "-1.\(parts[1]).\(parts[2])",
                       "\(parts[0]).\(String(repeating: "é", count: 16)).\(parts[2])", "\u{0}\u{1}", extended, otherID, flipped]
        for value in hostile { #expect(keys.verify(value) == nil, "\(value.prefix(40)) was taken for a session") }
    }

    @Test func csrfTokensBelongToTheirSession() {
        let (a, _) = keys.issue()
        let (b, _) = keys.issue()
        #expect(keys.csrfMatches(a.csrf, a))
        #expect(!keys.csrfMatches(b.csrf, a) && !keys.csrfMatches(nil, a) && !keys.csrfMatches("", a))
        #expect(!keys.csrfMatches(String(a.csrf.dropLast()), a))
    }

    @Test func latenciesReadInHumanUnits() {
        #expect(HTML.ms(704.2) == "704 ms")
        #expect(HTML.ms(4_230) == "4.2 s")
        #expect(HTML.ms(93_308) == "1 m 33 s")
        #expect(HTML.ms(7_500_000) == "2 h 5 m")
        #expect(HTML.ms(nil) == "-" && HTML.ms(.nan) == "-" && HTML.ms(.infinity) == "-")
    }
}
