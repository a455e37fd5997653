import Foundation
import JobCore
import JobStore
import Logging

/// A lane's loop and all of its state, owned by the one task that runs it (a struct in that task's frame:
/// nothing else can reach it). Each turn writes finished jobs, drops lost leases, claims into free places
/// and starts the next pass; then the loop waits for the next `LaneEvent` — a pass or a render that ended,
/// a lost lease, a wake-up (new jobs, a stop) or a timer it set itself. Passes run on the executor's pass
/// queue and renders on its render queue, so the next passes overlap the renders of the last ones; their
/// results come back as events. The executor is reached only between passes (starts, cancels).
struct LaneLoop {
    let lane: Lane
    let stop: StopSignal
    private var events: AsyncStream<LaneEvent>.Iterator

    /// Jobs in the executor.
    var decoding = Set<UUID>()
    /// Jobs on the render queue (the loop's own count; `lane.rendering` times them for the watchdog).
    var renders = Set<UUID>()
    /// Finished jobs kept until the database takes their result or refuses the lease.
    var toWrite: [(ClaimedJob, Result<JobOutput, JobError>)] = []
    /// Lease tokens the heartbeat found gone, acted on between passes.
    var lostTokens = Set<UUID>()
    /// A pass is queued or running; its `.passFinished` is due.
    var passRunning = false
    /// After a database error: no reads or writes before this.
    var dbRetryAt = Date.distantPast
    /// A stop was asked for: no more claims, and the loop ends once nothing is in flight.
    var stopping = false
    /// Renders that failed in a row. A model that breaks after loading (a file changed under it) fails
    /// every image: after `brokenAfter` in a row the lane stops claiming, so it fails at most the jobs it
    /// already held instead of the whole queue.
    var failedRenders = 0
    static let brokenAfter = 3

    init(lane: Lane, stop: StopSignal) {
        self.lane = lane; self.stop = stop
        self.events = lane.events.makeAsyncIterator()
    }

    var logger: Logger { lane.logger }
    var model: String { lane.engine.model }
    var holdsNothing: Bool { !passRunning && decoding.isEmpty && renders.isEmpty && toWrite.isEmpty }

    mutating func run() async {
        while true {
            guard !Task.isCancelled else { return leaveToHandBack() }
            lane.options.observer?.inFlight(model: model, count: lane.leases.current.held.count)
            await writeFinished()
            if !passRunning { await dropLostJobs() }
            if Task.isCancelled { return leaveToHandBack() }    // while it wrote to a database that hangs
            if stop.isSet && !stopping {
                stopping = true
                logger.info("stopping: finishing jobs in flight", metadata: ["in_flight": "\(decoding.count)",
                                                                            "grace_s": "\(lane.options.graceSeconds)"])
            }
            if stopping && holdsNothing { return }
            if failedRenders >= Self.brokenAfter && holdsNothing {
                lane.counters.withLock { $0.brokenModels += 1 }
                return
            }
            var claimed = 0
            if !passRunning {
                if !stopping { claimed = await claimJobs() }
                if !decoding.isEmpty && !Task.isCancelled { startPass() }
            }
            // What to wait for. A pass or render under way sends its own event; a timer only where the
            // next step is a time: the retry of a write, or the idle poll (NOTIFY usually comes first).
            let wakeAt: Date?
            if !toWrite.isEmpty {
                if Date() >= dbRetryAt { continue }                 // jobs the executor refused: write now
                wakeAt = dbRetryAt
            } else if holdsNothing {
                if claimed > 0 { continue }
                if lane.options.drain && !stopping, await isDrained() { return }
                wakeAt = Date().addingTimeInterval(lane.options.pollSeconds)
            } else {
                wakeAt = nil
            }
            guard let event = await next(wakeAt: wakeAt) else { return leaveToHandBack() }
            absorb(event)
        }
    }

    /// The next event, or a `.timer` at `wakeAt`; nil once the lane's task is cancelled.
    private mutating func next(wakeAt: Date?) async -> LaneEvent? {
        var timer: Task<Void, Never>?
        if let wakeAt {
            let inbox = lane.inbox
            timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, wakeAt.timeIntervalSinceNow) * 1e9))
                if !Task.isCancelled { inbox.yield(.timer) }
            }
        }
        // The timer lives no longer than this wait (a late `.timer` only costs an empty turn).
        defer { timer?.cancel() }
        return await events.next()
    }

    private mutating func absorb(_ event: LaneEvent) {
        switch event {
        case .passFinished(let finished):
            passRunning = false
            passEnded(finished)
        case .rendered(let id, let result):
            renders.remove(id)
            renderEnded(id, result)
        case .leaseLost(let token):
            lostTokens.insert(token)
        case .wake:
            lane.wakeRead()
        case .timer:
            break
        }
    }

    /// The grace period after a stop ran out (the worker cancelled this task): the leases stay in the book
    /// for the worker's hand-back (`Worker.handBack`), which is bounded in time. The cancels are queued
    /// behind the pass under way, not waited for: it may be a long one.
    private mutating func leaveToHandBack() {
        let ids = decoding
        decoding.removeAll()
        if !ids.isEmpty { lane.engine.enqueue { executor in for id in ids { executor.cancel(id) } } }
        if !ids.isEmpty || !renders.isEmpty || !toWrite.isEmpty {
            logger.warning("grace period over: leaving jobs in flight to the hand-back",
                           metadata: ["in_flight": "\(ids.count)", "rendering": "\(renders.count)", "unwritten": "\(toWrite.count)"])
        }
    }
}
