import Foundation
import JobCore

/// The PostgreSQL store is the production `JobQueue`: every other requirement is a method of `JobStore`.
extension JobStore: JobQueue {
    public func registerWorker(id: String, host: String, pid: Int, models: [String], queues: [String], leaseSeconds: Double,
                               version: String?, loadFailures: [String: String]) async throws {
        try await checkSchema()
        try await recordWorker(id: id, host: host, pid: pid, models: models, queues: queues, leaseSeconds: leaseSeconds,
                               version: version, loadFailures: loadFailures)
    }
}
