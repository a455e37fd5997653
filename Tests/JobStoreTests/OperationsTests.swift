import Foundation
import JobCore
import JobStore
import Testing
import TestSupport

/// What an operator does beside submitting and working: look at one job, list, label, cancel and retry
/// with a reason per id, queues made explicitly, purge that keeps what was never exported, liveness.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct OperationsTests {
    func labelled(_ label: String, _ cls: Int = 1) -> JobSpec {
        var j = job(cls)
        j.label = label; j.prompt = "dress label=\(label)"; j.className = "dress"
        return j
    }

    @Test func showTellsEverythingAboutOneJob() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([labelled("look-1")]).ids[0]
            let j = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30).first)
            _ = try await store.fail(j, error: "boom", permanent: false, worker: "w", backoff: 0)
            let k = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30).first)
            try await store.complete(k, output: tinyOutput, worker: "w")
            let d = try #require(try await store.job(id: id))
            #expect(d.label == "look-1" && d.prompt == "dress label=look-1" && d.className == "dress" && d.state == .done)
            #expect(d.parameters == job(1).parameters && d.attempts == 2)
            #expect(d.errors.count == 1 && d.errors[0].error == "boom" && d.errors[0].attempt == 1)
            #expect(d.result?.passes == 3 && d.result?.worker == "w" && d.result?.exportedAt == nil)
            #expect(try await store.job(id: UUID()) == nil)
        }
    }

    @Test func jobsFilterByQueueStateLabelAndAge() async throws {
        try await PG.withDatabase { _, store in
            try await store.createQueue("b")
            var other = labelled("x-1"); other.queue = "b"
            _ = try await store.submit([labelled("a-1"), labelled("a-2"), other])
            #expect(try await store.jobs(JobFilter()).count == 3)
            #expect(try await store.jobs(JobFilter(queue: "b")).map(\.label) == ["x-1"])
            #expect(try await store.jobs(JobFilter(labelPrefix: "a-")).count == 2)
            #expect(try await store.jobs(JobFilter(states: [.done])).isEmpty)
            #expect(try await store.jobs(JobFilter(sinceSeconds: 3600, limit: 1)).count == 1)
        }
    }

    @Test func labelsAreUniquePerQueue() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([labelled("same")])
            await #expect(throws: SubmitError.self) { try await store.submit([labelled("same")]) }
            try await store.createQueue("other")
            var elsewhere = labelled("same"); elsewhere.queue = "other"
            #expect(try await store.submit([elsewhere]).inserted == 1)
            #expect(try await store.count("jobs") == 2)
        }
    }

    @Test func idempotencyKeyWithOtherContentIsRefused() async throws {
        try await PG.withDatabase { _, store in
            let a = try await store.submit([job(1), job(2)], idempotencyKey: "k")
            let again = try await store.submit([job(1), job(2)], idempotencyKey: "k")
            #expect(again.ids == a.ids && again.inserted == 0)
            await #expect(throws: SubmitError.self) { try await store.submit([job(3), job(4), job(5)], idempotencyKey: "k") }
            await #expect(throws: SubmitError.self) { try await store.submit([job(1), job(7)], idempotencyKey: "k") }
            #expect(try await store.count("jobs") == 2)
        }
    }

    @Test func queuesAreCreatedExplicitly() async throws {
        try await PG.withDatabase { _, store in
            var j = job(1); j.queue = "typo"
            await #expect(throws: SubmitError.self) { try await store.submit([j]) }
            await #expect(throws: SubmitError.self) { try await store.setPaused(queue: "typo", true) }
            #expect(try await store.queues().map(\.name) == ["default"])
            _ = try await store.submit([j], createQueues: true)
            await #expect(throws: SubmitError.self) { try await store.deleteQueue("typo", withJobs: false) }
            #expect(try await store.deleteQueue("typo", withJobs: true) == 1)
            #expect(try await store.queues().map(\.name) == ["default"])
        }
    }

    @Test func cancelAndRetrySayWhatHappenedToEachID() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2)]).ids
            let done = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30).first)
            try await store.complete(done, output: tinyOutput, worker: "w")
            let ghost = UUID()
            let out = try await store.cancel(ids: [ids[0], ids[1], ghost])
            #expect(out.map(\.outcome) == ["already final (done)", "cancelled", "unknown"])
            #expect(out.map(\.changed) == [false, true, false])
            let back = try await store.retry(ids: [ids[1], ids[0]])
            #expect(back.map(\.outcome) == ["requeued", "is done, not failed or cancelled"])
        }
    }

    @Test func purgeKeepsWhatWasNeverExported() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2), job(3)]).ids
            for j in try await store.claim(limit: 3, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30) {
                try await store.complete(j, output: tinyOutput, worker: "w")
            }
            try await store.markExported(id: ids[0])
            #expect(try await store.exportIDs(JobFilter(states: [.done]), onlyNew: true).count == 2)
            let dry = try await store.purge(olderThan: 0, dryRun: true)
            #expect(dry.map(\.0) == [ids[0]] && dry[0].1 == .done)
            #expect(try await store.count("jobs") == 3)
            #expect(try await store.purge(olderThan: 0, filter: JobFilter(queue: "nope")).isEmpty)
            #expect(try await store.count("job_events") == 3)
            #expect(try await store.purge(olderThan: 0).map(\.0) == [ids[0]])
            #expect(try await store.count("jobs") == 2)
            #expect(try await store.count("job_events") == 2, "the purged job's completion event goes with it")
        }
    }

    @Test func delayedJobsWaitForTheirTime() async throws {
        try await PG.withDatabase { _, store in
            var later = job(1); later.runAfter = Date().addingTimeInterval(3600)
            let ids = try await store.submit([later, job(2)]).ids
            let claimed = try await store.claim(limit: 2, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30)
            #expect(claimed.map(\.id) == [ids[1]])
            let d = try #require(try await store.job(id: ids[0]))
            #expect(d.runAfter > Date().addingTimeInterval(3500))
        }
    }

    @Test func livenessFollowsTheWorkersOwnLease() async throws {
        try await PG.withDatabase { _, store in
            try await store.recordWorker(id: "short", host: "h", pid: 1, models: ["m"], queues: ["default"], leaseSeconds: 1)
            try await store.recordWorker(id: "long", host: "h", pid: 2, models: ["m"], queues: ["default"], leaseSeconds: 60)
            try await Task.sleep(nanoseconds: 1_500_000_000)
            let ws = Dictionary(uniqueKeysWithValues: try await store.workers().map { ($0.id, $0.liveness) })
            #expect(ws["short"] == .silent && ws["long"] == .live)
            #expect(try await store.stats().liveWorkers.map(\.id) == ["long"])
        }
    }

    @Test func stageTimesAreRecordedAndSummarised() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1)]).ids[0]
            let j = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30).first)
            var out = tinyOutput
            out.stages = StageSeconds(gpt: 0.5, vq: 0.25, png: 0.125)
            try await store.complete(j, output: out, worker: "w")
            let r = try #require(try await store.job(id: id)?.result)
            #expect(r.gptMs == 500 && r.vqMs == 250 && r.pngMs == 125 && (r.queueMs ?? -1) >= 0)
            let stages = try #require(try await store.stats().stageMs)
            #expect(stages["vq"]?.p50 == 250 && stages["queue"] != nil)
        }
    }

    /// Jobs for a model no live worker serves do not wait silently: stats names them.
    @Test func queuedJobsNobodyServesAreReported() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1, model: "m"), job(2, model: "orphan"), job(3, model: "orphan")])
            try await store.recordWorker(id: "w", host: "h", pid: 1, models: ["m"], queues: ["default"], leaseSeconds: 60)
            let s = try await store.stats()
            #expect(s.unserved == [UnservedJobs(queue: "default", model: "orphan", queued: 2)])
        }
    }
}
