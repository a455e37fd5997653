import Foundation

/// The queue as a worker sees it: register, claim with leases, heartbeat, write results. `JobStore`
/// (PostgreSQL) is the real one; `InMemoryJobQueue` lets the worker loop be tested without a database.
/// Every write about a job carries its lease token and throws `LeaseLost` when the lease is gone.
public protocol JobQueue: Sendable {
    /// Checks the queue is usable (schema migrated) and records the worker; it counts as live while its
    /// heartbeats come within `leaseSeconds`. `loadFailures`: model -> error for the `models` that did not
    /// load (their jobs fail with that error), so operators see them as broken before any job does.
    func registerWorker(id: String, host: String, pid: Int, models: [String], queues: [String], leaseSeconds: Double,
                        version: String?, loadFailures: [String: String]) async throws
    func workerStopped(id: String) async throws
    /// Up to `limit` runnable jobs of unpaused `queues` for `models`, each under a fresh lease.
    func claim(limit: Int, queues: [String], models: [String], owner: String, leaseSeconds: Double) async throws -> [ClaimedJob]
    /// Extends the leases of `tokens`; returns those still valid.
    func heartbeat(worker: String, tokens: [UUID], leaseSeconds: Double) async throws -> Set<UUID>
    func complete(_ job: ClaimedJob, output: JobOutput, worker: String) async throws
    /// `backoff` nil: the store's own backoff for the attempt.
    func fail(_ job: ClaimedJob, error: String, permanent: Bool, worker: String, backoff: Double?) async throws -> FailOutcome
    /// Hands jobs back without spending an attempt; returns how many.
    func release(_ jobs: [ClaimedJob]) async throws -> Int
    /// Expired leases back to queued (or failed when out of attempts); after a database restart leases get
    /// `graceSeconds` to be renewed first.
    func rescueExpired(graceSeconds: Double) async throws -> [(UUID, JobState)]
    /// Queued or running jobs of unpaused `queues` for `models`.
    func pendingCount(queues: [String], models: [String]) async throws -> Int
    /// Queued jobs for `models` in paused `queues` (a draining worker cannot reach them).
    func pausedQueuedCount(queues: [String], models: [String]) async throws -> Int
    /// Calls `onNotify` when jobs may have arrived; returns when the connection ends.
    func listenForJobs(_ onNotify: @Sendable () -> Void) async throws
}
