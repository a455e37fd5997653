import Foundation
import JobCore
import JobStore
import Testing
import TestSupport

/// Issue 24: a job with `run_at` in the future is scheduled, not queued, wherever the store reports states,
/// and it does not age its queue; the operator commands say what happened to each id.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct ScheduledJobsTests {
    /// One job due now, one due in two hours.
    static func dueAndLater(_ store: JobStore) async throws -> (due: UUID, later: UUID) {
        var later = job(2)
        later.runAfter = Date().addingTimeInterval(7200)
        let ids = try await store.submit([job(1), later]).ids
        return (ids[0], ids[1])
    }

    @Test func aJobDueLaterIsScheduledInCountsListsAndDetails() async throws {
        try await PG.withDatabase { _, store in
            let (due, later) = try await Self.dueAndLater(store)
            let counts = try #require(try await store.queues().first?.counts)
            #expect(counts == [.queued: 1, .scheduled: 1])
            #expect(try await store.stats().queues.first?.counts == counts)
            #expect(try await store.jobs(JobFilter(states: [.scheduled])).map(\.id) == [later.text])
            #expect(try await store.jobs(JobFilter(states: [.queued])).map(\.id) == [due.text])
            #expect(try await store.job(id: later)?.state == .scheduled)
            #expect(try await store.job(id: due)?.state == .queued)
            // Claims still see the stored state: the due job only.
            let claimed = try await store.claim(limit: 5, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30)
            #expect(claimed.map(\.id) == [due])
            // A scheduled job can be cancelled like a queued one.
            #expect(try await store.cancel(ids: [later]).map(\.outcome) == [IDOutcome.cancelled])
        }
    }

    /// The batch API's counts use the same states: a job of the batch due later is scheduled, not queued,
    /// and the batch is not finished while it waits.
    @Test func aBatchCountsItsJobsDueLaterAsScheduled() async throws {
        try await PG.withDatabase { _, store in
            var later = job(2)
            later.runAfter = Date().addingTimeInterval(7200)
            let created = try await store.createBatch([job(1), later], requestSHA256: "s", idempotencyKey: nil)
            #expect(created.batch.counts == [.queued: 1, .scheduled: 1])
            let claimed = try await store.claim(limit: 5, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30)
            try await store.complete(try #require(claimed.first), output: tinyOutput, worker: "w")
            let id = try #require(UUID(uuidString: created.batch.id))
            let batch = try #require(try await store.batch(id: id))
            #expect(batch.counts == [.done: 1, .scheduled: 1] && batch.finishedAt == nil)
        }
    }

    @Test func onlyDueJobsAgeTheQueue() async throws {
        try await PG.withDatabase { _, store in
            var later = job(2)
            later.runAfter = Date().addingTimeInterval(7200)
            _ = try await store.submit([later])
            var depths = try await store.queueDepths()
            #expect(depths.map(\.state) == [.scheduled])
            #expect(depths.allSatisfy { $0.oldestQueuedSeconds == nil }, "a job due in 2 h is not waiting")
            _ = try await store.submit([job(1)])
            depths = try await store.queueDepths()
            let queued = try #require(depths.first { $0.state == .queued })
            #expect(queued.count == 1 && (queued.oldestQueuedSeconds ?? 99) < 60)
            #expect(depths.first { $0.state == .scheduled }?.count == 1)
        }
    }

    @Test func cancelSaysPerIDWhetherItWasCancelledAlreadyFinalOrUnknown() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1)]).ids[0]
            #expect(try await store.cancel(ids: [id]).map(\.outcome) == ["cancelled"])
            let ghost = UUID()
            let again = try await store.cancel(ids: [id, ghost])
            #expect(again.map(\.outcome) == ["already final (cancelled)", "unknown"])
            #expect(again.map(\.found) == [true, false] && again.allSatisfy { !$0.changed })
            // retry --failed gives outcomes of the same shape as retry by id.
            let requeued = try await store.retryAllFailed(queue: nil)
            #expect(requeued.isEmpty)
        }
    }

    @Test func aTakenLabelFailsNamingItsLineOrIsSkipped() async throws {
        try await PG.withDatabase { _, store in
            var hero = job(1); hero.label = "hero"
            _ = try await store.submit([hero])
            var again = job(2); again.label = "hero"; again.line = 3
            var fresh = job(3); fresh.label = "fresh"; fresh.line = 4
            do {
                _ = try await store.submit([fresh, again])
                Issue.record("a taken label must be refused")
            } catch let e as SubmitError {
                #expect(e.line == 3 && e.description.contains("line 3") && e.description.contains("hero"))
            }
            #expect(try await store.count("jobs") == 1, "nothing of a refused submission is inserted")
            let skipped = try await store.submit([fresh, again], onConflict: .skip)
            #expect(skipped.inserted == 1 && skipped.skipped == 1 && skipped.ids.count == 1)
            #expect(try await store.count("jobs") == 2)
        }
    }

    @Test func unservedJobsOfASubmissionNameTheirQueueAndModel() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2)]).ids
            #expect(try await store.unservedJobs(ids: ids) == [UnservedJobs(queue: "default", model: "m", queued: 2)])
            try await store.recordWorker(id: "w1", host: "h", pid: 1, models: ["other"], queues: ["default"])
            #expect(try await store.unservedJobs(ids: ids).count == 1, "a worker of another model does not serve them")
            try await store.recordWorker(id: "w2", host: "h", pid: 2, models: ["m"], queues: ["default"])
            #expect(try await store.unservedJobs(ids: ids).isEmpty)
        }
    }
}
