import Foundation
import JobCore
import JobStore
import Testing
import TestSupport

/// `zipar-submit --format jsonl` takes the batch file of `POST /api/batches` (custom_id, model, queue on a
/// line), and `--wait` returns when the jobs finish (woken by their completion events).
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct BatchSubmitTests {
    static let batch = """
        {"custom_id": "one", "model": "fashion-16", "class": "dress", "seed": 3}
        {"custom_id": "two", "model": "fashion-16", "class": "coat", "queue": "night"}

        """

    @Test func theBatchFileSubmitsAndWaitReturnsWhenTheJobsFinish() async throws {
        try await PG.withDatabase { config, store in
            let db = config.database
            let work = try Tool.tempDir()
            let file = work + "/batch.jsonl"
            try Self.batch.write(toFile: file, atomically: true, encoding: .utf8)

            // A line naming another model than --model's is refused, naming the line and field.
            try (Self.batch + #"{"custom_id": "three", "model": "other", "class": "bag"}"#).write(toFile: work + "/bad.jsonl", atomically: true, encoding: .utf8)
            let bad = try Tool.run("zipar-submit", ["--model", Tool.model, "--format", "jsonl", work + "/bad.jsonl"], database: db)
            #expect(bad.status == 1 && bad.err.contains("line 3, model"), "\(bad.err)")

            // --wait in the background; a draining worker finishes the jobs.
            let submit = Task.detached {
                try Tool.run("zipar-submit", ["--model", Tool.model, "--format", "jsonl", "--create-queue", "--wait", "--json", file], database: db)
            }
            var ids: [UUID] = []
            for _ in 0..<100 where ids.count < 2 {
                try await Task.sleep(nanoseconds: 100_000_000)
                ids = try await store.jobs(JobFilter()).map { UUID(uuidString: $0.id)! }
            }
            #expect(ids.count == 2)
            let worker = ["--model", Tool.model, "--queue", "default", "--queue", "night", "--drain", "--simulate-pass-ms", "1",
                          "--log-level", "error"]
            let drained = try Tool.run("zipar-worker", worker, database: db)
            #expect(drained.status == 0, "\(drained.err)")
            let waited = try await submit.value
            #expect(waited.status == 0, "\(waited.err)")
            let report = try #require(try waited.json() as? [String: Any])
            #expect((report["summary"] as? [String: Any])?["done"] as? Int == 2, "\(waited.out)")
            // The file formed a batch, as POST /api/batches makes of it: its id is in the report.
            let batchID = try #require((report["batch"] as? String).flatMap(UUID.init(uuidString:)), "\(waited.out)")
            let batch = try #require(try await store.batch(id: batchID))
            #expect(batch.jobs == 2 && batch.counts == [.done: 2] && batch.finishedAt != nil)
            #expect(try await store.batchResults(id: batchID, onlyFinished: true).compactMap(\.customID).sorted() == ["one", "two"])
            #expect(try await store.count("job_events") == 2)
            let queues = Set(try await store.jobs(JobFilter()).map(\.queue))
            #expect(queues == ["default", "night"])
        }
    }
}
