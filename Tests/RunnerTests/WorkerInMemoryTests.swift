import Foundation
import JobCore
import JobStore
import Runner
import Testing
import TestSupport

/// The worker loop against `InMemoryJobQueue`: the same lease rules as PostgreSQL, no database, so these
/// run everywhere and fast. The real-database versions are in WorkerPostgresTests.
@Suite struct WorkerInMemoryTests {
    func options(_ id: String, drain: Bool = true) -> WorkerOptions {
        var o = WorkerOptions(id: id, host: "test", queues: ["default"])
        o.drain = drain
        o.leaseSeconds = 5
        o.pollSeconds = 0.05
        o.rescueSeconds = 0.1
        o.graceSeconds = 5
        return o
    }

    @Test func workersDrainQueueExactlyOnce() async throws {
        let queue = InMemoryJobQueue()
        let ids = queue.submit((0..<30).map { job($0 % 10, model: $0 % 2 == 0 ? "m" : "n") } + [job(12, model: "m")])
        // No lease may run out here, however busy the machine: a rescued job would record a lost lease first.
        var o = options("w")
        o.leaseSeconds = 120
        let workers = (0..<3).map { w -> Worker in
            o.id = "w\(w)"
            return Worker(store: queue, options: o,
                   executors: [FakeExecutor(model: "m", capacity: 3), FakeExecutor(model: "n", capacity: 2, passes: 5)],
                   logger: PG.quiet)
        }
        await withTaskGroup(of: Void.self) { group in
            for w in workers { group.addTask { await w.run(stop: StopSignal()) } }
        }
        #expect(ids.prefix(30).allSatisfy { queue.state(of: $0) == .done && queue.output(of: $0) != nil })
        #expect(queue.state(of: ids[30]) == .failed)                 // class 12: permanent error, recorded
        #expect(queue.errors(of: ids[30]).first?.contains("unknown class 12") == true)
        #expect(workers.map { $0.counters.current.completed }.reduce(0, +) == 30)
    }

    @Test func brokenModelFailsItsJobsOnly() async throws {
        let queue = InMemoryJobQueue()
        var broken = job(1, model: "broken")
        broken.maxAttempts = 2
        let ids = queue.submit([broken, job(2), job(3)])
        var o = options("w")
        o.leaseSeconds = 120               // no lease may run out here, however busy the machine
        let w = Worker(store: queue, options: o, executors: [BrokenFake(model: "broken"), FakeExecutor(model: "m")],
                       logger: PG.quiet)
        // Retries wait a backoff; the worker drains once the broken job runs out of attempts.
        await w.run(stop: StopSignal())
        #expect(queue.state(of: ids[0]) == .failed && queue.attempts(of: ids[0]) == 2)
        #expect(queue.state(of: ids[1]) == .done && queue.state(of: ids[2]) == .done)
        #expect(queue.errors(of: ids[0]).allSatisfy { $0.contains("failed to load") })
    }

    @Test func pausedQueueIsNotClaimed() async throws {
        let queue = InMemoryJobQueue()
        let ids = queue.submit([job(1)])
        queue.setPaused("default", true)
        let w = Worker(store: queue, options: options("w"), executors: [FakeExecutor(model: "m")], logger: PG.quiet)
        await w.run(stop: StopSignal())                               // drain: nothing runnable for it
        #expect(queue.state(of: ids[0]) == .queued && w.counters.current.claimed == 0)
        // ...which is not "drained": the worker reports the job left in the paused queue.
        #expect(w.counters.current.pausedQueued == 1)
    }

