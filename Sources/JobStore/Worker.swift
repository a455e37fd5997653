import Foundation
import Logging

/// Decodes jobs of one model. The worker calls it from one dedicated serial queue only (never from
/// the NIO event loops or the Swift concurrency pool), so implementations need no locking.
public protocol JobExecutor: AnyObject {
    /// The model name jobs carry (`config.json` "name").
    var model: String { get }
    /// Jobs decoded at the same time.
    var capacity: Int { get }
    /// Starts a job. Throw `JobError` for a job that cannot run (permanent: unknown class, bad policy).
    func start(_ job: ClaimedJob) throws
    /// One forward pass over everything in flight; returns the jobs that finished in it.
    func step() -> [(UUID, Result<JobOutput, JobError>)]
    /// Drops a job in flight (lease lost, cancelled, or shutting down).
    func cancel(_ id: UUID)
}

public struct WorkerOptions: Sendable {
    public var id: String
    public var host: String
    public var queues: [String]
    public var leaseSeconds: Double = 30
    /// Heartbeat interval (default: a third of the lease).
    public var heartbeatSeconds: Double?
    public var pollSeconds: Double = 2
    public var rescueSeconds: Double = 5
    /// Exit when no queued or running jobs are left for this worker's models and queues.
    public var drain = false
    /// After a stop request: time to finish jobs in flight before they are released.
    public var graceSeconds: Double = 30
    /// A decode pass running longer than this is taken as hung: heartbeats stop extending that
    /// model's leases, so other workers rescue its jobs once the leases expire.
    public var stepTimeoutSeconds: Double = 300

    public init(id: String, host: String, queues: [String]) {
        self.id = id; self.host = host; self.queues = queues
    }

    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(6).lowercased())"
    }
}

/// A mutex-protected value.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
    public var current: Value { withLock { $0 } }
}

/// Set once to ask the worker to stop claiming and wind down.
public final class StopSignal: Sendable {
    private let flag = Locked(false)
    public init() {}
    public func trigger() { flag.withLock { $0 = true } }
    public var isSet: Bool { flag.current }
}

/// Wakes idle lanes (NOTIFY, rescued jobs).
final class Doorbell: Sendable {
    private let rings = Locked(0)
    func ring() { rings.withLock { $0 += 1 } }
    var count: Int { rings.current }
    /// Returns after a ring, a stop request, or `seconds`.
    func wait(seconds: Double, stop: StopSignal) async {
        let start = count
        let deadline = Date().addingTimeInterval(seconds)
        while count == start && !stop.isSet && Date() < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
    }
}

/// The serial queue an executor lives on.
final class ExecutorBox: @unchecked Sendable {
    let executor: any JobExecutor
    let model: String
    let capacity: Int
    private let queue: DispatchQueue
    init(_ executor: any JobExecutor) {
        self.executor = executor
        self.model = executor.model
        self.capacity = max(1, executor.capacity)
        self.queue = DispatchQueue(label: "zipar.decode.\(executor.model)")
    }
    func run<T: Sendable>(_ body: @escaping @Sendable (any JobExecutor) -> T) async -> T {
        await withCheckedContinuation { c in
            queue.async { c.resume(returning: body(self.executor)) }
        }
    }
}

/// Counters for logs and tests.
public struct WorkerCounters: Sendable, Equatable {
    public var claimed = 0
    public var completed = 0
    public var failed = 0
    public var leaseLost = 0
    public var released = 0
}

/// The worker: one lane per model (claim -> decode -> write), plus heartbeats, the lease rescuer and
/// a LISTEN connection. All job-store logic of `zipar-worker` lives here so it can be tested with any executor.
public final class Worker: Sendable {
    let store: JobStore
    public let options: WorkerOptions
    let lanes: [Lane]
    let logger: Logger
    let doorbell = Doorbell()
    public let counters = Locked(WorkerCounters())
    /// Since when heartbeats have been succeeding (nil after a failure): after a database outage every
    /// lease has run out, so the rescuer waits until live workers have had a heartbeat to renew theirs.
    let heartbeatsOKSince = Locked<Date?>(nil)
    var heartbeatInterval: Double { options.heartbeatSeconds ?? options.leaseSeconds / 3 }

