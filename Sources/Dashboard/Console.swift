import Foundation
import HTTPTypes
import Hummingbird
import JobStore
import Logging

/// Who is looking at a page: it decides what the header offers (sign in, sign out) and whether the page
/// carries mutating forms (each with the session's CSRF token).
enum Viewer: Sendable {
    /// No admin token configured: nothing can be changed, so no sign-in either.
    case readOnly
    case signedOut
    case signedIn(Session)

    var session: Session? { if case .signedIn(let s) = self { return s } else { return nil } }
}

/// Sign-in, sign-out and the session checks of every mutating form of the pages. The JSON API never uses
/// sessions: programs keep sending `Authorization: Bearer` (so a cookie can never authorise an API call,
/// and SameSite=Strict plus the CSRF field guard the forms).
struct ConsoleAuth: Sendable {
    let keys: SessionKeys
    let adminToken: String?
    /// Adds `Secure` to the cookie: set it when the dashboard is reached over https (a TLS proxy).
    let secureCookie: Bool

    init(config: DashboardConfig) {
        keys = SessionKeys(secret: config.sessionSecret, lifetime: config.sessionLifetime, boundTo: Array((config.adminToken ?? "").utf8))
        adminToken = config.adminToken
        secureCookie = config.secureCookie
    }

    func viewer(_ request: Request) -> Viewer {
        guard adminToken != nil else { return .readOnly }
        guard let session = session(request) else { return .signedOut }
        return .signedIn(session)
    }

    func session(_ request: Request) -> Session? {
        // Cookies' parser never traps; a cookie that is not ours, or is malformed, is no session.
        guard let value = request.cookies[SessionKeys.cookieName]?.value else { return nil }
        return keys.verify(value)
    }

    /// The session of a mutating form POST and the form's fields, after checking its CSRF token. Refuses with
    /// 403 on a read-only dashboard, 401 (sign in first) without a valid session, 403 on a missing or wrong
    /// CSRF token: each an HTML page on the pages (`HTMLErrors`).
    func requireSession(_ request: Request) async throws -> (Session, [String: String]) {
        guard adminToken != nil else {
            throw HTTPError(.forbidden, message: "This dashboard is read-only: start `zipar-admin serve` with an admin token to change anything.")
        }
        guard let session = session(request) else {
            throw HTTPError(.unauthorized, message: "Sign in first: your session is missing or has expired. Nothing was changed.")
        }
        let form = try await formBody(request)
        guard keys.csrfMatches(form["csrf"], session) else {
            throw HTTPError(.forbidden, message: "The form's CSRF token is missing or does not belong to your session (a form from another site, or one older than your sign-in). Reload the page and try again. Nothing was changed.")
        }
        return (session, form)
    }

    func cookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: SessionKeys.cookieName, value: value, maxAge: maxAge, path: "/", secure: secureCookie, httpOnly: true,
               sameSite: .strict)
    }
}

/// The fields of an `application/x-www-form-urlencoded` body of at most 16 KiB, each checked as a query
/// value is (length, no control characters).
func formBody(_ request: Request) async throws -> [String: String] {
    let body: ByteBuffer
    do { body = try await request.body.collect(upTo: 16 * 1024) } catch {
        throw HTTPError(.contentTooLarge, message: "form body larger than 16 KiB")
    }
    return try QueryValues.checked(formFields(String(buffer: body)))
}

/// /signin (the admin token typed once) and /signout. Wrong tokens are throttled per client address
/// (`SignInThrottle`: 5 a minute, then 429 with Retry-After).
func addSignIn(to router: Router<BasicRequestContext>, auth: ConsoleAuth, throttle: SignInThrottle = SignInThrottle()) {
    router.get("/signin") { request, _ in
        let viewer = auth.viewer(request)
        return html(Pages(viewer: viewer, notice: Notice.text(try query(request))).signIn(error: nil))
    }
    router.post("/signin") { request, context in
        guard let expected = auth.adminToken else {
            throw HTTPError(.forbidden, message: "This dashboard is read-only: there is nothing to sign in to.")
        }
        let address = ClientAddress.current ?? "unknown"
        if let wait = throttle.retryAfter(address) {
            context.logger.notice("dashboard sign-in refused: too many wrong tokens", metadata: ["client": "\(address)"])
            var response = html(Pages(viewer: .signedOut, notice: nil).signIn(
                error: "Too many wrong admin tokens from your address: try again in \(wait) s. Nothing was signed in."), .tooManyRequests)
            response.headers[.retryAfter] = "\(wait)"
            return response
        }
        let form = try await formBody(request)
        guard let given = form["token"], constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else {
            throttle.recordFailure(address)
            context.logger.notice("dashboard sign-in refused: wrong admin token", metadata: ["client": "\(address)"])
            return html(Pages(viewer: .signedOut, notice: nil).signIn(error: "That is not the admin token. Nothing was signed in."), .unauthorized)
        }
        throttle.recordSuccess(address)
        let (session, value) = auth.keys.issue()
        context.logger.info("dashboard sign-in", metadata: ["actor": "\(session.actor)"])
        var response = Response(status: .seeOther, headers: [.location: "/queues?done=signed-in"])
        response.setCookie(auth.cookie(value, maxAge: Int(auth.keys.lifetime)))
        return response
    }
    router.post("/signout") { request, context in
        let (session, _) = try await auth.requireSession(request)
        context.logger.info("dashboard sign-out", metadata: ["actor": "\(session.actor)"])
        var response = Response(status: .seeOther, headers: [.location: "/signin?done=signed-out"])
        response.setCookie(auth.cookie("", maxAge: 0))
        return response
    }
}

/// The confirmation shown after a mutation: the redirect names one of these keys (`?done=KEY&n=COUNT`), never
/// free text, so a crafted link cannot make the page say anything else.
enum Notice {
    static func text(_ q: [String: String]) -> String? {
        guard let key = q["done"] else { return nil }
        let n = q["n"].flatMap { Int($0) }.map { max(0, min($0, 100_000_000)) }
        let jobs = n.map { $0 == 1 ? "1 job" : "\($0) jobs" } ?? "The jobs"
        switch key {
        case "signed-in": return "Signed in. Every change you make is recorded in the audit log."
        case "signed-out": return "Signed out."
        case "paused": return "Queue paused: workers take no new job from it until it is resumed."
        case "resumed": return "Queue resumed."
        case "retried": return "Job requeued: it runs again with fresh attempts."
        case "cancelled": return "Job cancelled."
        case "unchanged": return "Nothing changed: the job was no longer in a state that allows it."
        case "bulk-cancel": return "\(jobs) cancelled."
        case "bulk-retry": return "\(jobs) requeued."
        case "bulk-delete": return "\(jobs) deleted."
        default: return nil
        }
    }
}

/// Logs a mutation the server made (the audit log holds it too).
func logMutation(_ logger: Logger, _ note: AuditNote, count: Int) {
    logger.info("mutation", metadata: ["actor": "\(note.actor)", "action": "\(note.action)", "target": "\(note.target)",
                                       "count": "\(count)"])
}
