import Foundation
import JobCore

/// The two serial queues an executor lives on: one for its passes (and starts and cancels), one for
/// rendering finished images. A forward pass blocks its thread for as long as it computes (seconds, or
/// for ever when it hangs), so it runs here and not on the Swift concurrency pool, whose few threads the
/// heartbeats, the database and the other lanes need meanwhile.
///
/// `@unchecked Sendable` is sound: every stored property is immutable, and the executor (a non-Sendable
/// class with mutable state) is touched only inside blocks on `passQueue`, a serial queue, which orders
/// every access as a lock would. It is private, so no other path to it exists. The render queue runs
/// `ImageWork` closures only, which are Sendable and do not touch the executor.
final class ExecutorQueues: @unchecked Sendable {
    private let executor: any JobExecutor
    let model: String
    let capacity: Int
    private let passQueue: DispatchQueue
    private let renderQueue: DispatchQueue

    init(_ executor: any JobExecutor) {
        self.executor = executor
        self.model = executor.model
        self.capacity = max(1, executor.capacity)
        self.passQueue = DispatchQueue(label: "zipar.decode.\(executor.model)")
        self.renderQueue = DispatchQueue(label: "zipar.render.\(executor.model)")
    }

    /// Runs `body` on the pass queue and returns its result. For short calls (start, cancel) made while
    /// no pass is queued: it would wait behind one.
    func run<T: Sendable>(_ body: @escaping @Sendable (any JobExecutor) -> T) async -> T {
        await withCheckedContinuation { c in
            passQueue.async { c.resume(returning: body(self.executor)) }
        }
    }

    /// Queues `body` on the pass queue without waiting for it (a pass, whose result `body` sends on; or
    /// cancels nobody waits for).
    func enqueue(_ body: @escaping @Sendable (any JobExecutor) -> Void) {
        passQueue.async { body(self.executor) }
    }

    /// Runs `body` on the render queue, in order, without waiting for it.
    func render(_ body: @escaping @Sendable () -> Void) {
        renderQueue.async(execute: body)
    }
}