    @Test func stopReleasesJobsInFlight() async throws {
        let queue = InMemoryJobQueue()
        let ids = queue.submit((0..<3).map { job($0) })
        var o = options("slow", drain: false)
        o.graceSeconds = 0.2
        let w = Worker(store: queue, options: o, executors: [FakeExecutor(model: "m", capacity: 2, passes: 1_000_000)], logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        while w.counters.current.claimed < 2 { try await Task.sleep(nanoseconds: 10_000_000) }
        stop.trigger()
        await run.value
        #expect(ids.allSatisfy { queue.state(of: $0) == .queued })
        #expect(w.counters.current.released == 2)
        #expect(ids.allSatisfy { queue.attempts(of: $0) == 0 })       // released without spending an attempt
    }

    @Test func lostLeaseIsDropped() async throws {
        let queue = InMemoryJobQueue()
        let id = queue.submit([job(1)])[0]
        var o = options("stalled", drain: false)
        o.heartbeatSeconds = 0.05
        let w = Worker(store: queue, options: o, executors: [FakeExecutor(model: "m", capacity: 1, passes: 1_000_000)], logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        while w.counters.current.claimed < 1 { try await Task.sleep(nanoseconds: 10_000_000) }
        queue.cancel(id)                                              // the lease goes away under the worker
        while w.counters.current.leaseLost < 1 { try await Task.sleep(nanoseconds: 10_000_000) }
        stop.trigger()
        await run.value
        #expect(queue.state(of: id) == .cancelled && queue.output(of: id) == nil)
        #expect(w.counters.current.released == 0)
    }

    @Test func reclaimedJobRestartsInsteadOfFailing() async throws {
        let queue = InMemoryJobQueue()
        let id = queue.submit([job(1)])[0]
        var o = options("w", drain: true)
        o.heartbeatSeconds = 30                     // the worker does not notice the lease change by itself
        let w = Worker(store: queue, options: o,
                       executors: [FakeExecutor(model: "m", capacity: 2, passes: 100, stepSleep: 0.01)], logger: PG.quiet)
        let run = Task { await w.run(stop: StopSignal()) }
        while w.counters.current.claimed < 1 { try await Task.sleep(nanoseconds: 5_000_000) }
        queue.cancel(id)
        queue.retry(id)
        await run.value
        #expect(queue.state(of: id) == .done)
        #expect(w.counters.current.claimed == 2 && w.counters.current.failed == 0)
    }

    /// Renders are timed one image at a time: four slow decodes finishing in one pass add up to more than
    /// the step timeout, yet no lease is held back as hung. (Leases are long so that a busy machine
    /// starving the heartbeat cannot decide the test; `hungLeases` is the watchdog's own verdict.)
    @Test func slowImageDecodesAreNotAHungPass() async throws {
        let queue = InMemoryJobQueue()
        let ids = queue.submit((0..<4).map { job($0) })
        var o = options("w")
        // 4 x 0.4 s = 1.6 s of renders in one pass exceed the 1.2 s timeout; each render alone keeps 0.8 s of
        // slack for a starved suite run (0.6 s left only 0.2 s, and a loaded run crossed it).
        o.stepTimeoutSeconds = 1.2
        o.leaseSeconds = 120
        o.heartbeatSeconds = 0.05
        let w = Worker(store: queue, options: o,
                       executors: [FakeExecutor(model: "m", capacity: 4, passes: 2, renderSleep: 0.4)], logger: PG.quiet)
        await w.run(stop: StopSignal())
        #expect(ids.allSatisfy { queue.state(of: $0) == .done })
        #expect(w.counters.current.hungLeases == 0 && w.counters.current.completed == 4)
    }

    /// ...while one render that runs past the step timeout does get its lease held back.
    @Test func aHungRenderLosesItsLeaseExtension() async throws {
        let queue = InMemoryJobQueue()
        let ids = queue.submit([job(1)])
        var o = options("w")
        o.stepTimeoutSeconds = 0.2
        o.leaseSeconds = 120
        o.heartbeatSeconds = 0.05
        let w = Worker(store: queue, options: o,
                       executors: [FakeExecutor(model: "m", capacity: 1, passes: 1, renderSleep: 4)], logger: PG.quiet)
        await w.run(stop: StopSignal())
        #expect(queue.state(of: ids[0]) == .done)
        #expect(w.counters.current.hungLeases > 0)
    }

    /// The grace period bounds the exit even while a pass is stuck: the jobs are handed back.
    @Test func graceBoundsTheExitWithAStuckPass() async throws {
        let queue = InMemoryJobQueue()
        let ids = queue.submit((0..<2).map { job($0) })
        var o = options("stuck", drain: false)
        o.graceSeconds = 0.3
        let w = Worker(store: queue, options: o,
                       executors: [FakeExecutor(model: "m", capacity: 2, passes: 1_000, stepSleep: 30)], logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        while w.counters.current.claimed < 2 { try await Task.sleep(nanoseconds: 10_000_000) }
        try await Task.sleep(nanoseconds: 100_000_000)                // the first 30 s pass is under way
        let stopped = Date()
        stop.trigger()
        await run.value
        // grace 0.3 s + the 2 s margin; far below the pass it did not wait for (the bound is loose
        // because the whole suite shares two cores).
        #expect(Date().timeIntervalSince(stopped) < 15)
        #expect(ids.allSatisfy { queue.state(of: $0) == .queued && queue.attempts(of: $0) == 0 })
        #expect(w.counters.current.released == 2)
    }
}