    public init(store: JobStore, options: WorkerOptions, executors: [any JobExecutor], logger: Logger) {
        self.store = store
        self.options = options
        self.logger = logger
        self.lanes = executors.map { ExecutorBox($0) }.map { box in
            Lane(box: box, store: store, options: options, logger: logger)
        }
    }

    /// Runs until `stop` (then finishes or releases jobs in flight within the grace period) or, with
    /// `drain`, until no work is left. Never throws for database trouble: it logs and retries.
    public func run(stop: StopSignal) async {
        let models = lanes.map(\.box.model)
        var delay = 0.5
        while !stop.isSet {
            do {
                try await store.checkSchema()
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
                group.addTask { await lane.run(stop: stop, doorbell: self.doorbell, counters: self.counters) }
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

/// Claim -> decode -> write for one model.
final class Lane: @unchecked Sendable {
    let box: ExecutorBox
    let store: JobStore
    let options: WorkerOptions
    let logger: Logger
    /// Jobs this lane holds a lease on: in the executor, or finished and waiting to be written.
    let leases = Locked([UUID: ClaimedJob]())
    /// When the pass in progress started (nil between passes).
    let stepStarted = Locked<Date?>(nil)
    /// Lease tokens the heartbeat found gone.
    private let lost = Locked(Set<UUID>())

    init(box: ExecutorBox, store: JobStore, options: WorkerOptions, logger: Logger) {
        self.box = box; self.store = store; self.options = options
        var l = logger
        l[metadataKey: "model"] = "\(box.model)"
        self.logger = l
    }

    func markLost(_ job: ClaimedJob) { lost.withLock { _ = $0.insert(job.leaseToken) } }

    /// Forgets a lease, unless the job was claimed again since (a newer token).
    private func dropLease(_ job: ClaimedJob) {
        leases.withLock { if $0[job.id]?.leaseToken == job.leaseToken { $0.removeValue(forKey: job.id) } }
    }

    func run(stop: StopSignal, doorbell: Doorbell, counters: Locked<WorkerCounters>) async {
        var decoding = Set<UUID>()                                  // in the executor
        var toWrite: [(ClaimedJob, Result<JobOutput, JobError>)] = []
        var dbRetryAt = Date.distantPast
        var deadline: Date?
        while true {
            // 1. Write finished jobs (kept until the database takes them or refuses the lease).
            if !toWrite.isEmpty && Date() >= dbRetryAt {
                var keep: [(ClaimedJob, Result<JobOutput, JobError>)] = []
                for (job, result) in toWrite {
                    do {
                        switch result {
                        case .success(let output):
                            try await store.complete(job, output: output, worker: options.id)
                            counters.withLock { $0.completed += 1 }
                            logger.info("job done", metadata: ["job": "\(job.id.text)", "passes": "\(output.passes)",
                                                               "ntp_passes": "\(output.ntpPasses)",
                                                               "decode_ms": "\(Int(output.decodeSeconds * 1000))"])
                        case .failure(let error):
                            let outcome = try await store.fail(job, error: error.message, permanent: error.permanent,
                                                               worker: options.id)
                            counters.withLock { $0.failed += 1 }
                            logger.error("job failed", metadata: ["job": "\(job.id.text)", "error": "\(error.message)",
                                                                  "outcome": "\(outcome)"])
                        }
                        dropLease(job)
                    } catch let e as LeaseLost {
                        counters.withLock { $0.leaseLost += 1 }
                        logger.warning("lease lost, result discarded", metadata: ["job": "\(e.jobID.text)"])
                        dropLease(job)
                    } catch {
                        logger.warning("cannot write result, will retry", metadata: ["job": "\(job.id.text)",
                                                                                    "error": "\(describeError(error))"])
                        keep.append((job, result))
                        dbRetryAt = Date().addingTimeInterval(1)
                    }
                }
                toWrite = keep
            }

            // 2. Drop jobs whose lease is gone.
            let gone = lost.withLock { s -> Set<UUID> in let v = s; s.removeAll(); return v }
            let goneJobs = leases.current.values.filter { gone.contains($0.leaseToken) && decoding.contains($0.id) }
            for job in goneJobs {
                let id = job.id
                decoding.remove(id)
                dropLease(job)
                await box.run { $0.cancel(id) }
                counters.withLock { $0.leaseLost += 1 }
                logger.warning("lease lost, job dropped", metadata: ["job": "\(id.text)"])
            }

            // 3. Stopping: finish what is in flight within the grace period, then hand the rest back.
            if stop.isSet {
                if deadline == nil {
                    deadline = Date().addingTimeInterval(options.graceSeconds)
                    logger.info("stopping: finishing jobs in flight", metadata: ["in_flight": "\(decoding.count)",
                                                                                "grace_s": "\(options.graceSeconds)"])
                }
                if decoding.isEmpty && toWrite.isEmpty { return }
                if Date() >= deadline! {
                    let held = leases.current.values.filter { decoding.contains($0.id) }
                    for job in held { await box.run { $0.cancel(job.id) } }
                    decoding.removeAll()
                    let n = (try? await store.release(Array(held))) ?? 0
                    counters.withLock { $0.released += n }
                    logger.warning("grace period over: released jobs", metadata: ["released": "\(n)",
                                                                                  "unwritten": "\(toWrite.count)"])
                    return
                }
            }

            // 4. Fill free places (continuous batching: a finished job's place goes to a new one).
            var claimedNow = 0
            let free = box.capacity - decoding.count
            if !stop.isSet && free > 0 && Date() >= dbRetryAt {
                do {
                    let jobs = try await store.claim(limit: free, queues: options.queues, models: [box.model],
                                                     owner: options.id, leaseSeconds: options.leaseSeconds)
                    claimedNow = jobs.count
                    counters.withLock { $0.claimed += jobs.count }
                    for job in jobs {
                        if decoding.contains(job.id) {
                            // Our old lease ran out (a database outage) and we won the job back: the
                            // old decode is void, start over under the new lease.
                            decoding.remove(job.id)
                            await box.run { $0.cancel(job.id) }
                            logger.warning("re-claimed a job whose lease had expired; restarting it",
                                           metadata: ["job": "\(job.id.text)"])
                        }
                        toWrite.removeAll { $0.0.id == job.id }
                        leases.withLock { $0[job.id] = job }
                        let started: JobError? = await box.run { ex in
                            do { try ex.start(job); return nil } catch let e as JobError { return e } catch {
                                return JobError("\(error)", permanent: true)
                            }
                        }
                        if let started {
                            toWrite.append((job, .failure(started)))
                        } else {
                            decoding.insert(job.id)
                            logger.info("job started", metadata: ["job": "\(job.id.text)", "class": "\(job.classLabel)",
                                                                  "policy": "\(job.policy)", "attempt": "\(job.attempt)"])
                        }
                    }
                } catch {
                    logger.warning("claim failed, database unavailable?", metadata: ["error": "\(describeError(error))"])
                    dbRetryAt = Date().addingTimeInterval(1)
                }
            }

            // 5. Decode one pass, or wait for work.
            if !decoding.isEmpty {
                stepStarted.withLock { $0 = Date() }
                let finished = await box.run { $0.step() }
                stepStarted.withLock { $0 = nil }
                for (id, result) in finished where decoding.contains(id) {
                    decoding.remove(id)
                    if let job = leases.current[id] { toWrite.append((job, result)) }
                }
            } else if !toWrite.isEmpty {
                try? await Task.sleep(nanoseconds: 200_000_000)
            } else if claimedNow == 0 {
                if options.drain && !stop.isSet && Date() >= dbRetryAt {
                    do {
                        if try await store.pendingCount(queues: options.queues, models: [box.model]) == 0 {
                            logger.info("queue drained")
                            return
                        }
                    } catch {
                        dbRetryAt = Date().addingTimeInterval(1)
                    }
                }
                await doorbell.wait(seconds: options.pollSeconds, stop: stop)
            }
        }
    }
}
