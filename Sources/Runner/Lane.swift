import Foundation
import JobCore
import JobStore
import Logging

/// One model's lane: claim -> decode -> render -> write. This is the handle the worker, its heartbeat and
/// its hand-back hold: immutable, or behind locks, so plainly Sendable. The loop and its state are a
/// `LaneLoop`, owned by the one task that runs `run`; everything that loop waits for reaches it as a
/// `LaneEvent` through `events`.
final class Lane: Sendable {
    let engine: ExecutorQueues
    let queue: any JobQueue
    let options: WorkerOptions
    let logger: Logger
    let counters: Locked<WorkerCounters>
    /// Jobs this lane holds a lease on: decoding, rendering, or finished and waiting to be written. The
    /// heartbeat renews them and the worker's hand-back releases them.
    let leases = Locked(LeaseBook())
    /// When the pass in progress started (nil between passes), for the heartbeat's watchdog.
    let stepStarted = Locked<Date?>(nil)
    /// Jobs handed to the render queue, with the time their render started (nil while waiting), for the
    /// heartbeat's watchdog.
    let rendering = Locked([UUID: Date?]())
    /// The loop's one input, read by `run` only. Unbounded: a pass's or a render's result is never dropped.
    let events: AsyncStream<LaneEvent>
    let inbox: AsyncStream<LaneEvent>.Continuation
    /// A `.wake` is in `events`, not yet read: further rings add nothing to it.
    private let wakePending = Locked(false)

    init(engine: ExecutorQueues, queue: any JobQueue, options: WorkerOptions, counters: Locked<WorkerCounters>, logger: Logger) {
        self.engine = engine; self.queue = queue; self.options = options; self.counters = counters
        var l = logger
        l[metadataKey: "model"] = "\(engine.model)"
        self.logger = l
        let (events, inbox) = AsyncStream.makeStream(of: LaneEvent.self)
        self.events = events; self.inbox = inbox
    }

    /// Runs the lane until it is done (stopped with nothing in flight, drained, model broken) or its task
    /// is cancelled (the grace period after a stop ran out: what it holds is left to the hand-back).
    /// Call once: the lane's events have one reader.
    func run(stop: StopSignal) async {
        var loop = LaneLoop(lane: self, stop: stop)
        await loop.run()
        inbox.finish()
    }

    /// Jobs may have arrived (NOTIFY, rescued leases), or a stop was asked for: the lane takes a turn.
    func wake() {
        if wakePending.withLock({ pending in defer { pending = true }; return !pending }) { inbox.yield(.wake) }
    }

    /// The loop read the `.wake`: the next ring sends another.
    func wakeRead() { wakePending.withLock { $0 = false } }

    /// The heartbeat found `job`'s lease gone.
    func markLost(_ job: ClaimedJob) { inbox.yield(.leaseLost(token: job.leaseToken)) }

    /// Takes every lease this lane still holds, for the worker to hand back. A render or write still running
    /// finds its lease gone (the token no longer matches once released).
    /// The book is closed from then on: a claim that returns later hands its jobs straight back.
    func takeLeases() -> [ClaimedJob] {
        leases.withLock { l in let held = Array(l.held.values); l.held.removeAll(); l.closed = true; return held }
    }

    /// Forgets a lease, unless the job was claimed again since (a newer token).
    func dropLease(_ job: ClaimedJob) {
        leases.withLock { if $0.held[job.id]?.leaseToken == job.leaseToken { $0.held.removeValue(forKey: job.id) } }
    }

    /// A database call the lane can walk away from: it throws `CancellationError` as soon as the lane's
    /// task is cancelled, even when the call itself ignores cancellation (a socket that hangs).
    func database<T: Sendable>(_ call: @escaping @Sendable (any JobQueue) async throws -> T) async throws -> T {
        let queue = self.queue
        guard let outcome = await untilCancelled({ try await call(queue) }) else { throw CancellationError() }
        return try outcome.get()
    }
}

/// What wakes a lane's loop, in the order it happened.
enum LaneEvent: Sendable {
    /// A forward pass ended: the jobs whose tokens are complete (sent by the pass queue).
    case passFinished([(UUID, Result<ImageWork, JobError>)])
    /// An image was rendered (VQ decode, PNG) or failed to (sent by the render queue).
    case rendered(UUID, Result<JobOutput, JobError>)
    /// The heartbeat found this lease token gone (rescued, cancelled, finished elsewhere).
    case leaseLost(token: UUID)
    /// Jobs may have arrived, or a stop was asked for.
    case wake
    /// A wait's time ran out: the idle poll interval, or the retry after a database error.
    case timer
}

/// The leases a lane holds. `closed` once the worker took them for its hand-back.
struct LeaseBook {
    var held: [UUID: ClaimedJob] = [:]
    var closed = false
}
