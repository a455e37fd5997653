import Foundation
import JobCore

/// Decodes jobs of one model. The worker calls it from one dedicated serial queue only (never from
/// the NIO event loops or the Swift concurrency pool), so implementations need no locking.
public protocol JobExecutor: AnyObject {
    /// The model name jobs carry (`config.json` "name").
    var model: String { get }
    /// Jobs decoded at the same time.
    var capacity: Int { get }
    /// Starts a job. Throw `JobError` for a job that cannot run (permanent: unknown class, bad policy).
    func start(_ job: ClaimedJob) throws
    /// One forward pass over everything in flight; returns the jobs whose tokens are complete, each with
    /// the work left to turn them into the stored image.
    func step() -> [(UUID, Result<ImageWork, JobError>)]
    /// Drops a job in flight (lease lost, cancelled, or shutting down).
    func cancel(_ id: UUID)
}

/// What is left of a job once its tokens are decoded: the image (VQ decode, PNG) and its stats. The
/// worker runs it on a queue of its own, beside the next passes of the other jobs, so a slow decode
/// neither stalls the batch nor counts as a hung pass.
public struct ImageWork: Sendable {
    public let render: @Sendable () -> Result<JobOutput, JobError>
    public init(_ render: @escaping @Sendable () -> Result<JobOutput, JobError>) { self.render = render }

    /// Work that is already done (executors whose output needs no decoding).
    public static func ready(_ output: JobOutput) -> ImageWork { ImageWork { .success(output) } }
}
