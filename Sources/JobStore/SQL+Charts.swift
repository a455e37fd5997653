import Foundation
import PostgresNIO

/// The charts' SQL: every statement reads only the rows of its window, through an index (jobs_finished,
/// jobs_created, jobs_started), and groups them into `buckets` buckets in the database. Each condition
/// spells out the window's start (not `p.start`), so the planner sees the bound value and uses the index.
extension SQL {
    /// Per bucket: jobs done, p50 and p95 of their latency.
    static func chartDone(windowSeconds: Double, buckets: Int) -> PostgresQuery {
        """
        WITH p AS (SELECT now() - make_interval(secs => \(windowSeconds)) AS start, \(windowSeconds)::float8 / \(Int32(buckets)) AS step),
        d AS (SELECT least(floor(EXTRACT(EPOCH FROM (j.finished_at - p.start)) / p.step)::int, \(Int32(buckets)) - 1) AS i, r.latency_ms
              FROM p, jobs j JOIN results r ON r.job_id = j.id
              WHERE j.finished_at > now() - make_interval(secs => \(windowSeconds)) AND j.state = 'done')
        SELECT b.i, count(d.i)::bigint AS done,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY d.latency_ms) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY d.latency_ms) AS p95
        FROM generate_series(0, \(Int32(buckets)) - 1) AS b(i) LEFT JOIN d ON d.i = b.i
        GROUP BY b.i ORDER BY b.i
        """
    }

    /// Per bucket: jobs waiting at its end = waiting now, less those that arrived after it, plus those that
    /// left the queue after it (started, or cancelled before they ever started).
    static func chartDepth(windowSeconds: Double, buckets: Int) -> PostgresQuery {
        """
        WITH p AS (SELECT now() - make_interval(secs => \(windowSeconds)) AS start, \(windowSeconds)::float8 / \(Int32(buckets)) AS step),
        waiting AS (SELECT count(*)::bigint AS n FROM jobs WHERE state = 'queued'),
        moves AS (
            SELECT least(floor(EXTRACT(EPOCH FROM (j.created_at - p.start)) / p.step)::int, \(Int32(buckets)) - 1) AS i, -1 AS delta
            FROM p, jobs j WHERE j.created_at > now() - make_interval(secs => \(windowSeconds))
            UNION ALL
            SELECT least(floor(EXTRACT(EPOCH FROM (j.started_at - p.start)) / p.step)::int, \(Int32(buckets)) - 1), 1
            FROM p, jobs j WHERE j.started_at > now() - make_interval(secs => \(windowSeconds))
            UNION ALL
            SELECT least(floor(EXTRACT(EPOCH FROM (j.finished_at - p.start)) / p.step)::int, \(Int32(buckets)) - 1), 1
            FROM p, jobs j WHERE j.finished_at > now() - make_interval(secs => \(windowSeconds)) AND j.started_at IS NULL),
        per AS (SELECT b.i, coalesce(sum(m.delta), 0)::bigint AS change
                FROM generate_series(0, \(Int32(buckets)) - 1) AS b(i) LEFT JOIN moves m ON m.i = b.i GROUP BY b.i)
        SELECT per.i, greatest(waiting.n + coalesce(sum(per.change) OVER (ORDER BY per.i DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0)::bigint AS depth
        FROM per, waiting ORDER BY per.i
        """
    }
}
