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
/// a LISTEN connection. All queue logic of `zipar-worker` lives here, so it is tested with any executor
/// against `InMemoryJobQueue` or the real PostgreSQL `JobStore`.
public final class Worker: Sendable {
    let store: any JobQueue
    public let options: WorkerOptions
    let lanes: [Lane]
    let logger: Logger
    let doorbell = Doorbell()
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
        self.lanes = executors.map { ExecutorBox($0) }.map { box in
            Lane(box: box, queue: store, options: options, counters: counters, logger: logger)
        }
    }

    /// Runs until `stop` (then finishes or releases jobs in flight within the grace period) or, with
    /// `drain`, until no work is left. Never throws for database trouble: it logs and retries.
    ///
    /// Shutdown is bounded in every database state: `run` returns at most `graceSeconds + 2` seconds after
    /// `stop` is set. Jobs still held then are handed back when the database answers in time; otherwise a
    /// log line says so and their leases are left to expire (other workers take them within a lease).
    public func run(stop: StopSignal) async {
        let models = lanes.map(\.box.model)
        guard await register(models: models, stop: stop) else {
            logger.info("stopped before the database answered: no job was held", metadata: ["worker": "\(options.id)"])
            return
        }
        logger.info("worker started", metadata: ["worker": "\(options.id)", "models": "\(models)",
                                                 "queues": "\(options.queues)", "drain": "\(options.drain)"])
        let background = [
            Task { await self.heartbeatLoop() },
            Task { await self.rescueLoop() },
            Task { await self.listenLoop() },
        ]
        let laneTasks = lanes.map { lane in Task { await lane.run(stop: stop, doorbell: self.doorbell) } }
        await waitForLanes(laneTasks, stop: stop)
        for t in background { t.cancel() }
        let bound = stop.setAt.map { $0.addingTimeInterval(options.graceSeconds + 2) } ?? Date().addingTimeInterval(5)
        await handBack(until: bound.addingTimeInterval(-0.5))
        let id = options.id
        if await bounded(until: bound, { try await self.store.workerStopped(id: id) }) == nil {
            logger.warning("database did not answer: the worker is not marked stopped (it shows as silent until its heartbeat ages out)")
        }
        let c = counters.current
        logger.info("worker stopped", metadata: ["worker": "\(options.id)", "completed": "\(c.completed)",
                                                 "failed": "\(c.failed)", "lease_lost": "\(c.leaseLost)",
                                                 "released": "\(c.released)"])
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
                                               version: options.version)
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

    /// Waits for every lane to end. After a stop request the wait is bounded by the grace period (plus a
    /// little for a lane to leave its loop): a lane stuck in a pass, or in a write to a database that does
    /// not answer, is left behind and its jobs are handed back by `handBack`.
    private func waitForLanes(_ tasks: [Task<Void, Never>], stop: StopSignal) async {
        @Sendable func all() async { for t in tasks { await t.value } }
        // Until the lanes end on their own (drain, broken model) or a stop is asked for...
        guard await bounded(until: nil, orStop: stop, all) == nil, let stoppedAt = stop.setAt else { return }
        // ...then at most the grace period from the stop.
        if await bounded(until: stoppedAt.addingTimeInterval(options.graceSeconds + 0.5), all) == nil {
            logger.warning("stopping without waiting for a busy lane (a pass, decode or database write outlived the grace period)")
        }
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

    private func heartbeatLoop() async {
        let interval = heartbeatInterval
        var first = true
        while !Task.isCancelled {
            if !first { try? await Task.sleep(nanoseconds: UInt64(interval * 1e9)) }
            first = false
            if Task.isCancelled { return }
            let now = Date()
            var held: [(Lane, ClaimedJob)] = []
            // The watchdog times what can hang separately: a pass (it holds every job being decoded)
            // and each image's render (it holds only that job). Past --step-timeout-seconds their leases
            // are not extended, so other workers take those jobs over once they expire.
            for lane in lanes {
                let rendering = lane.rendering.current
                var passHung = false
                if let started = lane.stepStarted.current, now.timeIntervalSince(started) > options.stepTimeoutSeconds {
                    passHung = true
                    logger.error("decode pass hung; not extending the leases of the jobs in it", metadata: [
                        "model": "\(lane.box.model)", "pass_seconds": "\(Int(now.timeIntervalSince(started)))"])
                }
                for job in lane.leases.current.held.values {
                    if let entry = rendering[job.id] {
                        if let started = entry, now.timeIntervalSince(started) > options.stepTimeoutSeconds {
                            logger.error("image render hung; not extending its lease", metadata: [
                                "job": "\(job.id.text)", "render_seconds": "\(Int(now.timeIntervalSince(started)))"])
                            counters.withLock { $0.hungLeases += 1 }
                            continue
                        }
                    } else if passHung {
                        counters.withLock { $0.hungLeases += 1 }
                        continue
                    }
                    held.append((lane, job))
                }
            }
            do {
                let valid = try await store.heartbeat(worker: options.id, tokens: held.map(\.1.leaseToken),
                                                      leaseSeconds: options.leaseSeconds)
                for (lane, job) in held where !valid.contains(job.leaseToken) { lane.markLost(job) }
                heartbeatsOKSince.withLock { if $0 == nil { $0 = Date() } }
            } catch {
                heartbeatsOKSince.withLock { $0 = nil }
                options.observer?.heartbeatFailed()
                logger.warning("heartbeat failed", metadata: ["error": "\(describeError(error))"])
            }
        }
    }

    private func rescueLoop() async {
        while !Task.isCancelled {
            // After a database outage every lease has run out. Rescue only once our own heartbeats have
            // worked for a whole lease: by then every live worker has reconnected and renewed its
            // leases, so only the dead ones' jobs are taken (no job runs twice for an outage).
            let okSince = heartbeatsOKSince.current
            if okSince == nil || Date().timeIntervalSince(okSince!) < max(options.leaseSeconds, 1.5 * heartbeatInterval) {
                try? await Task.sleep(nanoseconds: UInt64(min(options.rescueSeconds, heartbeatInterval) * 1e9))
                continue
            }
            do {
                let rescued = try await store.rescueExpired(graceSeconds: options.leaseSeconds)
                for (id, state) in rescued {
                    logger.warning("rescued expired lease", metadata: ["job": "\(id.text)", "now": "\(state.rawValue)"])
                }
                if !rescued.isEmpty { doorbell.ring() }
            } catch {
                logger.debug("rescue failed", metadata: ["error": "\(describeError(error))"])
            }
            try? await Task.sleep(nanoseconds: UInt64(options.rescueSeconds * 1e9))
        }
    }

    private func listenLoop() async {
        while !Task.isCancelled {
            do {
                try await store.listenForJobs { [doorbell] in doorbell.ring() }
            } catch {
                logger.debug("LISTEN connection ended", metadata: ["error": "\(describeError(error))"])
            }
            try? await Task.sleep(nanoseconds: 1_000_000_000)
        }
    }
}

