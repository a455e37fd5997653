import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobStore
import Logging
import Telemetry
import NIOEmbedded
import Testing
import TestSupport

/// Issue 21, item 1: no query value may take the server down. Every GET route is driven with hostile
/// values (huge, negative, NaN, infinite, empty, unicode, control characters, long); each answer must be a
/// page or a 4xx, never a 5xx — and a trap (an arithmetic overflow) would kill this test process outright.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct HostileQueryTests {
    static let hostile = [
        "9223372036854775807", "-9223372036854775808", "99999999999999999999999", "-1", "0", "NaN", "nan", "inf",
        "infd", "1e308d", "-5m", "1e400s", "", "%00", "%FF%FE", "%E2%80%AE", "%1B%5B31m", "%F0%9F%98%80",
        String(repeating: "x", count: 5000), "' OR 1=1 --", "..%2F..%2Fetc%2Fpasswd",
    ]
    static let keys = ["page", "since", "state", "queue", "label", "model", "policy", "class", "q", "seed", "wait", "after", "batch",
                       "range", "action", "done", "n"]
    static let routes = ["/", "/queues", "/jobs", "/gallery", "/compare", "/workers", "/api/queues", "/api/stats",
                         "/api/workers", "/api/jobs", "/metrics", "/healthz", "/readyz", "/api/events",
                         "/api/batches/00000000-0000-0000-0000-000000000000/results",
                         "/charts", "/api/charts", "/audit", "/api/audit", "/signin", "/jobs/bulk", "/api/workers/health",
                         "/api/bulk/retry"]

    @Test func everyRouteAnswersHostileValuesWithoutAServerError() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1), job(2)])
            let responder = dashboardRouter(store: store, config: DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: "t")).buildResponder()
            var served = 0
            for route in Self.routes {
                for key in Self.keys {
                    for value in Self.hostile {
                        let status = try await Self.get(responder, "\(route)?\(key)=\(value)&model=m&class=1&seed=1")
                        #expect(status.code < 500, "\(route)?\(key)=\(value.prefix(30)) answered \(status.code)")
                        served += 1
                    }
                }
                // Path parameters too: ids that are not UUIDs.
                for value in Self.hostile.prefix(8) {
                    let status = try await Self.get(responder, "/jobs/\(value)")
                    #expect(status.code < 500, "/jobs/\(value.prefix(30)) answered \(status.code)")
                }
            }
            #expect(served == Self.routes.count * Self.keys.count * Self.hostile.count)
        }
    }

    @Test func theOverflowingPageIsABadRequestNamingThePage() async throws {
        try await PG.withDatabase { _, store in
            let responder = dashboardRouter(store: store, config: DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: nil)).buildResponder()
            let hugePage = try await Self.get(responder, "/jobs?page=9223372036854775807")
            let hugeAPIPage = try await Self.get(responder, "/api/jobs?page=9223372036854775807")
            let infiniteSince = try await Self.get(responder, "/jobs?since=infd")
            let fine = try await Self.get(responder, "/jobs?page=2&since=30m")
            #expect(hugePage == .badRequest && hugeAPIPage == .badRequest && infiniteSince == .badRequest)
            #expect(fine == .ok)
        }
    }

    @Test func pausingAnUnknownQueueIsANotFound() async throws {
        try await PG.withDatabase { _, store in
            let responder = dashboardRouter(store: store, config: DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: "t")).buildResponder()
            var head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/api/queues/nope/pause")
            head.headerFields[.authorization] = "Bearer t"
            let (status, body) = try await Self.send(responder, head)
            // The ErrorBodies middleware answers with a Response whose body carries the message.
            #expect(status == .notFound, "\(status) \(body)")
        }
    }

    /// Status and body of a request: the response's, or the thrown `HTTPError`'s (the server turns those into
    /// answers); any other thrown error is what the server would answer with a 500.
    static func send(_ responder: some HTTPResponder<BasicRequestContext>, _ head: HTTPRequest) async throws -> (HTTPResponse.Status, String) {
        do {
            let response = try await responder.respond(to: Request(head: head, body: .init(buffer: .init())), context: context())
            return (response.status, "(a response body)")
        } catch let error as HTTPError {
            return (error.status, error.body ?? "")
        } catch let error as HTTPResponseError {
            return (error.status, "")
        } catch {
            return (.internalServerError, "\(error)")
        }
    }

    /// The status a GET gets: the response's, or the thrown `HTTPError`'s (the server turns those into
    /// answers); any other thrown error is what the server would answer with a 500.
    static func get(_ responder: some HTTPResponder<BasicRequestContext>, _ path: String) async throws -> HTTPResponse.Status {
        let head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: path)
        do {
            return try await responder.respond(to: Request(head: head, body: .init(buffer: .init())), context: context()).status
        } catch let error as HTTPResponseError {
            return error.status
        } catch {
            return .internalServerError
        }
    }

    static func context() -> BasicRequestContext {
        BasicRequestContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: PG.quiet))
    }
}
