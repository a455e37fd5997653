import Foundation

/// A mutex-protected value: the one lock type of the job side (JobCore, Runner, Telemetry).
///
/// `@unchecked Sendable` is sound here: `value` is read and written only inside `withLock`, under `lock`,
/// and `Value` must itself be Sendable, so a copy handed out of the lock (`current`, a closure's result)
/// can cross tasks too. (Not the standard library's `Mutex`: that needs macOS 15, the package supports 14.)
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
    public var current: Value { withLock { $0 } }
}
