import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import JobStore
import Submission
import Telemetry
import Testing
import TestSupport

/// Issue #23 against a real PostgreSQL through the router: a JSONL batch in one transaction, idempotency,
/// results, cancel, the PNG, and the event stream resumed with Last-Event-ID.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct BatchAPITests {
    static let submitToken = "submit-token-0123456789"
    static let adminToken = "admin-token-0123456789"
    static let fashion: ModelSpec = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/fashion-16").path
        return try! ModelSpec.load(directory: dir)
    }()
    static let body = """
        {"custom_id": "first", "class": "dress", "seed": 3}
        {"custom_id": "second", "class": "coat", "label": "coat-1"}

        """

    func driver(_ store: JobStore, submitToken: String? = submitToken, adminToken: String? = adminToken,
                limits: BatchLimits = BatchLimits()) -> HTTPDriver {
        let config = DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: adminToken, submitToken: submitToken,
                                     models: [Self.fashion], batchLimits: limits)
        return HTTPDriver(responder: dashboardRouter(store: store, config: config).buildResponder())
    }

    /// Claims and completes (or fails) the queued jobs, as a worker would.
    func work(_ store: JobStore, limit: Int, fail: Bool = false) async throws {
        for job in try await store.claim(limit: limit, queues: ["default"], models: ["fashion-16"], owner: "w", leaseSeconds: 30) {
            if fail { try await store.fail(job, error: "broken on purpose", permanent: true, worker: "w") } else {
                try await store.complete(job, output: tinyOutput, worker: "w")
            }
        }
    }

    @Test func aBatchGoesInWholeAndItsKeyReplaysIt() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store)
            let key: HTTPFields = .bearer(Self.submitToken, [.init("Idempotency-Key")!: "k-1"])
            let created = try await http.send(.post, "/api/batches", body: Self.body, headers: key)
            #expect(created.status == .created, "\(created.body)")
            let batch = created.json()
            let id = try #require(batch["id"] as? String)
            #expect(batch["jobs"] as? Int == 2 && (batch["counts"] as? [String: Int])?["queued"] == 2)
            #expect(created.headers[.location] == "/api/batches/\(id)")

            let again = try await http.send(.post, "/api/batches", body: Self.body, headers: key)
            #expect(again.status == .ok && again.json()["id"] as? String == id)
            #expect(again.headers[.init("Idempotent-Replayed")!] == "true")
            let other = try await http.send(.post, "/api/batches", body: Self.body.replacingOccurrences(of: "dress", with: "bag"), headers: key)
            #expect(other.status == .unprocessableContent && other.body.contains("k-1") && other.body.contains(id), "\(other.body)")
            #expect(try await store.count("jobs") == 2)

            let read = try await http.send(.get, "/api/batches/\(id)")
            #expect(read.status == .ok && read.json()["finished_at"] == nil)
            #expect(try await http.send(.get, "/api/batches/\(UUID().uuidString)").status == .notFound)
            #expect(try await http.send(.get, "/api/batches/not-a-uuid").status.code < 500)
        }
    }

    @Test func aBadLineRefusesTheWholeBatchNamingTheLine() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store)
            let bad = Self.body + #"{"custom_id": "third", "class": "dress", "policy": "zipar:999"}"# + "\n" + #"{"class": "bag"}"#
            let answer = try await http.send(.post, "/api/batches", body: bad, headers: .bearer(Self.submitToken))
            #expect(answer.status == .badRequest)
            let errors = try #require(answer.json()["errors"] as? [[String: Any]])
            #expect(errors.map { $0["line"] as? Int } == [3, 4], "\(answer.body)")
            #expect(errors.map { $0["field"] as? String } == ["policy", "custom_id"], "\(answer.body)")
            // The label of line 2 is taken: the store refuses it, naming the line; nothing of the batch stays.
            _ = try await http.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken))
            let taken = try await http.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken))
            #expect(taken.status == .unprocessableContent && taken.body.contains("line 2"), "\(taken.body)")
            let unknownQueue = try await http.send(.post, "/api/batches?queue=nope", body: #"{"custom_id": "x", "class": "bag"}"#,
                                                   headers: .bearer(Self.submitToken))
            #expect(unknownQueue.status == .unprocessableContent && unknownQueue.body.contains("nope"))
            #expect(try await store.count("jobs") == 2)
            #expect(try await store.count("batches") == 1)
        }
    }

    @Test func limitsAndTokens() async throws {
        try await PG.withDatabase { _, store in
            let small = driver(store, limits: BatchLimits(maxBytes: 60, maxLines: 1))
            let tooLong = try await small.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken))
            #expect(tooLong.status == .contentTooLarge && tooLong.body.contains("line 2"), "\(tooLong.body)")
            let lines = driver(store, limits: BatchLimits(maxBytes: 1000, maxLines: 1))
            let tooMany = try await lines.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken))
            #expect(tooMany.status == .badRequest && tooMany.body.contains("line 2"), "\(tooMany.body)")

            let http = driver(store)
            #expect(try await http.send(.post, "/api/batches", body: Self.body).status == .unauthorized)
            #expect(try await http.send(.post, "/api/batches", body: Self.body, headers: .bearer("wrong-token-0123456789")).status == .unauthorized)
            // The submit token has no admin scope.
            #expect(try await http.send(.post, "/api/queues/default/pause", headers: .bearer(Self.submitToken)).status == .unauthorized)
            let closed = driver(store, submitToken: nil, adminToken: nil)
            #expect(try await closed.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken)).status == .forbidden)
            #expect(try await store.count("jobs") == 0)
        }
    }

    @Test func resultsCancelImageAndEventsResumed() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store)
            let created = try await http.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken))
            let id = try #require(created.json()["id"] as? String)
            #expect(try await http.send(.get, "/api/batches/\(id)/results").body.isEmpty, "nothing finished yet")

            try await work(store, limit: 1)
            let results = try await http.send(.get, "/api/batches/\(id)/results")
            #expect(results.headers[.contentType] == "application/jsonl" && results.headers[.init("Zipar-Batch-Complete")!] == "false")
            let line = try #require(results.lines().first)
            #expect(results.lines().count == 1 && line["custom_id"] as? String == "first" && line["state"] as? String == "done")
            #expect(line["passes"] as? Int == 3)
            let url = try #require(line["image_url"] as? String)
            let png = try await http.send(.get, url)
            #expect(png.status == .ok && png.headers[.contentType] == "image/png")
            #expect(try await http.send(.get, "/api/jobs/\(UUID().uuidString)/image.png").status == .notFound)

            // Cancelling needs the token, then cancels what is left.
            #expect(try await http.send(.post, "/api/batches/\(id)/cancel").status == .unauthorized)
            let cancel = try await http.send(.post, "/api/batches/\(id)/cancel", headers: .bearer(Self.submitToken))
            #expect(cancel.status == .ok && cancel.json()["cancelled"] as? Int == 1, "\(cancel.body)")
            let all = try await http.send(.get, "/api/batches/\(id)/results?wait=5")
            #expect(all.lines().map { $0["state"] as? String } == ["done", "cancelled"])
            #expect(all.headers[.init("Zipar-Batch-Complete")!] == "true")
            let batch = try await http.send(.get, "/api/batches/\(id)").json()
            #expect(batch["finished_at"] != nil && batch["cancelled_at"] != nil)

            // The stream of the batch: both events from the start, then only the second after the first's id.
            let two = try await http.send(.get, "/api/events?batch=\(id)", until: { $0.components(separatedBy: "event: job").count > 2 })
            #expect(two.status == .ok && two.headers[.contentType] == "text/event-stream")
            let ids = two.body.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
            #expect(ids.count == 2 && two.body.contains("\"custom_id\":\"first\"") && two.body.contains("\"state\":\"cancelled\""), "\(two.body)")
            let resumed = try await http.send(.get, "/api/events?batch=\(id)", headers: [.init("Last-Event-ID")!: ids[0]],
                                              until: { $0.contains("event: job") })
            #expect(resumed.body.contains("id: \(ids[1])\n") && !resumed.body.contains("id: \(ids[0])\n"), "\(resumed.body)")
            #expect(try await http.send(.get, "/api/events", headers: [.init("Last-Event-ID")!: "x"]).status == .badRequest)
        }
    }

    @Test func aStreamWakesOnTheNextCompletion() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store)
            let created = try await http.send(.post, "/api/batches", body: Self.body, headers: .bearer(Self.submitToken))
            _ = try #require(created.json()["id"] as? String)
            // A stream with no history (no batch filter): it sees the failure that comes after it connected.
            async let stream = http.send(.get, "/api/events?queue=default", until: { $0.contains("event: job") })
            try await Task.sleep(nanoseconds: 300_000_000)
            try await work(store, limit: 1, fail: true)
            let answer = try await stream
            #expect(answer.body.contains("\"state\":\"failed\""), "\(answer.body)")
        }
    }
}
