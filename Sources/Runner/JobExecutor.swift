import Foundation
import JobStore

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

