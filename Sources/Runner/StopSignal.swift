import Foundation
import JobCore

/// Set once to ask the worker to stop claiming and wind down (SIGTERM, SIGINT). `wait()` suspends until
/// then, or until the waiting task is cancelled (no polling); `setAt` is when it was set, the start of the
/// shutdown's time bound.
public final class StopSignal: Sendable {
    private struct State: Sendable {
        var setAt: Date?
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = Locked(State())
    public init() {}

    public func trigger() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.setAt == nil else { return [] }
            s.setAt = Date()
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    public var isSet: Bool { state.current.setAt != nil }
    public var setAt: Date? { state.current.setAt }

    /// Returns once the signal is set (at once when it already is) or the calling task is cancelled, so a
    /// task group waiting on it can end before any stop comes.
    public func wait() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                // Under the lock: a cancel handler that ran before this found no waiter, and
                // `Task.isCancelled` is already true by then, so the wait cannot be lost.
                let now = state.withLock { s -> Bool in
                    if s.setAt != nil || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
