import Foundation
import HTTPTypes
import Hummingbird

/// A refusal on a page (a wrong token, an expired session, a bad CSRF token, a bad filter, an unknown job)
/// is an HTML page with the message, its status kept; /api and the health and metrics endpoints keep their
/// JSON and text answers for programs.
struct HTMLErrors<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where Self.isPage(request.uri.path) {
            let message = error.body ?? "\(error.status.code) \(error.status.reasonPhrase)"
            var body = "<p class=\"err\" id=\"error\">\(HTML.esc(message))</p>"
            if error.status == .unauthorized { body += "<p><a href=\"/signin\">Sign in</a></p>" }
            body += "<p><a href=\"/queues\">Back to the queues</a></p>"
            let title = error.status == .unauthorized ? "Not signed in" : error.status == .forbidden ? "Refused" : "Error \(error.status.code)"
            return html(HTML.page(title, active: "", viewer: nil, body), error.status)
        }
    }

    static func isPage(_ path: String) -> Bool {
        !(path.hasPrefix("/api/") || ["/metrics", "/healthz", "/readyz", "/console.js"].contains(path) || path.hasSuffix("/image.png"))
    }
}
