import Foundation
import PostgresNIO

/// Worker health for the workers page (issue 24), read from what workers already write: every failed
/// attempt names its worker in the job's `errors`, every result its worker, and a worker's registration
/// the models it could not load (`workers.load_failures`, migration 0015). Only jobs finished in the
/// window are read (jobs_finished). The window's start is written out in each condition, not taken from a
/// CTE: the planner then sees the bound value and picks the index (through a CTE it guessed a third of the
/// table and read every result).
extension SQL {
    static func workerHealth(windowSeconds: Double) -> PostgresQuery {
        """
        WITH fails AS (
            SELECT a.worker, j.model, count(*)::bigint AS failures,
                   (array_agg(a.error ORDER BY a.at DESC))[1] AS last_error, max(a.at) AS last_failure_at,
                   bool_or(strpos(a.error, 'failed to load') > 0) AS load_failed
            FROM jobs j CROSS JOIN LATERAL jsonb_array_elements(j.errors) AS e
                 -- CASE, so a hand-written entry whose `at` is no time is skipped, never cast (an error).
                 CROSS JOIN LATERAL (SELECT e ->> 'worker' AS worker, coalesce(e ->> 'error', '') AS error,
                                            CASE WHEN e ->> 'at' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+([+-][0-9:]+|Z)?$'
                                                 THEN (e ->> 'at')::timestamptz END AS at) AS a
            WHERE j.finished_at > now() - make_interval(secs => \(windowSeconds)) AND jsonb_typeof(j.errors) = 'array'
              AND a.worker IS NOT NULL AND a.at > now() - make_interval(secs => \(windowSeconds))
            GROUP BY 1, 2),
        done AS (
            SELECT r.worker, j.model, count(*)::bigint AS done
            FROM jobs j JOIN results r ON r.job_id = j.id
            WHERE j.finished_at > now() - make_interval(secs => \(windowSeconds)) AND j.state = 'done'
            GROUP BY 1, 2),
        -- Models that did not load on a worker heard from in the window, whether or not a job failed yet.
        loads AS (
            SELECT w.id AS worker, l.model, coalesce(l.v ->> 'error', '') AS error,
                   CASE WHEN l.v ->> 'at' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+([+-][0-9:]+|Z)?$'
                        THEN (l.v ->> 'at')::timestamptz END AS at
            FROM workers w CROSS JOIN LATERAL jsonb_each(w.load_failures) AS l(model, v)
            WHERE w.heartbeat_at > now() - make_interval(secs => \(windowSeconds))),
        pairs AS (SELECT worker, model FROM fails UNION SELECT worker, model FROM done UNION SELECT worker, model FROM loads)
        SELECT p.worker, p.model, coalesce(d.done, 0)::bigint AS done, coalesce(f.failures, 0)::bigint AS failures,
               coalesce(f.last_error, l.error) AS last_error, coalesce(f.last_failure_at, l.at) AS last_failure_at,
               (l.worker IS NOT NULL OR coalesce(f.load_failed, false)) AS load_failed
        FROM pairs p LEFT JOIN fails f ON f.worker = p.worker AND f.model = p.model
                     LEFT JOIN done d ON d.worker = p.worker AND d.model = p.model
                     LEFT JOIN loads l ON l.worker = p.worker AND l.model = p.model
        WHERE p.worker IS NOT NULL
        ORDER BY 1, 2
        """
    }
}
