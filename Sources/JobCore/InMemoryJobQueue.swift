import Foundation

/// A `JobQueue` in memory with the same lease rules as the PostgreSQL store (fresh token per claim, writes
/// refused without the current token, expired leases rescued, released jobs keep their attempt), so the
/// worker loop is unit-tested without a database. Not for production: nothing survives the process.
public final class InMemoryJobQueue: JobQueue {
    struct Entry {
        var id: UUID
        var spec: JobSpec
        var state: JobState = .queued
        var attempts = 0
        var runAfter = Date.distantPast
        var leaseToken: UUID?
        var leaseExpires: Date?
        var errors: [String] = []
        var output: JobOutput?
        var seq: Int
    }

    private let jobs = Locked([UUID: Entry]())
    private let pausedQueues = Locked(Set<String>())
    /// Every `listenForJobs` call waiting now, told on each submit or retry (its stream keeps one
    /// pending notice: several submits while the listener is busy wake it once).
    private let listeners = Locked([UUID: AsyncStream<Void>.Continuation]())

    public init() {}

    // MARK: test-side controls

    /// Inserts jobs (queued, in order); returns their ids.
    @discardableResult
    public func submit(_ specs: [JobSpec]) -> [UUID] {
        let ids = specs.map { _ in UUID() }
        jobs.withLock { all in
            let base = all.count
            for (n, (id, spec)) in zip(ids, specs).enumerated() {
                all[id] = Entry(id: id, spec: spec, runAfter: spec.runAfter ?? .distantPast, seq: base + n)
            }
        }
        notifyListeners()
        return ids
    }

    public func state(of id: UUID) -> JobState? { jobs.current[id]?.state }
    public func errors(of id: UUID) -> [String] { jobs.current[id]?.errors ?? [] }
    public func output(of id: UUID) -> JobOutput? { jobs.current[id]?.output }
    public func attempts(of id: UUID) -> Int { jobs.current[id]?.attempts ?? 0 }
    public func setPaused(_ queue: String, _ paused: Bool) {
        pausedQueues.withLock { if paused { $0.insert(queue) } else { $0.remove(queue) } }
    }

    /// Cancels a queued or running job (its worker loses the lease).
    public func cancel(_ id: UUID) {
        jobs.withLock { all in
            guard var e = all[id], e.state == .queued || e.state == .running else { return }
            e.state = .cancelled; e.leaseToken = nil; e.leaseExpires = nil
            all[id] = e
        }
    }

    /// A failed or cancelled job back to queued with fresh attempts.
    public func retry(_ id: UUID) {
        jobs.withLock { all in
            guard var e = all[id], e.state == .failed || e.state == .cancelled else { return }
            e.state = .queued; e.attempts = 0; e.runAfter = .distantPast
            all[id] = e
        }
        notifyListeners()
    }

    // MARK: JobQueue

    public func registerWorker(id: String, host: String, pid: Int, models: [String], queues: [String], leaseSeconds: Double,
                               version: String?, loadFailures: [String: String]) async throws {}
    public func workerStopped(id: String) async throws {}

    public func claim(limit: Int, queues: [String], models: [String], owner: String, leaseSeconds: Double) async throws -> [ClaimedJob] {
        let paused = pausedQueues.current
        let now = Date()
        return jobs.withLock { all in
            let runnable = all.values
                .filter { $0.state == .queued && $0.runAfter <= now && queues.contains($0.spec.queue)
                    && !paused.contains($0.spec.queue) && models.contains($0.spec.model) }
                .sorted { ($0.spec.priority, -$0.seq) > ($1.spec.priority, -$1.seq) }
                .prefix(max(limit, 0))
            return runnable.map { picked in
                var e = picked
                e.state = .running; e.attempts += 1
                e.leaseToken = UUID(); e.leaseExpires = now.addingTimeInterval(leaseSeconds)
                all[e.id] = e
                return ClaimedJob(id: e.id, queue: e.spec.queue, model: e.spec.model,
                                  parameters: Result { () throws(ParameterError) in
                                      try e.spec.parameters.validate(); return e.spec.parameters
                                  },
                                  priority: e.spec.priority, attempt: e.attempts, maxAttempts: e.spec.maxAttempts,
                                  leaseToken: e.leaseToken!, createdAt: now, label: e.spec.label)
            }
        }
    }

