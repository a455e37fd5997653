import Foundation
import HTTPTypes
import Hummingbird
import JobStore
import Logging
import OpenAPIRuntime

/// What a generated /api handler needs of its request beyond its typed input: the credentials (bearer
/// tokens are a security scheme in docs/openapi.yaml, not a parameter, so the input has no field for them)
/// and the request's logger. Set by `APIRequestScope.Middleware` around each request.
struct APIRequestScope: Sendable {
    @TaskLocal static var current = APIRequestScope(authorization: nil, logger: Logger(label: "zipar-admin.api"))

    var authorization: String?
    var logger: Logger

    /// Puts every request's scope in place; on /api it also checks the query string as the pages do
    /// (`QueryValues`: no value over 1,000 characters, none with a control character: a 400 naming it),
    /// before the generated code decodes it. Every value is checked, repeated keys too: the generated code
    /// reads the first of them where `QueryValues.parse` keeps the last.
    struct Middleware<Context: RequestContext>: RouterMiddleware {
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            if request.uri.path.hasPrefix("/api/") {
                for (key, value) in request.uri.queryParameters { _ = try QueryValues.checked([String(key): String(value)]) }
            }
            let scope = APIRequestScope(authorization: request.headers[.authorization], logger: context.logger)
            return try await APIRequestScope.$current.withValue(scope) { try await next(request, context) }
        }
    }
}

/// The error a generated handler's failure is answered with. The generated server wraps every error in a
/// `ServerError`; unwrapped here, a handler's `HTTPError` keeps its status and message (our JSON error body),
/// a request the generated code could not decode (a query value that is not a number, an unknown state, a
/// bad header) is a 400 that says what was wrong, and anything else is the handler's own error (a store's
/// refusal, a failure) for `ErrorBodies` to answer as before.
func apiError(_ error: ServerError) -> any Error {
    if error.underlyingError is any HTTPResponseError { return error.underlyingError }
    if (400..<500).contains(error.httpStatus.code) {
        return HTTPError(error.httpStatus, message: "bad request: \(decodingProblem(error))")
    }
    return error.underlyingError
}

/// A short reason for a request the generated code refused: the parameter and what it expected.
private func decodingProblem(_ error: ServerError) -> String {
    if let decoding = error.underlyingError as? DecodingError {
        switch decoding {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\(codingPath(context)) must be \(type)"
        case .dataCorrupted(let context):
            return "\(codingPath(context)): \(context.debugDescription)".prefix(300).description
        case .keyNotFound(let key, _):
            return "\(key.stringValue) is missing"
        @unknown default: break
        }
    }
    return error.causeDescription.prefix(300).description
}

private func codingPath(_ context: DecodingError.Context) -> String {
    let path = context.codingPath.map(\.stringValue).filter { !$0.isEmpty }.joined(separator: ".")
    return path.isEmpty ? "a parameter" : path
}

/// Response headers as the hand-written routes sent them: the generated code writes a header value in URI
/// style, which percent-encodes the slashes of `Location: /api/batches/ID`.
struct ReadableLocation: ServerMiddleware {
    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        var (response, responseBody) = try await next(request, body, metadata)
        if let location = response.headerFields[.location], let plain = location.removingPercentEncoding {
            response.headerFields[.location] = plain
        }
        return (response, responseBody)
    }
}
