import Foundation
import JobCore
import JobStore

public struct WorkerOptions: Sendable {
    public var id: String
    public var host: String
    public var queues: [String]
    public var leaseSeconds: Double = 30
    /// Heartbeat interval (default: a third of the lease).
    public var heartbeatSeconds: Double?
    public var pollSeconds: Double = 2
    public var rescueSeconds: Double = 5
    /// Exit when no queued or running jobs are left for this worker's models and queues.
    public var drain = false
    /// After a stop request: time to finish jobs in flight before they are released. It bounds the exit:
    /// the worker returns within it (plus a couple of seconds) even when a pass is still running.
    public var graceSeconds: Double = 30
    /// A decode pass, or one image's render, running longer than this is taken as hung: heartbeats stop
    /// extending the leases of the jobs it holds, so other workers rescue them once the leases expire.
    public var stepTimeoutSeconds: Double = 300
    /// The release this worker runs, shown by `zipar-admin workers` and the dashboard.
    public var version: String?
    /// Model -> error for the models that did not load here: recorded when the worker registers, so the
    /// workers page shows them as failed to load before any of their jobs fails.
    public var loadFailures: [String: String] = [:]
    /// Told about finished and failed jobs, load and heartbeat trouble (metrics); nil = nobody.
    public var observer: (any WorkerObserver)?

    public init(id: String, host: String, queues: [String]) {
        self.id = id; self.host = host; self.queues = queues
    }

    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(6).lowercased())"
    }
}


/// What a worker reports as it goes, for metrics. Called from the lanes' and the heartbeat's tasks.
public protocol WorkerObserver: Sendable {
    func jobCompleted(model: String, output: JobOutput)
    func jobFailed(model: String, permanent: Bool)
    /// Jobs a lane holds (decoding, rendering or waiting to be written), after each turn of its loop.
    func inFlight(model: String, count: Int)
    func heartbeatFailed()
}
