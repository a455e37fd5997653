import Foundation
import JobCore
import JobStore
import Runner
import Testing
import TestSupport

/// Issue 21, item 3: a stop is bounded by grace + 2 s in every database state. `UnreachableQueue` stands in
/// for a database that stops answering (a connect or query that waits without end, as against a server
/// whose host is gone): from `down = true` on, every call hangs and ignores cancellation.
final class UnreachableQueue: JobQueue {
    let inner: InMemoryJobQueue
    let down: Locked<Bool>
    init(_ inner: InMemoryJobQueue, down: Bool = false) { self.inner = inner; self.down = Locked(down) }

    private func gate() async {
        guard down.current else { return }
        // Not cancellable, like a socket read: only the caller's own bound gets it out.
        await Task { try? await Task.sleep(nanoseconds: 120_000_000_000) }.value
    }
    func registerWorker(id: String, host: String, pid: Int, models: [String], queues: [String], leaseSeconds: Double,
                        version: String?, loadFailures: [String: String]) async throws {
        await gate()
        try await inner.registerWorker(id: id, host: host, pid: pid, models: models, queues: queues, leaseSeconds: leaseSeconds,
                                       version: version, loadFailures: loadFailures)
    }
    func workerStopped(id: String) async throws { await gate(); try await inner.workerStopped(id: id) }
    func claim(limit: Int, queues: [String], models: [String], owner: String, leaseSeconds: Double) async throws -> [ClaimedJob] {
        await gate(); return try await inner.claim(limit: limit, queues: queues, models: models, owner: owner, leaseSeconds: leaseSeconds)
    }
    func heartbeat(worker: String, tokens: [UUID], leaseSeconds: Double) async throws -> Set<UUID> {
        await gate(); return try await inner.heartbeat(worker: worker, tokens: tokens, leaseSeconds: leaseSeconds)
    }
    func complete(_ job: ClaimedJob, output: JobOutput, worker: String) async throws {
        await gate(); try await inner.complete(job, output: output, worker: worker)
    }
    func fail(_ job: ClaimedJob, error: String, permanent: Bool, worker: String, backoff: Double?) async throws -> FailOutcome {
        await gate(); return try await inner.fail(job, error: error, permanent: permanent, worker: worker, backoff: backoff)
    }
    func release(_ jobs: [ClaimedJob]) async throws -> Int { await gate(); return try await inner.release(jobs) }
    func rescueExpired(graceSeconds: Double) async throws -> [(UUID, JobState)] {
        await gate(); return try await inner.rescueExpired(graceSeconds: graceSeconds)
    }
    func pendingCount(queues: [String], models: [String]) async throws -> Int {
        await gate(); return try await inner.pendingCount(queues: queues, models: models)
    }
    func pausedQueuedCount(queues: [String], models: [String]) async throws -> Int {
        await gate(); return try await inner.pausedQueuedCount(queues: queues, models: models)
    }
    func listenForJobs(_ onNotify: @Sendable () -> Void) async throws { await gate(); try await Task.sleep(nanoseconds: 1_000_000_000) }
}

@Suite(.enabled(if: ProcessInfo.processInfo.environment["ZIPAR_TIMING_TESTS"] == "1",
                "wall-clock bounds: scripts/test.sh runs them on their own, where no other suite's compute delays the timers"))
struct ShutdownBoundTests {
    func options(grace: Double) -> WorkerOptions {
        var o = WorkerOptions(id: "w", host: "test", queues: ["default"])
        o.graceSeconds = grace; o.pollSeconds = 0.05; o.leaseSeconds = 60
        return o
    }

    /// Jobs in flight, then the database goes away, then SIGTERM: the worker returns within grace + 2 s
    /// (it used to take 66 s) and leaves the leases to expire.
    @Test func stopWhileTheDatabaseIsDownIsBounded() async throws {
        let inner = InMemoryJobQueue()
        let ids = inner.submit((0..<3).map { job($0) })
        let queue = UnreachableQueue(inner)
        let w = Worker(store: queue, options: options(grace: 1), executors: [FakeExecutor(model: "m", capacity: 3, passes: 1_000_000)],
                       logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        while w.counters.current.claimed < 3 { try await Task.sleep(nanoseconds: 10_000_000) }
        queue.down.withLock { $0 = true }
        let stopped = Date()
        stop.trigger()
        await run.value
        let took = Date().timeIntervalSince(stopped)
        // The bound is grace + 2 s; the slack covers a test runner whose cooperative threads are busy with
        // other suites' kernels (the timers fire late then, not the worker), far below the 66 s it was.
        #expect(took < 1 + 2 + 2.5, "stop took \(took) s")
        // Nothing could be handed back: the leases are left to expire (the jobs read running until rescued).
        #expect(ids.allSatisfy { inner.state(of: $0) == .running })
        #expect(w.counters.current.released == 0)
    }

    /// SIGTERM while the worker is still connecting (registration hangs): it returns at once.
    @Test func stopWhileConnectingReturnsAtOnce() async throws {
        let queue = UnreachableQueue(InMemoryJobQueue(), down: true)
        let w = Worker(store: queue, options: options(grace: 5), executors: [FakeExecutor(model: "m")], logger: PG.quiet)
        let stop = StopSignal()
        let run = Task { await w.run(stop: stop) }
        try await Task.sleep(nanoseconds: 200_000_000)
        let stopped = Date()
        stop.trigger()
        await run.value
        // "At once" with slack for a loaded test runner (the whole suite shares two cooperative threads);
        // it used to wait ~37 s for the connect.
        #expect(Date().timeIntervalSince(stopped) < 3, "a stop during connect waited")
    }

    /// With the database up, a stop during a stuck pass hands every held job back, every time (it used to
    /// race with the lane's own release and leave jobs running until rescued).
    @Test func theHandBackHoldsEveryTime() async throws {
        for round in 0..<5 {
            let queue = InMemoryJobQueue()
            let ids = queue.submit((0..<8).map { job($0) })
            let w = Worker(store: queue, options: options(grace: 0.2),
                           executors: [FakeExecutor(model: "m", capacity: 8, passes: 1_000, stepSleep: 1.0)], logger: PG.quiet)
            let stop = StopSignal()
            let run = Task { await w.run(stop: stop) }
            while w.counters.current.claimed < 8 { try await Task.sleep(nanoseconds: 10_000_000) }
            try await Task.sleep(nanoseconds: UInt64(round) * 50_000_000)
            stop.trigger()
            await run.value
            #expect(ids.allSatisfy { queue.state(of: $0) == .queued && queue.attempts(of: $0) == 0 }, "round \(round)")
            #expect(w.counters.current.released == 8, "round \(round)")
        }
    }
}
