import Foundation
import JobCore
import JobStore
import Logging
import Testing
import TestSupport

@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct JobStoreTests {
    @Test func migrateTwiceAndConcurrently() async throws {
        try await PG.withDatabase(migrate: false) { _, store in
            let ms = try Migration.load(directory: PG.migrationsDir)
            #expect(try await store.schemaVersion() == 0)
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 { group.addTask { try await store.migrate(ms) } }
                var all: [Int] = []
                for try await a in group { all += a }
                return all
            }
            #expect(applied.sorted() == ms.map(\.version))
            #expect(try await store.migrate(ms) == [])
            #expect(try await store.schemaVersion() == ms.last!.version)
            #expect(try await store.count("schema_version") == ms.count)
        }
    }

    @Test func submitIsAllOrNothing() async throws {
        try await PG.withDatabase { _, store in
            var bad = job(1)
            bad.maxAttempts = 0          // violates a CHECK: the whole submission must roll back
            await #expect(throws: (any Error).self) { try await store.submit([job(0), job(2), bad]) }
            let n = try await store.count("jobs")
            #expect(n == 0)
        }
    }

    @Test func idempotentResubmit() async throws {
        try await PG.withDatabase { _, store in
            let jobs = (0..<5).map { job($0) }
            let first = try await store.submit(jobs, idempotencyKey: "batch-1")
            #expect(first.inserted == 5 && first.ids.count == 5)
            let again = try await store.submit(jobs, idempotencyKey: "batch-1")
            #expect(again.inserted == 0 && again.ids == first.ids)
            #expect(try await store.count("jobs") == 5)
            let other = try await store.submit(jobs, idempotencyKey: "batch-2")
            #expect(other.inserted == 5)
            let plain = try await store.submit(jobs)
            #expect(plain.inserted == 5)
            #expect(try await store.count("jobs") == 15)
        }
    }

    @Test func concurrentClaimersNeverShareAJob() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit((0..<200).map { job($0 % 10) })
            let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for w in 0..<8 {
                    group.addTask {
                        var mine: [UUID] = []
                        while true {
                            let got = try await store.claim(limit: 3, queues: ["default"], models: ["m"], owner: "w\(w)", leaseSeconds: 30)
                            if got.isEmpty { return mine }
                            mine += got.map(\.id)
                        }
                    }
                }
                var all: [UUID] = []
                for try await ids in group { all += ids }
                return all
            }
            #expect(claimed.count == 200)
            #expect(Set(claimed).count == 200)
        }
    }

    @Test func pausedQueuesAndOtherModelsAreSkipped() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(0, queue: "a"), job(1, queue: "b"), job(2, queue: "b", model: "other")], createQueues: true)
            try await store.setPaused(queue: "a", true)
            let got = try await store.claim(limit: 10, queues: ["a", "b"], models: ["m"], owner: "w", leaseSeconds: 30)
            #expect(got.map(\.queue) == ["b"])
            #expect(try await store.pendingCount(queues: ["a", "b"], models: ["m"]) == 1)   // b's running job; a is paused
            try await store.setPaused(queue: "a", false)
            let more = try await store.claim(limit: 10, queues: ["a", "b"], models: ["m"], owner: "w", leaseSeconds: 30)
            #expect(more.map(\.queue) == ["a"])
            let qs = try await store.queues()
            #expect(qs.first { $0.name == "b" }?.counts[.queued] == 1)
        }
    }

    /// Every JobParameters field survives the job row: written and read back by column name.
    @Test func parametersRoundTripThroughTheJobRow() async throws {
        try await PG.withDatabase { _, store in
            var spec = job(7)
            spec.parameters = JobParameters(classLabel: 7, policy: .official(window: 6),
                                            sampling: SamplingParams(temperature: 0, topK: 40, topP: 0.9, minP: 0.05,
                                                                     cfgScale: 2.5, cfgInterval: 100),
                                            seed: 9_000_000_000)
            var plain = job(1)
            plain.parameters.sampling.cfgInterval = nil
            _ = try await store.submit([spec, plain])
            let claimed = try await store.claim(limit: 2, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30)
            #expect(try claimed[0].parameters.get() == spec.parameters)
            #expect(try claimed[1].parameters.get() == plain.parameters)
        }
    }

    @Test func priorityThenAge() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(0, priority: 0), job(1, priority: 5), job(2, priority: 0), job(3, priority: 9)]).ids
            var order: [UUID] = []
            while let j = try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30).first {
                order.append(j.id)
            }
            #expect(order == [ids[3], ids[1], ids[0], ids[2]])
        }
    }

    @Test func expiredLeaseIsRescuedAndStaleTokenRefused() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(4), job(5)])
            // A live lease is never rescued. Checked on a long lease: a short one may really run out before
            // the check when the whole suite starves this task.
            let live = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "C", leaseSeconds: 600).first)
            #expect(try await store.rescueExpired(graceSeconds: 0).isEmpty)
            let a = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "A", leaseSeconds: 0.5).first)
            let id = a.id
            #expect(a.attempt == 1 && id != live.id)
            try await Task.sleep(nanoseconds: 800_000_000)
            let rescued = try await store.rescueExpired(graceSeconds: 0)
            #expect(rescued.map(\.0) == [id] && rescued.first?.1 == .queued)
            let b = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "B", leaseSeconds: 30).first)
            #expect(b.id == id && b.attempt == 2 && b.leaseToken != a.leaseToken)
            // A wakes up late: its heartbeat, result and failure are all refused.
            #expect(try await store.heartbeat(worker: "A", tokens: [a.leaseToken], leaseSeconds: 30).isEmpty)
            await #expect(throws: LeaseLost.self) { try await store.complete(a, output: tinyOutput, worker: "A") }
            await #expect(throws: LeaseLost.self) { try await store.fail(a, error: "late", permanent: false, worker: "A") }
            try await store.complete(b, output: tinyOutput, worker: "B")
            await #expect(throws: LeaseLost.self) { try await store.complete(b, output: tinyOutput, worker: "B") }
            #expect(try await store.count("results") == 1)
            #expect(try await store.states(of: [id])[id] == .done)
            #expect(try await store.png(id: id) == tinyOutput.png)
            let history = try #require(try await store.job(id: id))
            #expect(history.errors.contains { $0.error == "lease expired" })
        }
    }

    @Test func cancelledJobCannotBeCompleted() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1)]).ids[0]
            let a = try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "A", leaseSeconds: 30).first)
            #expect(try await store.cancel(ids: [id]).filter(\.changed).count == 1)
            await #expect(throws: LeaseLost.self) { try await store.complete(a, output: tinyOutput, worker: "A") }
            #expect(try await store.count("results") == 0)
            #expect(try await store.retry(ids: [id]).filter(\.changed).count == 1)
            #expect(try await store.states(of: [id])[id] == .queued)
        }
    }

    @Test func retriesWithBackoffThenFailed() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(2, maxAttempts: 3)]).ids[0]
            func claim() async throws -> ClaimedJob? {
                try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30).first
            }
            let a1 = try #require(try await claim())
            #expect(try await store.fail(a1, error: "boom 1", permanent: false, worker: "w", backoff: 60) == .retrying(after: 60))
            #expect(try await claim() == nil)               // backing off
            #expect(try await store.pendingCount(queues: ["default"], models: ["m"]) == 1)
            // A short backoff: claimable again shortly after.
            let id2 = try await store.submit([job(3, maxAttempts: 3)]).ids[0]
            for attempt in 1...3 {
                let j = try #require(try await claim())
                #expect(j.id == id2 && j.attempt == attempt)
                let outcome = try await store.fail(j, error: "boom \(attempt)", permanent: false, worker: "w", backoff: 0.2)
                #expect(outcome == (attempt < 3 ? .retrying(after: 0.2) : .failed))
                try await Task.sleep(nanoseconds: 300_000_000)
            }
            #expect(try await store.states(of: [id2])[id2] == .failed)
            let d = try #require(try await store.job(id: id2))
            #expect(d.state == .failed && d.attempts == 3)
            #expect(d.errors.map(\.error) == ["boom 1", "boom 2", "boom 3"])
            // A permanent error fails at once; retry --failed brings both back.
            _ = id
            let id3 = try await store.submit([job(5, maxAttempts: 9)]).ids[0]
            let p = try #require(try await claim())
            #expect(p.id == id3)
            #expect(try await store.fail(p, error: "unknown class", permanent: true, worker: "w") == .failed)
            #expect(try await store.retryFailed(queue: nil) == 2)
        }
    }

    @Test func statsAndWorkers() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit((0..<3).map { job($0) })
            try await store.recordWorker(id: "w1", host: "h", pid: 1, models: ["m"], queues: ["default"])
            for j in try await store.claim(limit: 3, queues: ["default"], models: ["m"], owner: "w1", leaseSeconds: 30) {
                try await store.complete(j, output: tinyOutput, worker: "w1")
            }
            let s = try await store.stats()
            #expect(s.results == 3 && s.passes == 9 && s.ntpPasses == 48)
            #expect(abs(s.passesSaved - (1 - 9.0 / 48)) < 1e-9)
            #expect(s.queues.first { $0.name == "default" }?.counts[.done] == 3)
            #expect(s.liveWorkers.map(\.id) == ["w1"] && s.liveWorkers[0].jobsDone == 3)
            #expect(s.latencyMs != nil)
            #expect(try await store.exportIDs(JobFilter(states: [.done]), onlyNew: false).count == 3)
            #expect(try await store.purge(olderThan: 3600).isEmpty)
            try await store.recordWorker(id: "w2", host: "h", pid: 2, models: ["m"], queues: ["default"])
            try await store.workerStopped(id: "w2")
            // Results never exported are kept unless asked for.
            #expect(try await store.purge(olderThan: 0).isEmpty)
            #expect(try await store.purge(olderThan: 0, includeUnexported: true).count == 3)
            #expect(try await store.count("results") == 0)
            // The live worker stays listed; the stopped one goes.
            #expect(try await store.workers().map(\.id) == ["w1"])
        }
    }
}