    public func heartbeat(worker: String, tokens: [UUID], leaseSeconds: Double) async throws -> Set<UUID> {
        let until = Date().addingTimeInterval(leaseSeconds)
        return jobs.withLock { all in
            var valid = Set<UUID>()
            for (id, var e) in all where e.state == .running {
                guard let t = e.leaseToken, tokens.contains(t) else { continue }
                e.leaseExpires = until
                all[id] = e
                valid.insert(t)
            }
            return valid
        }
    }

    /// Runs `body` on the job while `job`'s lease is current; throws `LeaseLost` otherwise.
    private func withLease<R>(_ job: ClaimedJob, _ body: (inout Entry) -> R) throws -> R {
        try jobs.withLock { all in
            guard var e = all[job.id], e.state == .running, e.leaseToken == job.leaseToken else {
                throw LeaseLost(jobID: job.id)
            }
            let r = body(&e)
            all[job.id] = e
            return r
        }
    }

    public func complete(_ job: ClaimedJob, output: JobOutput, worker: String) async throws {
        try withLease(job) { e in
            e.state = .done; e.output = output; e.leaseToken = nil; e.leaseExpires = nil
        }
    }

    public func fail(_ job: ClaimedJob, error: String, permanent: Bool, worker: String, backoff: Double?) async throws -> FailOutcome {
        let delay = backoff ?? retryBackoff(attempt: job.attempt)
        return try withLease(job) { e in
            e.errors.append(error); e.leaseToken = nil; e.leaseExpires = nil
            if permanent || e.attempts >= e.spec.maxAttempts { e.state = .failed; return .failed }
            e.state = .queued; e.runAfter = Date().addingTimeInterval(delay)
            return .retrying(after: delay)
        }
    }

    public func release(_ released: [ClaimedJob]) async throws -> Int {
        var n = 0
        for job in released {
            do {
                try withLease(job) { (e: inout Entry) -> Void in
                    e.state = .queued; e.attempts = max(e.attempts - 1, 0); e.leaseToken = nil; e.leaseExpires = nil
                    e.runAfter = .distantPast
                }
                n += 1
            } catch {}   // lease gone: nothing to hand back
        }
        return n
    }

    public func rescueExpired(graceSeconds: Double) async throws -> [(UUID, JobState)] {
        let now = Date()
        return jobs.withLock { all in
            var out: [(UUID, JobState)] = []
            for (id, var e) in all where e.state == .running && (e.leaseExpires ?? .distantFuture) < now {
                e.errors.append("lease expired"); e.leaseToken = nil; e.leaseExpires = nil
                e.state = e.attempts >= e.spec.maxAttempts ? .failed : .queued
                e.runAfter = .distantPast
                all[id] = e
                out.append((id, e.state))
            }
            return out
        }
    }

    public func pendingCount(queues: [String], models: [String]) async throws -> Int {
        let paused = pausedQueues.current
        let now = Date()
        // As SQL.pending: a job scheduled for later that never ran is not waited for.
        return jobs.current.values.filter {
            ($0.state == .running || ($0.state == .queued && ($0.runAfter <= now || $0.attempts > 0))) && queues.contains($0.spec.queue)
                && !paused.contains($0.spec.queue) && models.contains($0.spec.model)
        }.count
    }

    public func pausedQueuedCount(queues: [String], models: [String]) async throws -> Int {
        let paused = pausedQueues.current
        return jobs.current.values.filter {
            $0.state == .queued && queues.contains($0.spec.queue) && paused.contains($0.spec.queue) && models.contains($0.spec.model)
        }.count
    }

    /// Calls `onNotify` at once, then on every submit or retry, as a LISTEN connection would: it waits on
    /// a stream the submits write to (no polling). Returns, throwing `CancellationError`, when cancelled.
    public func listenForJobs(_ onNotify: @Sendable () -> Void) async throws {
        let (notices, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        listeners.withLock { $0[id] = continuation }
        defer { listeners.withLock { _ = $0.removeValue(forKey: id) } }
        onNotify()
        for await _ in notices { onNotify() }   // ends when the calling task is cancelled
        throw CancellationError()
    }

    private func notifyListeners() {
        for listener in listeners.current.values { listener.yield() }
    }
}
