import Foundation
import Hummingbird
import JobStore
import OpenAPIRuntime

/// Every value a client puts in a URL is parsed here, with bounds, so no query string can reach an
/// arithmetic overflow (a trap kills the whole server) or a PostgreSQL range error (a 500). A value out of
/// bounds is a 400 that names the parameter.
enum QueryValues {
    /// The most a page number may be: 60 jobs a page, so 1,000,000 pages cover 60 million jobs.
    static let maxPage = 1_000_000
    /// The longest `since` window accepted: ten years.
    static let maxSinceSeconds: Double = 10 * 365 * 86_400
    /// The longest value of any text parameter (queue, label, model, policy, class, q).
    static let maxTextLength = 1_000

    /// All query parameters with a value; duplicates keep the last. Text values longer than `maxTextLength`
    /// are refused.
    static func parse(_ request: Request) throws -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in request.uri.queryParameters where !v.isEmpty { out[String(k)] = String(v) }
        return try checked(out)
    }

    /// `fields` (a query's or a form's) when every value passes: at most `maxTextLength` characters and no
    /// control character; else a 400 naming the field.
    static func checked(_ fields: [String: String]) throws -> [String: String] {
        for (k, value) in fields {
            guard value.count <= maxTextLength else {
                throw HTTPError(.badRequest, message: "parameter \(k.prefix(40)) is longer than \(maxTextLength) characters")
            }
            // A NUL is refused by PostgreSQL as text (a 500), and no filter needs a control character.
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw HTTPError(.badRequest, message: "parameter \(k.prefix(40)) holds a control character")
            }
        }
        return fields.filter { !$0.value.isEmpty }
    }

    /// A whole number in `range`; absent means `fallback`. Anything else (not a number, too big, negative) is
    /// a 400 naming `key`.
    static func int(_ q: [String: String], _ key: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = q[key] else { return fallback }
        guard let n = Int(text), range.contains(n) else {
            throw HTTPError(.badRequest, message: "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// An age like `30s`, `15m`, `2h` or `7d`, finite and at most ten years, in seconds.
    static func age(_ q: [String: String], _ key: String) throws -> Double? {
        guard let text = q[key] else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n.isFinite, n >= 0,
              n * unit <= maxSinceSeconds else {
            throw HTTPError(.badRequest, message: "\(key) must look like 30m, 2h or 7d (at most 3650d)")
        }
        return n * unit
    }
}

/// Errors a route throws become an answer with a readable body: `HTTPError`s keep their status, a store's
/// refusal (an unknown queue, say) is a 404 with its message, and anything else is a 500 that says so and
/// is logged — never an empty body. The generated /api handlers' errors come wrapped in a `ServerError`:
/// `apiError` unwraps them first, so a client never sees the generated code's generic 500.
struct ErrorBodies<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            do { return try await next(request, context) } catch let error as ServerError { throw apiError(error) }
        } catch let error as HTTPResponseError {
            throw error
        } catch let error as SubmitError {
            throw HTTPError(.notFound, message: error.description)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw HTTPError(.internalServerError, message: "internal error: \(describeError(error))")
        }
    }
}
