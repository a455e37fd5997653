import Foundation
import JobCore

/// Runs `operation` in a task of its own and returns its outcome, or nil when `deadline` passes, `stop` is
/// set or (with `orCancel`) the calling task is cancelled first. The operation is then cancelled and left
/// to end on its own: a database call that hangs (a server gone, a connect that waits for its timeout)
/// ignores cancellation, and must not hold the caller, or the task group it runs in, past its bound.
/// That abandoned task is the only unstructured one; the watchers are a task group that ends with the call.
func bounded<T: Sendable>(until deadline: Date?, orStop stop: StopSignal? = nil, orCancel: Bool = false,
                          _ operation: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
    let answer = FirstAnswer<Result<T, any Error>?>()
    let work = Task {
        do { answer.give(.success(try await operation())) } catch { answer.give(.failure(error)) }
    }
    let outcome = await withTaskCancellationHandler {
        await withTaskGroup(of: Void.self, returning: Result<T, any Error>?.self) { watchers in
            if let deadline {
                watchers.addTask {
                    try? await Task.sleep(nanoseconds: UInt64(max(0, deadline.timeIntervalSinceNow) * 1e9))
                    answer.give(nil)
                }
            }
            if let stop {
                watchers.addTask { await stop.wait(); answer.give(nil) }
            }
            let outcome = await answer.wait()
            watchers.cancelAll()
            return outcome
        }
    } onCancel: {
        if orCancel { answer.give(nil) }
    }
    if outcome == nil { work.cancel() }
    return outcome
}

/// `bounded` for the worker's own tasks: the outcome of `operation`, or nil once the calling task is
/// cancelled (the grace period ran out, or the worker is stopping its background tasks).
func untilCancelled<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
    await bounded(until: nil, orCancel: true, operation)
}

/// The first value given wins; `wait` returns it (at once when it is there already).
final class FirstAnswer<T: Sendable>: Sendable {
    private enum State: Sendable { case empty, waiting(CheckedContinuation<T, Never>), given(T) }
    private let state = Locked(State.empty)

    func give(_ value: T) {
        let waiter = state.withLock { s -> CheckedContinuation<T, Never>? in
            switch s {
            case .empty: s = .given(value); return nil
            case .waiting(let c): s = .given(value); return c
            case .given: return nil
            }
        }
        waiter?.resume(returning: value)
    }

    /// Call once.
    func wait() async -> T {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> T? in
                if case .given(let value) = s { return value }
                s = .waiting(c)
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}
