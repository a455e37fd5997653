import Foundation
import HTTPAPI
import Hummingbird
import JobCore
import JobStore
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime

/// The JSON API under /api: the operations of docs/openapi.yaml, whose routes, parameter decoding and
/// response encoding are generated (Sources/HTTPAPI/Generated, by scripts/gen-openapi.sh), so the spec and
/// the server cannot drift. Each area is one file: API+Reads (the pages' data), API+Mutations (pause,
/// resume, retry, cancel with the admin token), API+Batches (the batch API), EventStream (SSE). The bodies
/// are the store's own records. Refusals are thrown as `HTTPError`s, which answer `{"error": {"message"}}`
/// as the hand-written routes did; the spec lists them as each operation's error statuses.
struct DashboardAPI: APIProtocol {
    let store: JobStore
    let config: DashboardConfig
    let hub: EventHub
    /// Jobs and audit entries per page, as on the pages.
    let pageSize: Int

    /// The logger of the request being answered (`APIRequestScope`).
    var logger: Logger { APIRequestScope.current.logger }

    /// Registers every operation on `router`. JSON is written compact with sorted keys, dates ISO-8601, as
    /// the hand-written routes wrote it (the generator's default is pretty-printed).
    func register(on router: Router<BasicRequestContext>) {
        do {
            try registerHandlers(on: router, configuration: OpenAPIRuntime.Configuration(jsonEncodingOptions: [.sortedKeys]),
                                 middlewares: [ReadableLocation()])
        } catch {
            // Only a malformed server URL can make registration throw, and the default one is fixed.
            preconditionFailure("registering the generated /api handlers: \(error)")
        }
    }
}

/// A job or batch id from a path: a UUID, else a 400 (as `context.parameters.require(_:as:)` answered).
func pathUUID(_ text: String, _ name: String = "id") throws -> UUID {
    guard let id = UUID(uuidString: text) else { throw HTTPError(.badRequest, message: "\(name) must be a UUID") }
    return id
}

/// A text query value, with an empty one read as absent (as `QueryValues.parse` drops them).
func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }

/// A whole-number query value checked against `range`, with the message `QueryValues.int` gives.
func bounded(_ value: Int?, _ key: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
    guard let value else { return fallback }
    guard range.contains(value) else {
        throw HTTPError(.badRequest, message: "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
    }
    return value
}
