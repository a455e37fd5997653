import Foundation
import JobCore
import PostgresNIO

/// The SQL of the batch API and of completion events (migration 0008). Values are always binds.
extension SQL {
    // MARK: batches

    /// A new batch; with a key, nothing when the key is taken (then `batchByKey` says by which body).
    static func insertBatch(key: String?, requestSHA256: String, jobs: Int, webhook: String?) -> PostgresQuery {
        """
        INSERT INTO batches (idempotency_key, request_sha256, jobs, webhook_url, webhook_next_at)
        VALUES (\(key), \(requestSHA256), \(jobs), \(webhook), CASE WHEN \(webhook)::text IS NULL THEN NULL ELSE now() END)
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
    /// A batch's jobs by state as every report shows it (`shownState`: a queued job not due yet counts as
    /// scheduled), with the last finish time of each state.
    static func batchCounts(id: UUID) -> PostgresQuery {
        """
        SELECT \(unescaped: shownState) AS state, count(*)::bigint, max(j.finished_at)
        FROM jobs j WHERE j.batch_id = \(id) GROUP BY 1
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

    // MARK: webhooks

    /// Takes up to `limit` finished batches whose webhook is due, pushing their next try `leaseSeconds` away
    /// so that another server (or this one, after a crash) tries again only when this try is long over.
    static func claimWebhooks(limit: Int, leaseSeconds: Double) -> PostgresQuery {
        """
        UPDATE batches b SET webhook_next_at = now() + make_interval(secs => \(leaseSeconds))
        WHERE b.id IN (
            SELECT id FROM batches c
            WHERE c.webhook_next_at <= now()
              AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = c.id AND j.state IN ('queued', 'running'))
            ORDER BY c.webhook_next_at LIMIT \(limit)
            FOR UPDATE SKIP LOCKED)
        RETURNING b.id, b.webhook_url, b.webhook_attempts
        """
    }
    static func webhookDelivered(id: UUID) -> PostgresQuery {
        """
        UPDATE batches SET webhook_delivered_at = now(), webhook_next_at = NULL, webhook_attempts = webhook_attempts + 1,
               webhook_last_error = NULL
        WHERE id = \(id)
        """
    }
    /// `retryIn` nil: given up.
    static func webhookFailed(id: UUID, error: String, retryIn: Double?) -> PostgresQuery {
        """
        UPDATE batches SET webhook_attempts = webhook_attempts + 1, webhook_last_error = \(error),
               webhook_next_at = CASE WHEN \(retryIn)::float8 IS NULL THEN NULL
                                      ELSE now() + make_interval(secs => \(retryIn)::float8) END
        WHERE id = \(id)
        """
    }
    static func webhookState(id: UUID) -> PostgresQuery {
        """
        SELECT webhook_url, webhook_attempts, webhook_delivered_at, webhook_last_error, webhook_next_at IS NOT NULL
        FROM batches WHERE id = \(id)
        """
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
    /// Events older than the age whose job was purged (a live job's events stay).
    static func purgeEvents(olderThanSeconds: Double) -> PostgresQuery {
        """
        DELETE FROM job_events e
        WHERE e.at < now() - make_interval(secs => \(olderThanSeconds))
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id)
        """
    }
    static let lastEventID: PostgresQuery = "SELECT coalesce(max(id), 0)::bigint FROM job_events"
}
