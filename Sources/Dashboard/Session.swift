import Foundation
import JobStore

/// A signed-in operator's session on the dashboard pages (issue 24): the admin token is typed once on
/// /signin; the server answers with a session cookie it signed itself, so no session table is needed and a
/// server restart with the same secret keeps everyone signed in.
///
/// Cookie value: `EXPIRY.ID.MAC`, where EXPIRY is a Unix time in seconds, ID 32 random hex digits naming
/// the session (it is what the audit log records), and MAC the HMAC-SHA256 of `session|EXPIRY|ID` under the
/// server's secret. The CSRF token of a session is derived from its id (`HMAC(secret, csrf|ID)`), so a form
/// can only be posted by a page the server rendered for that very session.
public struct Session: Sendable, Equatable {
    /// 32 hex digits, random per sign-in.
    public var id: String
    public var expires: Date
    /// What every mutating form must carry in its `csrf` field.
    public var csrf: String
    /// Who the audit log says did something: the session's short id, never the whole (it is half the cookie).
    public var actor: String { "admin session \(id.prefix(8))" }
}

/// Issues and checks session cookies and CSRF tokens with one secret.
public struct SessionKeys: Sendable {
    public static let cookieName = "zipar_session"
    /// The shortest secret accepted: 32 bytes, the HMAC-SHA256 block's half.
    public static let minimumSecretBytes = 32

    /// The signing key: the configured (or drawn) secret bound to the admin token.
    let secret: [UInt8]
    /// How long a session lasts from sign-in.
    public let lifetime: TimeInterval

    /// `secret` nil: 32 random bytes, so sessions end when the server restarts. `boundTo` (the admin token)
    /// is mixed into the signing key: a new admin token ends every session signed under the old one, even
    /// with the same configured secret.
    public init(secret: [UInt8]?, lifetime: TimeInterval, boundTo binding: [UInt8] = []) {
        var rng = SystemRandomNumberGenerator()   // getrandom(2) on Linux: fit for keys
        let base = secret ?? (0..<Self.minimumSecretBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
        self.secret = hmacSHA256(key: base, message: Array("zipar session key|".utf8) + binding)
        self.lifetime = lifetime
    }

    /// A new session from `now`, and the cookie value that carries it.
    public func issue(now: Date = Date()) -> (session: Session, cookie: String) {
        var rng = SystemRandomNumberGenerator()
        let id = hex((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let expiry = Int64(now.timeIntervalSince1970 + lifetime)
        let cookie = "\(expiry).\(id).\(mac("session|\(expiry)|\(id)"))"
        return (Session(id: id, expires: Date(timeIntervalSince1970: Double(expiry)), csrf: csrf(id)), cookie)
    }

    /// The session a cookie value carries, or nil: malformed, signed under another secret, altered, or
    /// expired. Never traps, whatever the client sent.
    public func verify(_ cookie: String, now: Date = Date()) -> Session? {
        guard cookie.utf8.count <= 200 else { return nil }
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[0]), parts[1].utf8.count == 32,
              parts[1].allSatisfy({ $0.isHexDigit }) else { return nil }
        let id = String(parts[1])
        guard constantTimeEqual(Array(parts[2].utf8), Array(mac("session|\(expiry)|\(id)").utf8)) else { return nil }
        guard Double(expiry) > now.timeIntervalSince1970 else { return nil }
        return Session(id: id, expires: Date(timeIntervalSince1970: Double(expiry)), csrf: csrf(id))
    }

    /// Whether `given` is the CSRF token of `session` (constant time).
    public func csrfMatches(_ given: String?, _ session: Session) -> Bool {
        guard let given else { return false }
        return constantTimeEqual(Array(given.utf8), Array(session.csrf.utf8))
    }

    private func csrf(_ id: String) -> String { mac("csrf|\(id)") }

    private func mac(_ text: String) -> String { hex(hmacSHA256(key: secret, message: Array(text.utf8))) }
}
