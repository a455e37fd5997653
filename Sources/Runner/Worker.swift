import Foundation
import JobStore
import Logging

/// Counters for logs and tests.
public struct WorkerCounters: Sendable, Equatable {
    public var claimed = 0
    public var completed = 0
    public var failed = 0
    public var leaseLost = 0
    public var released = 0
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
    public func run(stop: StopSignal) async {
        let models = lanes.map(\.box.model)
        var delay = 0.5
        while !stop.isSet {
            do {
                try await store.registerWorker(id: options.id, host: options.host,
                                               pid: Int(ProcessInfo.processInfo.processIdentifier),
                                               models: models, queues: options.queues)
                break
            } catch {
                logger.warning("database not ready (retrying)", metadata: ["error": "\(describeError(error))"])
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)); delay = min(delay * 2, 5)
            }
        }
        logger.info("worker started", metadata: ["worker": "\(options.id)", "models": "\(models)",
                                                 "queues": "\(options.queues)", "drain": "\(options.drain)"])
        let background = [
            Task { await self.heartbeatLoop() },
            Task { await self.rescueLoop() },
            Task { await self.listenLoop() },
        ]
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes {
                group.addTask { await lane.run(stop: stop, doorbell: self.doorbell) }
            }
        }
        for t in background { t.cancel() }
        try? await store.workerStopped(id: options.id)
        let c = counters.current
        logger.info("worker stopped", metadata: ["worker": "\(options.id)", "completed": "\(c.completed)",
                                                 "failed": "\(c.failed)", "lease_lost": "\(c.leaseLost)",
                                                 "released": "\(c.released)"])
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
            for lane in lanes {
                if let started = lane.stepStarted.current, now.timeIntervalSince(started) > options.stepTimeoutSeconds {
                    logger.error("decode pass hung; not extending this model's leases", metadata: [
                        "model": "\(lane.box.model)", "pass_seconds": "\(Int(now.timeIntervalSince(started)))"])
                    continue
                }
                held += lane.leases.current.values.map { (lane, $0) }
            }
            do {
                let valid = try await store.heartbeat(worker: options.id, tokens: held.map(\.1.leaseToken),
                                                      leaseSeconds: options.leaseSeconds)
                for (lane, job) in held where !valid.contains(job.leaseToken) { lane.markLost(job) }
                heartbeatsOKSince.withLock { if $0 == nil { $0 = Date() } }
            } catch {
                heartbeatsOKSince.withLock { $0 = nil }
                logger.warning("heartbeat failed", metadata: ["error": "\(describeError(error))"])
            }
        }
    }

    private func rescueLoop() async {
        while !Task.isCancelled {
            let okSince = heartbeatsOKSince.current
            if okSince == nil || Date().timeIntervalSince(okSince!) < 1.5 * heartbeatInterval {
                try? await Task.sleep(nanoseconds: UInt64(min(options.rescueSeconds, heartbeatInterval) * 1e9))
                continue
            }
            do {
                let rescued = try await store.rescueExpired()
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

