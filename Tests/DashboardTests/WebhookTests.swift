import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import JobStore
import Telemetry
import Testing
import TestSupport

/// The optional per-batch webhook of issue #23: a finished batch is POSTed to its URL, signed with
/// HMAC-SHA256, and a failed try is retried; tested against a receiver on the loopback interface.
@Suite struct WebhookSignatureTests {
    @Test func hmacMatchesRFC4231() {
        #expect(hex(hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // A key longer than the block is hashed first (test case 6).
        #expect(hex(hmacSHA256(key: [UInt8](repeating: 0xaa, count: 131),
                               message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}

@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct WebhookTests {
    static let secret = "webhook-secret-0123456789"

    @Test func aFinishedBatchIsPostedSignedAndRetriedAfterAFailure() async throws {
        try await PG.withDatabase { _, store in
            // The receiver: answers 500 to the first POST and 200 after, and keeps what it got.
            let received = Locked<[(signature: String?, body: String)]>([])
            let receiver = Router()
            receiver.post("/hook") { request, _ in
                let body = try await request.body.collect(upTo: 1 << 20)
                let n = received.withLock { got -> Int in
                    got.append((request.headers[HTTPField.Name("Zipar-Signature")!], String(buffer: body)))
                    return got.count
                }
                return Response(status: n == 1 ? .internalServerError : .ok)
            }
            let port = Locked<Int?>(nil)
            let app = Application(router: receiver, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: PG.quiet)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.runService() }
                defer { group.cancelAll() }
                for _ in 0..<200 where port.current == nil { try await Task.sleep(nanoseconds: 50_000_000) }
                let hook = "http://127.0.0.1:\(try #require(port.current))/hook"
                let encoded = try #require(hook.addingPercentEncoding(withAllowedCharacters: .alphanumerics))

                let config = DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: nil, submitToken: BatchAPITests.submitToken,
                                             models: [BatchAPITests.fashion], webhookSecret: Self.secret)
                let http = HTTPDriver(responder: dashboardRouter(store: store, config: config).buildResponder())
                let created = try await http.send(.post, "/api/batches?webhook=\(encoded)", body: BatchAPITests.body,
                                                  headers: .bearer(BatchAPITests.submitToken))
                #expect(created.status == .created, "\(created.body)")
                let id = try #require(created.json()["id"] as? String)
                let batchID = try #require(UUID(uuidString: id))
                let bad = try await http.send(.post, "/api/batches?webhook=file%3A%2F%2F%2Fetc%2Fpasswd", body: BatchAPITests.body,
                                              headers: .bearer(BatchAPITests.submitToken))
                #expect(bad.status == .badRequest && bad.body.contains("webhook"))

                let sender = WebhookSender(store: store, secret: Self.secret, logger: PG.quiet, backoffBase: 0)
                #expect(try await sender.deliverDue() == 0, "not before the batch finished")
                try await BatchAPITests().work(store, limit: 2)
                #expect(try await sender.deliverDue() == 1)   // the receiver answers 500
                let failed = try #require(try await store.webhookState(batch: batchID))
                #expect(failed.attempts == 1 && failed.pending && failed.deliveredAt == nil && failed.lastError?.contains("500") == true)
                #expect(try await sender.deliverDue() == 1)   // retried (backoff 0 here): 200
                #expect(try await sender.deliverDue() == 0)
                let delivered = try #require(try await store.webhookState(batch: batchID))
                #expect(delivered.attempts == 2 && !delivered.pending && delivered.deliveredAt != nil)

                let got = received.current
                #expect(got.count == 2)
                for post in got {
                    let expected = "sha256=" + hex(hmacSHA256(key: Array(Self.secret.utf8), message: Array(post.body.utf8)))
                    #expect(post.signature == expected)
                    #expect(post.body.contains("\"event\":\"batch.finished\"") && post.body.contains(id), "\(post.body)")
                }
                // A server without a webhook secret refuses batches that name one.
                let plain = DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: nil, submitToken: BatchAPITests.submitToken,
                                            models: [BatchAPITests.fashion])
                let off = try await HTTPDriver(responder: dashboardRouter(store: store, config: plain).buildResponder())
                    .send(.post, "/api/batches?webhook=\(encoded)", body: BatchAPITests.body, headers: .bearer(BatchAPITests.submitToken))
                #expect(off.status == .badRequest && off.body.contains("--webhook-secret-file"))
            }
        }
    }
}
