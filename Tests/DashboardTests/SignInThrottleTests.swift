@testable import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import JobStore
import NIOCore
import NIOEmbedded
import Telemetry
import Testing
import TestSupport

/// Issue 24: wrong admin tokens on POST /signin are throttled per client address: five a minute, then 429
/// with Retry-After, even for the right token, while other addresses sign in as before.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct SignInThrottleTests {
    static let token = "admin-token-0123456789"
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    func signIn(_ http: HTTPDriver, from address: String, token: String) async throws -> HTTPDriver.Answer {
        try await ClientAddress.$current.withValue(address) {
            try await http.send(.post, "/signin", body: "token=\(token)", headers: Self.form)
        }
    }

    @Test func fiveWrongTokensAMinuteThenTooManyRequests() async throws {
        try await PG.withDatabase { _, store in
            let http = HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(
                address: ListenAddress("127.0.0.1:0")!, adminToken: Self.token)).buildResponder())
            for _ in 0..<5 {
                #expect(try await signIn(http, from: "10.0.0.1", token: "guess").status == .unauthorized)
            }
            let refused = try await signIn(http, from: "10.0.0.1", token: Self.token)
            #expect(refused.status == .tooManyRequests && refused.headers[.setCookie] == nil)
            let wait = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(wait))
            #expect(refused.body.hasPrefix("<!doctype html>") && refused.body.contains("Too many wrong admin tokens"), "\(refused.body)")
            // Another client is not held back.
            #expect(try await signIn(http, from: "10.0.0.2", token: Self.token).status == .seeOther)
        }
    }

    @Test func theWindowSlidesAndASuccessClears() {
        let throttle = SignInThrottle(limit: 2, window: 60, maxAddresses: 3)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        throttle.recordFailure("a", now: t0)
        throttle.recordFailure("a", now: t0.addingTimeInterval(10))
        #expect(throttle.retryAfter("a", now: t0.addingTimeInterval(20)) == 40)
        #expect(throttle.retryAfter("a", now: t0.addingTimeInterval(61)) == nil, "the first failure left the window")
        throttle.recordFailure("b", now: t0)
        throttle.recordSuccess("b")
        throttle.recordFailure("b", now: t0)
        #expect(throttle.retryAfter("b", now: t0) == nil, "a success cleared b's earlier failure")
        // Bounded: an address past the table's size makes it forget the stalest one, never grow.
        let small = SignInThrottle(limit: 1, window: 60, maxAddresses: 2)
        small.recordFailure("x", now: t0)
        small.recordFailure("y", now: t0.addingTimeInterval(1))
        small.recordFailure("z", now: t0.addingTimeInterval(2))
        #expect(small.retryAfter("x", now: t0.addingTimeInterval(3)) == nil)
        #expect(small.retryAfter("y", now: t0.addingTimeInterval(3)) == 58 && small.retryAfter("z", now: t0.addingTimeInterval(3)) == 59)
    }

    /// The address comes from the connection, not from anything the client sends.
    @Test func theAddressIsTheConnectionsPeer() async throws {
        struct Echo: HTTPResponder {
            func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
                Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: ClientAddress.current ?? "none")))
            }
        }
        let channel = EmbeddedChannel()
        channel.remoteAddress = try SocketAddress(ipAddress: "192.0.2.7", port: 40000)
        let responder = ClientAddressResponder(inner: Echo())
        var head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/")
        head.headerFields[.init("X-Forwarded-For")!] = "10.9.9.9"
        let response = try await responder.respond(to: Request(head: head, body: .init(buffer: ByteBuffer())),
                                                    context: .init(source: ApplicationRequestContextSource(channel: channel, logger: PG.quiet)))
        let collected = HTTPDriver.Collected(enough: nil)
        try await response.body.write(HTTPDriver.CollectingWriter(into: collected))
        #expect(collected.text.current == "192.0.2.7")
    }
}
