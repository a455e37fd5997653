import Foundation
import JobCore
import JobStore
import Runner
import Testing
import TestSupport

/// Wake-ups reach waiting tasks as events, not through polling: a submit wakes an idle lane long before
/// its poll interval, a stop wakes it at once, and the grace period's deadline ends a lane whose job is
/// still rendering. The bounds are loose (seconds against a 60 s poll interval): a loaded test machine
/// delays timers, and the point is which of the two it waits for.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["ZIPAR_TIMING_TESTS"] == "1",
                "wall-clock bounds (a wake-up in time, a grace deadline): scripts/test.sh runs them on their own, where no other suite's compute delays the timers"))
struct WakeUpTests {
    func options(grace: Double = 30) -> WorkerOptions {
        var o = WorkerOptions(id: "w", host: "test", queues: ["default"])
        o.pollSeconds = 60                   // a lane that polled would not see anything in these tests
        o.leaseSeconds = 120
        o.graceSeconds = grace
        return o
    }

    /// Returns `body`'s value, or nil when it takes longer than `seconds` (so a lost wake-up fails the
    /// test instead of hanging it).
    func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async -> T) async -> T? {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await body() }
            group.addTask { try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9)); return nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func inMemoryQueueNotifiesAWaitingListenerOnSubmit() async throws {
        let queue = InMemoryJobQueue()
        let notices = Locked(0)
        let listener = Task { try await queue.listenForJobs { notices.withLock { $0 += 1 } } }
        func seen(_ n: Int) async -> Bool? {
            await within(5) { while notices.current < n { try? await Task.sleep(nanoseconds: 2_000_000) }; return true }
        }
        let first = await seen(1)                                    // the notice every listen starts with
        #expect(first == true)
        queue.submit([job(1)])
        let second = await seen(2)
        #expect(second == true, "a submit did not reach the waiting listener")
        listener.cancel()
        let ended = await within(5) { (try? await listener.value) == nil }
        #expect(ended == true, "a cancelled listener did not return")
    }

    @Test func anIdleWorkerTakesANewJobAtOnce() async throws {
        let queue = InMemoryJobQueue()
        let w = Worker(store: queue, options: options(), executors: [FakeExecutor(model: "m")], logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        try await Task.sleep(nanoseconds: 300_000_000)               // registered, claimed nothing, waiting
        let id = queue.submit([job(1)])[0]
        let done = await within(10) {
            while queue.state(of: id) != .done { try? await Task.sleep(nanoseconds: 10_000_000) }
            return true
        }
        #expect(done == true, "the submit did not wake the idle lane")
        let stopped = Date()
        stop.trigger()
        await run.value
        #expect(Date().timeIntervalSince(stopped) < 10, "the stop did not wake the idle lane")
        #expect(w.counters.current.completed == 1)
    }

    /// The grace period ends the worker's task group even while a job is still rendering: the lane is
    /// cancelled, the job handed back without spending an attempt, and the render's late result dropped.
    @Test func theGraceDeadlineEndsALaneWithARenderInFlight() async throws {
        let queue = InMemoryJobQueue()
        let id = queue.submit([job(1)])[0]
        let w = Worker(store: queue, options: options(grace: 0.3),
                       executors: [FakeExecutor(model: "m", capacity: 1, passes: 1, renderSleep: 10)], logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        while w.counters.current.claimed < 1 { try await Task.sleep(nanoseconds: 10_000_000) }
        try await Task.sleep(nanoseconds: 300_000_000)               // the 2 ms pass is over: rendering now
        let stopped = Date()
        stop.trigger()
        await run.value
        #expect(Date().timeIntervalSince(stopped) < 8, "the worker waited for the render")
        #expect(queue.state(of: id) == .queued && queue.attempts(of: id) == 0)
        #expect(w.counters.current.released == 1 && w.counters.current.completed == 0)
    }

    @Test func cancellingAWaitOnTheStopSignalEndsIt() async throws {
        let stop = StopSignal()
        let waiter = Task { await stop.wait() }
        waiter.cancel()
        let ended = await within(5) { await waiter.value; return true }
        #expect(ended == true)
        #expect(!stop.isSet)
    }
}
