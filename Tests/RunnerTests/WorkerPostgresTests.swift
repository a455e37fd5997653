import Foundation
import JobStore
import Runner
import Testing
import TestSupport

/// The worker loop against the real PostgreSQL (claims with SKIP LOCKED, leases, rescue), with fake executors.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct WorkerLoopTests {
    func options(_ id: String, drain: Bool = true) -> WorkerOptions {
        var o = WorkerOptions(id: id, host: "test", queues: ["default"])
        o.drain = drain
        o.leaseSeconds = 5
        o.pollSeconds = 0.2
        o.rescueSeconds = 0.5
        o.graceSeconds = 5
        return o
    }

    @Test func workersDrainQueueExactlyOnce() async throws {
        try await PG.withDatabase { _, store in
            let jobs = (0..<40).map { job($0 % 10, model: $0 % 2 == 0 ? "m" : "n") } + [job(12, model: "m")]
            let ids = try await store.submit(jobs).ids
            let workers = (0..<3).map { w in
                Worker(store: store, options: options("w\(w)"),
                       executors: [FakeExecutor(model: "m", capacity: 3), FakeExecutor(model: "n", capacity: 2, passes: 5)],
                       logger: PG.quiet)
            }
            await withTaskGroup(of: Void.self) { group in
                for w in workers { group.addTask { await w.run(stop: StopSignal()) } }
            }
            let states = try await store.states(of: ids)
            #expect(states.values.filter { $0 == .done }.count == 40)
            #expect(states[ids[40]] == .failed)          // class 12: permanent error, recorded
            #expect(try await store.count("results") == 40)
            #expect(workers.map { $0.counters.current.completed }.reduce(0, +) == 40)
            let failed = try #require(try await store.job(id: ids[40]))
            #expect(failed.errors.contains { $0.error.contains("unknown class 12") })
            #expect(try await store.workers().allSatisfy { $0.stoppedAt != nil })
        }
    }

    @Test func brokenModelFailsItsJobsOnly() async throws {
        try await PG.withDatabase { _, store in
            var broken = job(1, model: "broken")
            broken.maxAttempts = 2
            let ids = try await store.submit([broken, job(2, model: "m"), job(3, model: "m")]).ids
            let w = Worker(store: store, options: options("w"), executors: [BrokenFake(model: "broken"), FakeExecutor(model: "m")],
                           logger: PG.quiet)
            await w.run(stop: StopSignal())
            let states = try await store.states(of: ids)
            #expect(states[ids[0]] == .failed && states[ids[1]] == .done && states[ids[2]] == .done)
            let failed = try #require(try await store.job(id: ids[0]))
            #expect(failed.attempts == 2 && failed.errors.allSatisfy { $0.error.contains("failed to load") })
        }
    }

    // Timing: the hand-back has a wall-clock bound, so scripts/test.sh runs this on its own with the bounds.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ZIPAR_TIMING_TESTS"] == "1", "wall-clock bound: run alone by scripts/test.sh"))
    func stopReleasesJobsInFlight() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit((0..<3).map { job($0) }).ids
            var o = options("slow", drain: false)
            // The hand-back must finish by grace + 1.5 s after the stop: with a 0.3 s grace a starved suite run
            // (the whole suite on 2 busy cores) once ran out of that bound before the release answered. The
            // executor never finishes a job, so the grace still ends in a release.
            o.graceSeconds = 2
            // A lease that cannot run out here: a starved suite run may delay heartbeats past 5 s, and a rescued
            // job would spend an attempt, which is not what this test is about.
            o.leaseSeconds = 600
            let w = Worker(store: store, options: o, executors: [FakeExecutor(model: "m", capacity: 2, passes: 1_000_000)], logger: PG.quiet)
            let stop = StopSignal()
            let run = Task { await w.run(stop: stop) }
            while w.counters.current.claimed < 2 { try await Task.sleep(nanoseconds: 50_000_000) }
            stop.trigger()
            await run.value
            let states = try await store.states(of: ids)
            #expect(states.values.allSatisfy { $0 == .queued })
            #expect(w.counters.current.released == 2)
            // Released without spending an attempt.
            let j = try #require(try await store.claim(limit: 3, queues: ["default"], models: ["m"], owner: "x", leaseSeconds: 5).first)
            #expect(j.attempt == 1)
        }
    }

    @Test func lostLeaseIsDroppedAndJobRunsElsewhere() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1)]).ids[0]
            var o = options("stalled", drain: false)
            o.heartbeatSeconds = 0.2
            let w = Worker(store: store, options: o, executors: [FakeExecutor(model: "m", capacity: 1, passes: 1_000_000)], logger: PG.quiet)
            let stop = StopSignal()
            let run = Task { await w.run(stop: stop) }
            while w.counters.current.claimed < 1 { try await Task.sleep(nanoseconds: 50_000_000) }
            _ = try await store.cancel(ids: [id])             // the lease goes away under the worker
            while w.counters.current.leaseLost < 1 { try await Task.sleep(nanoseconds: 50_000_000) }
            stop.trigger()
            await run.value
            #expect(try await store.count("results") == 0)
            #expect(w.counters.current.released == 0)
        }
    }

    @Test func reclaimedJobRestartsInsteadOfFailing() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1)]).ids[0]
            var o = options("w", drain: true)
            o.heartbeatSeconds = 30                     // the worker does not notice the lease change by itself
            let w = Worker(store: store, options: o,
                           executors: [FakeExecutor(model: "m", capacity: 2, passes: 150, stepSleep: 0.01)], logger: PG.quiet)
            let run = Task { await w.run(stop: StopSignal()) }
            while w.counters.current.claimed < 1 { try await Task.sleep(nanoseconds: 20_000_000) }
            // The lease vanishes and the job is queued again (as after an outage and a rescue);
            // the same worker claims it back while its old decode is still in flight.
            #expect(try await store.cancel(ids: [id]).filter(\.changed).count == 1)
            #expect(try await store.retry(ids: [id]).filter(\.changed).count == 1)
            await run.value
            #expect(try await store.states(of: [id])[id] == .done)
            #expect(try await store.count("results") == 1)
            #expect(w.counters.current.claimed == 2 && w.counters.current.failed == 0)
        }
    }
}
