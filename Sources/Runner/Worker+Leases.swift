import Foundation
import JobCore
import JobStore
import Logging

/// The worker's background tasks: lease renewal (heartbeat and its watchdog), the rescue of expired
/// leases, and the LISTEN connection that wakes the lanes. Children of `Worker.runTasks`' group: they end
/// when it cancels them, at once, since every database call here is one the task can walk away from.
extension Worker {
    func heartbeatLoop() async {
        let interval = heartbeatInterval
        let (store, options) = (self.store, self.options)
        var first = true
        while !Task.isCancelled {
            // A timer, not a poll: leases are renewed every `interval`.
            if !first { try? await Task.sleep(nanoseconds: UInt64(interval * 1e9)) }
            first = false
            if Task.isCancelled { return }
            let held = leasesToRenew(now: Date())
            let tokens = held.map(\.1.leaseToken)
            switch await untilCancelled({ try await store.heartbeat(worker: options.id, tokens: tokens, leaseSeconds: options.leaseSeconds) }) {
            case nil:
                return
            case .success(let valid)?:
                for (lane, job) in held where !valid.contains(job.leaseToken) { lane.markLost(job) }
                heartbeatsOKSince.withLock { if $0 == nil { $0 = Date() } }
            case .failure(let error)?:
                heartbeatsOKSince.withLock { $0 = nil }
                options.observer?.heartbeatFailed()
                logger.warning("heartbeat failed", metadata: ["error": "\(describeError(error))"])
            }
        }
    }

    /// The leases to extend. The watchdog times what can hang separately: a pass (it holds every job being
    /// decoded) and each image's render (it holds only that job). Past --step-timeout-seconds their leases
    /// are not extended, so other workers take those jobs over once they expire.
    private func leasesToRenew(now: Date) -> [(Lane, ClaimedJob)] {
        var held: [(Lane, ClaimedJob)] = []
        for lane in lanes {
            let rendering = lane.rendering.current
            var passHung = false
            if let started = lane.stepStarted.current, now.timeIntervalSince(started) > options.stepTimeoutSeconds {
                passHung = true
                logger.error("decode pass hung; not extending the leases of the jobs in it", metadata: [
                    "model": "\(lane.engine.model)", "pass_seconds": "\(Int(now.timeIntervalSince(started)))"])
            }
            for job in lane.leases.current.held.values {
                if let entry = rendering[job.id] {
                    if let started = entry, now.timeIntervalSince(started) > options.stepTimeoutSeconds {
                        logger.error("image render hung; not extending its lease", metadata: [
                            "job": "\(job.id.text)", "render_seconds": "\(Int(now.timeIntervalSince(started)))"])
                        counters.withLock { $0.hungLeases += 1 }
                        continue
                    }
                } else if passHung {
                    counters.withLock { $0.hungLeases += 1 }
                    continue
                }
                held.append((lane, job))
            }
        }
        return held
    }

    func rescueLoop() async {
        let (store, leaseSeconds) = (self.store, options.leaseSeconds)
        while !Task.isCancelled {
            // After a database outage every lease has run out. Rescue only once our own heartbeats have
            // worked for a whole lease: by then every live worker has reconnected and renewed its
            // leases, so only the dead ones' jobs are taken (no job runs twice for an outage).
            let okSince = heartbeatsOKSince.current
            if okSince == nil || Date().timeIntervalSince(okSince!) < max(options.leaseSeconds, 1.5 * heartbeatInterval) {
                try? await Task.sleep(nanoseconds: UInt64(min(options.rescueSeconds, heartbeatInterval) * 1e9))
                continue
            }
            switch await untilCancelled({ try await store.rescueExpired(graceSeconds: leaseSeconds) }) {
            case nil:
                return
            case .success(let rescued)?:
                for (id, state) in rescued {
                    logger.warning("rescued expired lease", metadata: ["job": "\(id.text)", "now": "\(state.rawValue)"])
                }
                if !rescued.isEmpty { wakeLanes() }
            case .failure(let error)?:
                logger.debug("rescue failed", metadata: ["error": "\(describeError(error))"])
            }
            try? await Task.sleep(nanoseconds: UInt64(options.rescueSeconds * 1e9))
        }
    }

    /// Wakes the lanes on every NOTIFY of new jobs; reconnects a second after the connection ends.
    func listenLoop() async {
        let (store, lanes) = (self.store, self.lanes)
        while !Task.isCancelled {
            switch await untilCancelled({ try await store.listenForJobs { for lane in lanes { lane.wake() } } }) {
            case nil: return
            case .success?: break
            case .failure(let error)?: logger.debug("LISTEN connection ended", metadata: ["error": "\(describeError(error))"])
            }
            try? await Task.sleep(nanoseconds: 1_000_000_000)
        }
    }

    func wakeLanes() { for lane in lanes { lane.wake() } }
}
