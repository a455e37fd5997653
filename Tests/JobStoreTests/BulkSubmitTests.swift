import Foundation
import JobCore
import JobStore
import PostgresNIO
import Testing
import TestSupport

/// Submits insert many rows a statement (issue 23): a long submission goes in, in input order, in one
/// transaction, with every column as the one-row-a-statement insert wrote it; errors still name the line;
/// a JSONL submission forms a batch as the batch API makes one.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct BulkSubmitTests {
    /// `n` jobs that use every nullable column on some rows and leave it empty on others.
    static func varied(_ n: Int) -> [JobSpec] {
        (0..<n).map { i in
            var j = job(i % 10, priority: i % 3, maxAttempts: 1 + i % 4, policy: i % 2 == 0 ? "ntp" : "zipar:4")
            j.parameters.seed = UInt64(i)
            if i % 5 == 0 { j.parameters.sampling.cfgInterval = 7 }
            if i % 3 == 0 { j.label = "bulk-\(i)"; j.prompt = "dress label=bulk-\(i)"; j.className = "dress" }
            if i % 7 == 0 { j.customID = "custom \(i)" }
            if i % 11 == 0 { j.runAfter = Date(timeIntervalSince1970: 4_000_000_000 + Double(i)) }
            j.line = i + 1
            return j
        }
    }

    func idsBySeq(_ store: JobStore) async throws -> [UUID] {
        var out: [UUID] = []
        for try await id in try await store.client.query("SELECT id FROM jobs ORDER BY seq", logger: PG.quiet).decode(UUID.self) {
            out.append(id)
        }
        return out
    }

    @Test func aLongSubmissionGoesInWholeInInputOrder() async throws {
        try await PG.withDatabase { _, store in
            let jobs = Self.varied(12_001)   // more than two statements' worth
            let outcome = try await store.submit(jobs, idempotencyKey: "long")
            #expect(outcome.inserted == jobs.count && outcome.ids.count == jobs.count && Set(outcome.ids).count == jobs.count)
            #expect(try await idsBySeq(store) == outcome.ids, "seq follows the input, across statements")
            for i in [0, 1, 3, 5, 7, 11, 5000, 5001, 12_000] {
                let d = try #require(try await store.job(id: outcome.ids[i]))
                let j = jobs[i]
                #expect(d.parameters == j.parameters && d.priority == j.priority && d.maxAttempts == j.maxAttempts, "job \(i)")
                #expect(d.label == j.label && d.prompt == j.prompt && d.className == j.className, "job \(i)")
                if let at = j.runAfter { #expect(abs(d.runAfter.timeIntervalSince(at)) < 0.001, "job \(i)") }
                else { #expect(d.runAfter < Date().addingTimeInterval(60), "job \(i) is due now") }
            }
            // A re-run under the key inserts nothing and answers the first run's ids, in order.
            let again = try await store.submit(jobs, idempotencyKey: "long")
            #expect(again.inserted == 0 && again.ids == outcome.ids)
            #expect(try await store.count("jobs") == jobs.count)
        }
    }

    @Test func errorsStillNameTheLine() async throws {
        try await PG.withDatabase { _, store in
            var jobs = Self.varied(30)
            jobs[20].label = jobs[3].label   // line 21 repeats line 4's label
            do {
                _ = try await store.submit(jobs)
                Issue.record("a label used twice went in")
            } catch let e as SubmitError {
                #expect(e.line == 21 && "\(e)".contains("line 21, label: 'bulk-3'") && "\(e)".contains("line 4"), "\(e)")
            }
            #expect(try await store.count("jobs") == 0, "nothing of the submission went in")
            // A label already in the queue is refused before the insert, naming its line as before.
            _ = try await store.submit([jobs[3]])
            do {
                _ = try await store.submit(Self.varied(10))
                Issue.record("a taken label went in")
            } catch let e as SubmitError {
                #expect(e.line == 4, "\(e)")
            }
        }
    }

    /// A JSONL submission (`zipar-submit --format jsonl`) forms a batch, as POST /api/batches does; a
    /// re-run under its key answers the same batch; a text submission forms none.
    @Test func aSubmissionCanFormABatch() async throws {
        try await PG.withDatabase { _, store in
            let jobs = Self.varied(12)
            let first = try await store.submit(jobs, idempotencyKey: "b", batchRequestSHA256: "sha")
            let batchID = try #require(first.batchID)
            let batch = try #require(try await store.batch(id: batchID))
            #expect(batch.jobs == 12 && batch.counts.values.reduce(0, +) == 12)
            let results = try await store.batchResults(id: batchID, onlyFinished: false)
            #expect(results.map(\.jobID) == first.ids.map(\.text))
            #expect(results.map(\.customID) == jobs.map(\.customID))

            let again = try await store.submit(jobs, idempotencyKey: "b", batchRequestSHA256: "sha")
            #expect(again.batchID == batchID && again.inserted == 0)
            #expect(try await store.count("batches") == 1)
            #expect(try await store.submit([job(1)]).batchID == nil)
        }
    }
}
