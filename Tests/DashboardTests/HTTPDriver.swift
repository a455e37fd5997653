import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import NIOEmbedded
import TestSupport

/// Drives a router without a socket, as the server would: a request in, the status, headers and the
/// whole body out (a thrown `HTTPError` becomes its status and message, as the server answers it).
struct HTTPDriver: Sendable {
    let responder: any HTTPResponder<BasicRequestContext>

    struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
        func json() -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
        /// The body as JSON lines.
        func lines() -> [[String: Any]] {
            body.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }
    }

    func send(_ method: HTTPRequest.Method, _ path: String, body: String = "", headers: HTTPFields = [:],
              until enough: (@Sendable (String) -> Bool)? = nil) async throws -> Answer {
        var head = HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path)
        head.headerFields = headers
        let request = Request(head: head, body: .init(buffer: ByteBuffer(string: body)))
        let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: PG.quiet))
        do {
            let response = try await responder.respond(to: request, context: context)
            let collected = Collected(enough: enough)
            do { try await response.body.write(CollectingWriter(into: collected)) } catch is Enough {}
            return Answer(status: response.status, headers: response.headers, body: collected.text.current)
        } catch let error as HTTPError {
            return Answer(status: error.status, headers: [:], body: error.body ?? "")
        }
    }

    /// Reads a never-ending body (an event stream) until `enough` says so.
    struct Enough: Error {}

    final class Collected: Sendable {
        let text = Locked("")
        let enough: (@Sendable (String) -> Bool)?
        init(enough: (@Sendable (String) -> Bool)?) { self.enough = enough }
    }

    struct CollectingWriter: ResponseBodyWriter {
        let into: Collected
        mutating func write(_ buffer: ByteBuffer) async throws {
            let all = into.text.withLock { $0 += String(buffer: buffer); return $0 }
            if let enough = into.enough, enough(all) { throw Enough() }
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

extension HTTPFields {
    static func bearer(_ token: String, _ more: [HTTPField.Name: String] = [:]) -> HTTPFields {
        var h = HTTPFields()
        h[.authorization] = "Bearer \(token)"
        for (k, v) in more { h[k] = v }
        return h
    }
}
