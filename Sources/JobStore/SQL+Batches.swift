import Foundation
import JobCore
import PostgresNIO

/// The SQL of the batch API and of completion events (migration 0008). Values are always binds.
extension SQL {
    // MARK: batches

    /// A new batch; with a key, nothing when the key is taken (then `batchByKey` says by which body).
    static func insertBatch(key: String?, requestSHA256: String, jobs: Int) -> PostgresQuery {
        """
        INSERT INTO batches (idempotency_key, request_sha256, jobs) VALUES (\(key), \(requestSHA256), \(jobs))
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
        """
    }
    static func batchByKey(_ key: String) -> PostgresQuery {
        "SELECT id, request_sha256 FROM batches WHERE idempotency_key = \(key)"
    }
    static func batch(id: UUID) -> PostgresQuery {
        "SELECT id, jobs, created_at, cancelled_at, idempotency_key FROM batches WHERE id = \(id)"
    }
    /// A batch's jobs by state, with the last finish time of each state.
    static func batchCounts(id: UUID) -> PostgresQuery {
        """
        SELECT state, count(*)::bigint, max(finished_at) FROM jobs WHERE batch_id = \(id) GROUP BY state
        """
    }
    /// One row per job of the batch in submission order; `onlyFinished`: done, failed and cancelled only.
    static func batchResults(id: UUID, onlyFinished: Bool) -> PostgresQuery {
        """
        SELECT j.id, j.custom_id, j.label, j.state, j.errors -> -1 ->> 'error' AS last_error,
               r.passes, r.ntp_passes, r.decode_ms, r.latency_ms, (r.job_id IS NOT NULL) AS has_result
        FROM jobs j LEFT JOIN results r ON r.job_id = j.id
        WHERE j.batch_id = \(id) AND (NOT \(onlyFinished) OR j.state IN ('done', 'failed', 'cancelled'))
        ORDER BY j.seq
        """
    }
    /// Queued and running jobs of the batch to cancelled (the trigger writes their events); their count.
    static func cancelBatch(id: UUID) -> PostgresQuery {
        """
        WITH changed AS (
            UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL,
                   updated_at = now()
            WHERE batch_id = \(id) AND state IN ('queued', 'running')
            RETURNING id)
        SELECT count(*)::bigint FROM changed
        """
    }
    static func markBatchCancelled(id: UUID) -> PostgresQuery {
        "UPDATE batches SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = \(id) RETURNING id"
    }

    // MARK: events

    static let eventChannel = "zipar_job_events"

    /// Events after `after` that pass the filter, oldest first.
    static func events(after: Int64, batch: UUID?, queue: String?, labelPrefix: String?, limit: Int) -> PostgresQuery {
        """
        SELECT id, job_id, batch_id, queue, label, custom_id, state, at FROM job_events
        WHERE id > \(after)
          AND (\(batch)::uuid IS NULL OR batch_id = \(batch)::uuid)
          AND (\(queue)::text IS NULL OR queue = \(queue)::text)
          AND (\(labelPrefix)::text IS NULL OR left(label, length(\(labelPrefix)::text)) = \(labelPrefix)::text)
        ORDER BY id LIMIT \(limit)
        """
    }
    static let lastEventID: PostgresQuery = "SELECT coalesce(max(id), 0)::bigint FROM job_events"
}
