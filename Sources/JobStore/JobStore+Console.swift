import Foundation
import JobCore
import PostgresNIO

/// The operator's console (issue 24): the audit log, and bulk actions over every job a filter matches.
extension JobStore {
    /// The newest audit rows first.
    public func auditLog(limit: Int = 100, offset: Int = 0) async throws -> [AuditEntry] {
        var out: [AuditEntry] = []
        for try await row in try await client.query(SQL.auditLog(limit: limit, offset: offset), logger: logger) {
            let c = Columns(row)
            out.append(AuditEntry(id: try c("id"), at: try c("at"), actor: try c("actor"), action: try c("action"),
                                  target: try c("target"), count: try c("count"), detail: try c("detail")))
        }
        return out
    }

    /// How many jobs within `filter` the action would change now (its `limit` and `offset` are ignored).
    public func bulkCount(_ action: BulkAction, filter: JobFilter) async throws -> Int {
        try await first(SQL.bulkCount(action, filter), Int.self) ?? 0
    }

    /// The action on every job within `filter`, in one statement and one transaction with its audit row.
    /// With `expected` (the count the operator confirmed) a different count rolls everything back and throws
    /// `BulkCountChanged`: the operator never changes a set other than the one they saw counted. Returns the
    /// jobs changed by queue.
    public func bulk(_ action: BulkAction, filter: JobFilter, expected: Int?, audit: AuditNote?) async throws -> [String: Int] {
        let logger = self.logger
        return try await transaction { conn -> [String: Int] in
            var byQueue: [String: Int] = [:]
            for try await (queue, n) in try await conn.query(SQL.bulk(action, filter), logger: logger).decode((String, Int).self) {
                byQueue[queue] = n
            }
            let total = byQueue.values.reduce(0, +)
            if let expected, expected != total { throw BulkCountChanged(confirmed: expected, found: total) }
            if let audit { try await conn.query(SQL.insertAudit(audit, count: total), logger: logger) }
            // Delivered at commit: the workers of those queues look for the requeued jobs at once.
            if action == .retry { for queue in byQueue.keys.sorted() { try await conn.query(SQL.notify(queue: queue), logger: logger) } }
            return byQueue
        }
    }
}
