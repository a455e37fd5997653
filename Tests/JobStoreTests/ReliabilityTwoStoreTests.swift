import Foundation
import JobStore
import Testing
import TestSupport

/// Issue 21, items 7 and 9, on the real store.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct ReliabilityTwoStoreTests {
    /// Item 7: key `K` and key `K#1` are different submissions; the count of `K`'s jobs must not include
    /// `K#1#0` (it used to: a prefix match refused a rerun of `K` "(4 jobs)").
    @Test func anIdempotencyKeyMatchesExactly() async throws {
        try await PG.withDatabase { _, store in
            let three = [job(1), job(2), job(3)]
            #expect(try await store.submit([job(4)], idempotencyKey: "K#1").inserted == 1)
            #expect(try await store.submit(three, idempotencyKey: "K").inserted == 3)
            let again = try await store.submit(three, idempotencyKey: "K")
            #expect(again.inserted == 0 && again.ids.count == 3)
            #expect(try await store.submit([job(4)], idempotencyKey: "K#1").inserted == 0)
        }
    }

    /// Item 9: a draining worker does not wait for jobs scheduled for later; it does wait for a retry's
    /// backoff (a job that already ran).
    @Test func scheduledJobsAreNotPendingForADrain() async throws {
        try await PG.withDatabase { _, store in
            var later = job(1)
            later.runAfter = Date().addingTimeInterval(7200)
            _ = try await store.submit([later])
            #expect(try await store.pendingCount(queues: ["default"], models: ["m"]) == 0)
            _ = try await store.submit([job(2)])
            #expect(try await store.pendingCount(queues: ["default"], models: ["m"]) == 1)
            let claimed = try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30)
            _ = try await store.fail(claimed[0], error: "boom", permanent: false, worker: "w", backoff: 3600)
            #expect(try await store.pendingCount(queues: ["default"], models: ["m"]) == 1, "a retry waiting out its backoff is pending")
        }
    }
}
