import Foundation
import JobCore
import JobStore
import Logging

/// Counters for logs and tests.
public struct WorkerCounters: Sendable, Equatable {
    public var claimed = 0
    public var completed = 0
    public var failed = 0
    public var leaseLost = 0
    public var released = 0
    /// Draining: queued jobs left in paused queues when the lanes stopped (the worker exits non-zero).
    public var pausedQueued = 0
    /// Lanes that stopped because their model broke after loading (the worker exits non-zero).
    public var brokenModels = 0
    /// Leases a heartbeat did not extend because the pass or render holding them ran past the step timeout.
    public var hungLeases = 0
}

/// The worker: one lane per model (claim -> decode -> write), plus heartbeats, the lease rescuer and
/// a LISTEN connection, all children of one task group (`runTasks`). All queue logic of `zipar-worker`
/// lives here, so it is tested with any executor against `InMemoryJobQueue` or the real PostgreSQL `JobStore`.
public final class Worker: Sendable {
    let store: any JobQueue
    public let options: WorkerOptions
    let lanes: [Lane]
    let logger: Logger
    public let counters = Locked(WorkerCounters())
    /// Since when heartbeats have been succeeding (nil after a failure): after a database outage every
    /// lease has run out, so the rescuer waits until live workers have had a heartbeat to renew theirs.
    let heartbeatsOKSince = Locked<Date?>(nil)
    var heartbeatInterval: Double { options.heartbeatSeconds ?? options.leaseSeconds / 3 }

    public init(store: any JobQueue, options: WorkerOptions, executors: [any JobExecutor], logger: Logger) {
        self.store = store
        self.options = options
        self.logger = logger
        let counters = self.counters
        self.lanes = executors.map { ExecutorQueues($0) }.map { engine in
            Lane(engine: engine, queue: store, options: options, counters: counters, logger: logger)
        }
    }

    /// Runs until `stop` (then finishes or releases jobs in flight within the grace period) or, with
    /// `drain`, until no work is left. Never throws for database trouble: it logs and retries.
    ///
    /// Shutdown is bounded in every database state: `run` returns at most `graceSeconds + 2` seconds after
    /// `stop` is set. Jobs still held then are handed back when the database answers in time; otherwise a
    /// log line says so and their leases are left to expire (other workers take them within a lease).
    public func run(stop: StopSignal) async {
        let models = lanes.map(\.engine.model)
        guard await register(models: models, stop: stop) else {
            logger.info("stopped before the database answered: no job was held", metadata: ["worker": "\(options.id)"])
            return
        }
        logger.info("worker started", metadata: ["worker": "\(options.id)", "models": .array(models.map { .string($0) }),
                                                 "queues": .array(options.queues.map { .string($0) }),
                                                 "drain": .stringConvertible(options.drain)])
        await runTasks(stop: stop)
        let bound = stop.setAt.map { $0.addingTimeInterval(options.graceSeconds + 2) } ?? Date().addingTimeInterval(5)
        await handBack(until: bound.addingTimeInterval(-0.5))
        let id = options.id
        if await bounded(until: bound, { try await self.store.workerStopped(id: id) }) == nil {
            logger.warning("database did not answer: the worker is not marked stopped (it shows as silent until its heartbeat ages out)")
        }
        let c = counters.current
        logger.info("worker stopped", metadata: ["worker": "\(options.id)", "completed": .stringConvertible(c.completed),
                                                 "failed": .stringConvertible(c.failed), "lease_lost": .stringConvertible(c.leaseLost),
                                                 "released": .stringConvertible(c.released)])
    }

    /// The running worker: every lane, the heartbeat, the lease rescuer, the LISTEN connection and the
    /// shutdown deadline, as one task group. It ends when every lane has ended (stopped with nothing in
    /// flight, drained, or its model broke) or when the grace period after a stop runs out; the tasks
    /// still running then are cancelled, and none can hold the group: passes run on their executors' queues
    /// and report back by event, and every database call is left behind once cancelled (`untilCancelled`).
    private func runTasks(stop: StopSignal) async {
        enum Ended { case lane, background, graceOver }
        await withTaskGroup(of: Ended.self) { group in
            for lane in lanes { group.addTask { await lane.run(stop: stop); return .lane } }
            group.addTask { await self.heartbeatLoop(); return .background }
            group.addTask { await self.rescueLoop(); return .background }
            group.addTask { await self.listenLoop(); return .background }
            group.addTask { await self.graceDeadline(stop); return .graceOver }
            var lanesLeft = lanes.count
            while lanesLeft > 0, let ended = await group.next() {
                switch ended {
                case .lane: lanesLeft -= 1
                case .background: continue
                case .graceOver: lanesLeft = 0   // the lanes still running leave their jobs to the hand-back
                }
            }
            group.cancelAll()
        }
    }

    /// Wakes the lanes when a stop is asked for, then returns once the grace period from the stop is over
    /// (or when cancelled: the lanes ended first).
    private func graceDeadline(_ stop: StopSignal) async {
        await stop.wait()
        guard let stoppedAt = stop.setAt else { return }
        for lane in lanes { lane.wake() }
        let left = stoppedAt.addingTimeInterval(options.graceSeconds).timeIntervalSinceNow
        if left > 0 { try? await Task.sleep(nanoseconds: UInt64(left * 1e9)) }
    }

    /// Registers the worker, retrying while the database is unreachable; false when `stop` came first
    /// (a connect in progress is abandoned, not waited for).
    private func register(models: [String], stop: StopSignal) async -> Bool {
        var delay = 0.5
        let (store, options) = (self.store, self.options)
        while !stop.isSet {
            let outcome = await bounded(until: nil, orStop: stop) {
                try await store.registerWorker(id: options.id, host: options.host,
                                               pid: Int(ProcessInfo.processInfo.processIdentifier),
                                               models: models, queues: options.queues, leaseSeconds: options.leaseSeconds,
                                               version: options.version, loadFailures: options.loadFailures)
            }
            switch outcome {
            case .success?: return true
            case nil: return false
            case .failure(let error)?:
                logger.warning("database not ready (retrying)", metadata: ["error": "\(describeError(error))"])
                _ = await bounded(until: Date().addingTimeInterval(delay), orStop: stop) { await stop.wait() }
                delay = min(delay * 2, 5)
            }
        }
        return false
    }

    /// Releases every lease the lanes still hold (without spending an attempt), bounded by `deadline`.
    private func handBack(until deadline: Date) async {
        let held = lanes.flatMap { $0.takeLeases() }
        guard !held.isEmpty else { return }
        let store = self.store
        switch await bounded(until: deadline, { try await store.release(held) }) {
        case .success(let n)?:
            counters.withLock { $0.released += n }
            logger.warning("grace period over: handed jobs back to the queue", metadata: ["released": "\(n)", "held": "\(held.count)"])
        case .failure(let error)?:
            logger.error("cannot hand jobs back: their leases will expire and other workers take them over",
                         metadata: ["held": "\(held.count)", "lease_s": "\(options.leaseSeconds)", "error": "\(describeError(error))"])
        case nil:
            logger.error("database did not answer within the shutdown bound: leases left to expire (other workers take the jobs over)",
                         metadata: ["held": "\(held.count)", "lease_s": "\(options.leaseSeconds)",
                                    "jobs": "\(held.map(\.id.text).joined(separator: ","))"])
        }
    }
}
