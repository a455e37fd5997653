import Foundation
import JobCore

/// Set once to ask the worker to stop claiming and wind down. `wait()` suspends until then (no polling);
/// `setAt` is when it was set, the start of the shutdown's time bound.
public final class StopSignal: Sendable {
    private struct State { var setAt: Date?; var waiters: [CheckedContinuation<Void, Never>] = [] }
    private let state = Locked(State())
    public init() {}
    public func trigger() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.setAt == nil else { return [] }
            s.setAt = Date()
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
    public var isSet: Bool { state.current.setAt != nil }
    public var setAt: Date? { state.current.setAt }
    /// Returns once the signal is set (at once when it already is).
    public func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.setAt != nil { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

/// Runs `operation` in a task of its own and returns its outcome, or nil when `deadline` passes or `stop`
/// is set first. The operation is then cancelled and left to end on its own: a database call that hangs
/// (a server gone, a connect that waits for its timeout) cannot hold the caller past the deadline.
func bounded<T: Sendable>(until deadline: Date?, orStop stop: StopSignal? = nil,
                          _ operation: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
    let answered = Locked<CheckedContinuation<Result<T, any Error>?, Never>?>(nil)
    @Sendable func answer(_ value: Result<T, any Error>?) {
        answered.withLock { c in c?.resume(returning: value); c = nil }
    }
    return await withCheckedContinuation { continuation in
        answered.withLock { $0 = continuation }
        let work = Task {
            do { answer(.success(try await operation())) } catch { answer(.failure(error)) }
        }
        if let deadline {
            Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, deadline.timeIntervalSinceNow) * 1e9))
                answer(nil); work.cancel()
            }
        }
        if let stop {
            Task { await stop.wait(); answer(nil); work.cancel() }
        }
    }
}

/// Wakes idle lanes (NOTIFY, rescued jobs).
final class Doorbell: Sendable {
    private let rings = Locked(0)
    func ring() { rings.withLock { $0 += 1 } }
    var count: Int { rings.current }
    /// Returns after a ring, a stop request, or `seconds`.
    func wait(seconds: Double, stop: StopSignal) async {
        let start = count
        let deadline = Date().addingTimeInterval(seconds)
        while count == start && !stop.isSet && Date() < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
    }
}

