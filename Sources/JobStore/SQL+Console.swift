import Foundation
import JobCore
import PostgresNIO

/// The SQL of the operator's console (issue 24): the audit log and bulk actions by filter.
extension SQL {
    static func insertAudit(_ n: AuditNote, count: Int) -> PostgresQuery {
        """
        INSERT INTO audit_log (actor, action, target, count, detail)
        VALUES (\(n.actor), \(n.action), \(n.target), \(Int32(clamping: count)), \(n.detail))
        """
    }

    /// Newest first, one page (served by the primary key's index).
    static func auditLog(limit: Int, offset: Int) -> PostgresQuery {
        """
        SELECT id, at, actor, action, target, count::bigint AS count, detail FROM audit_log
        ORDER BY id DESC LIMIT \(Int64(limit)) OFFSET \(Int64(offset))
        """
    }

    /// How many jobs within the filter the action would change (the confirmation page's count).
    static func bulkCount(_ action: BulkAction, _ f: JobFilter) -> PostgresQuery {
        var q = QueryBuilder("SELECT count(*)::bigint FROM jobs j WHERE ")
        let states = q.bind(action.fromStates)
        q.text("j.state = ANY(\(states)::text[]) AND ")
        filter(f, into: &q)
        return q.query
    }

    /// The action on every job within the filter, in one statement: how many changed, by queue (a retry
    /// wakes the workers of those queues). The updates are those of `retry(ids:)` and `cancel(ids:)`.
    static func bulk(_ action: BulkAction, _ f: JobFilter) -> PostgresQuery {
        var q = QueryBuilder()
        let states = q.bind(action.fromStates)
        switch action {
        case .cancel:
            q.text("""
                WITH changed AS (UPDATE jobs j SET state = 'cancelled', finished_at = now(), lease_token = NULL,
                                 lease_expires_at = NULL, updated_at = now()
                                 WHERE j.state = ANY(\(states)::text[]) AND
                """)
        case .retry:
            q.text("""
                WITH changed AS (UPDATE jobs j SET state = 'queued', \(retryAttempts), run_after = now(), finished_at = NULL,
                                 lease_token = NULL, lease_expires_at = NULL, updated_at = now()
                                 WHERE j.state = ANY(\(states)::text[]) AND
                """)
        case .delete:
            q.text("WITH changed AS (DELETE FROM jobs j WHERE j.state = ANY(\(states)::text[]) AND ")
        }
        filter(f, into: &q)
        q.text(" RETURNING j.queue) SELECT queue, count(*)::bigint FROM changed GROUP BY queue")
        return q.query
    }
}
