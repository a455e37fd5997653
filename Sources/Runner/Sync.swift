import Foundation

/// A mutex-protected value.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
    public var current: Value { withLock { $0 } }
}

/// Set once to ask the worker to stop claiming and wind down.
public final class StopSignal: Sendable {
    private let flag = Locked(false)
    public init() {}
    public func trigger() { flag.withLock { $0 = true } }
    public var isSet: Bool { flag.current }
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

