import Foundation

/// A job that cannot run. `permanent` errors (unknown class, bad policy) fail the job at once;
/// others are retried with backoff up to the job's max_attempts.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var permanent: Bool
    public init(_ message: String, permanent: Bool) { self.message = message; self.permanent = permanent }
    public var description: String { message }
}

/// The job's lease is gone (rescued after expiry, cancelled, or already finished): the write was refused.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public var jobID: UUID
    public init(jobID: UUID) { self.jobID = jobID }
    public var description: String { "lease on job \(jobID.text) was lost; result discarded" }
}

/// What `JobQueue.fail` did with the job: queued again after a backoff, or failed for good.
public enum FailOutcome: Sendable, Equatable {
    case retrying(after: Double)
    case failed
}
