import Foundation

/// Lets many waiters sleep until the next NOTIFY (`wakeAll`) or a timeout, whichever comes first. A
/// waiter passes the `generation` it read before it looked at the database, so a notification that came
/// in between wakes it at once instead of being missed. The timeout is the safety net: a reader that
/// wakes finds nothing new and sleeps again, so a lost notification costs latency, never an event.
public actor Wakeups {
    public private(set) var generation = 0
    private var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    private var nextWaiter = 0

    public init() {}

    public func wakeAll() {
        generation += 1
        let woken = waiters
        waiters = [:]
        for c in woken.values { c.resume(returning: true) }
    }

    /// Returns true when woken (now or since `since`), false after `seconds` without a wake-up.
    @discardableResult
    public func wait(since: Int, seconds: Double) async -> Bool {
        if generation != since { return true }
        let id = nextWaiter
        nextWaiter += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
            await self?.timeOut(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { waiters[id] = $0 }
    }

    private func timeOut(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume(returning: false)
    }
}
