import Foundation
import JobCore
import PostgresNIO

/// Every SQL statement of the service, in one place. Values are always binds (`\(value)` in a
/// `PostgresQuery` becomes `$n`); the only text spliced in is a migration file's own contents.
enum SQL {
    /// The state reports show for `jobs j`: a queued job not due yet (`run_after` in the future: `--run-at`,
    /// or a retry waiting out its backoff) reads as `scheduled`. Derived when read, never stored, so claims,
    /// cancels and retries keep working on `queued` unchanged (JobState's comment).
    static let shownState = "CASE WHEN j.state = 'queued' AND j.run_after > now() THEN 'scheduled' ELSE j.state END"

    /// What every retry (failed or cancelled back to queued) does to the counts: a fresh budget of
    /// max_attempts, while the attempts spent so far move to `attempts_before_retry` (migration 0014), so
    /// the next attempt's number (`attemptNumber`) follows the last one instead of starting at 1 again.
    static let retryAttempts = "attempts_before_retry = attempts_before_retry + attempts, attempts = 0"
    /// The number of the job's current (or last) attempt, counted across retries.
    static let attemptNumber = "attempts_before_retry + attempts"

    // MARK: migrations

    /// Serialises migrators across hosts: held until the transaction ends.
    static let migrationLock: PostgresQuery = "SELECT pg_advisory_xact_lock(7320514210)"
    static let createVersionTable: PostgresQuery = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())
        """
    static let appliedVersions: PostgresQuery = "SELECT version FROM schema_version ORDER BY version"
    static func recordVersion(_ version: Int, _ name: String) -> PostgresQuery {
        "INSERT INTO schema_version (version, name) VALUES (\(version), \(name))"
    }
    static func migrationBody(_ sql: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql)
    }
    static let currentVersion: PostgresQuery = """
        SELECT coalesce(max(version), 0)::bigint FROM schema_version
        """
    static let versionTableExists: PostgresQuery = "SELECT to_regclass('schema_version') IS NOT NULL"

    /// Test and set-up helpers: database names cannot be binds, so only `[a-z0-9_]` names are accepted.
    static func createDatabase(_ name: String) -> PostgresQuery {
        precondition(isPlainIdentifier(name), "database name must be [a-z0-9_]+")
        return PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\"")
    }
    static func dropDatabase(_ name: String) -> PostgresQuery {
        precondition(isPlainIdentifier(name), "database name must be [a-z0-9_]+")
        return PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }
    static func isPlainIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.count < 60 && s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }
    static func countRows(_ table: String) -> PostgresQuery {
        precondition(["jobs", "results", "queues", "workers", "schema_version", "batches", "job_events"].contains(table))
        return PostgresQuery(unsafeSQL: "SELECT count(*)::bigint FROM \(table)")
    }

    // MARK: submit

    static func ensureQueue(_ name: String) -> PostgresQuery {
        "INSERT INTO queues (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING"
    }
    // The jobs themselves go in many rows a statement: `insertJobs` (SQL+BulkInsert.swift).
    /// Jobs of one submission key (`KEY#n`, n a number): a re-run must have exactly as many. The part after
    /// `KEY#` must be all digits, so key `K` does not count the jobs of key `K#1` (`K#1#0`, ...).
    static func keyedJobCount(queue: String, key: String) -> PostgresQuery {
        let prefix = key + "#"
        return """
        SELECT count(*)::bigint FROM jobs
        WHERE queue = \(queue) AND left(idempotency_key, length(\(prefix)::text)) = \(prefix)::text
          AND substr(idempotency_key, length(\(prefix)::text) + 1) ~ '^[0-9]+$'
        """
    }
    static func labelsTaken(queue: String, labels: [String]) -> PostgresQuery {
        "SELECT label, id, idempotency_key FROM jobs WHERE queue = \(queue) AND label = ANY(\(labels))"
    }
    static func existingQueues(_ names: [String]) -> PostgresQuery {
        "SELECT name FROM queues WHERE name = ANY(\(names))"
    }
    static func notify(queue: String) -> PostgresQuery {
        "SELECT pg_notify('zipar_jobs', \(queue))"
    }
    static let listenChannel = "zipar_jobs"

    // MARK: workers

    /// What a claim returns; `JobStore.claim` reads it by these names.
    static let claimColumns = "j.id, j.queue, j.model, \(JobParameters.columnList(alias: "j")), "
        + "j.priority, j.attempts, j.max_attempts, j.lease_token, j.created_at, j.seq, j.label"

    /// Takes up to `limit` runnable jobs (priority, then age), skipping rows other claimers hold. The claim
    /// itself is the function `zipar_claim` (migration 0016: planned once per connection, and its commit does
    /// not wait for the WAL flush, which is why it must run alone, not inside a larger transaction; 0018: it
    /// starts reading at the claim floor, past the dead index entries of the jobs claimed before). Sent as
    /// a prepared statement (`JobStore.claim`): each connection parses and plans the call once, not once a
    /// claim, which took about a quarter of a claim's CPU in the database (`pgbench -M prepared` against
    /// `-M extended`, docs/service.md); tools/bench/store_bench.py times the same call the same way.
    struct Claim: PostgresPreparedStatement {
        static let name = "zipar_claim"
        static let sql = "SELECT \(claimColumns) FROM zipar_claim($1, $2, $3, $4, $5) j"
        static let bindingDataTypes: [PostgresDataType] = [.int4, .textArray, .textArray, .text, .float8]
        typealias Row = PostgresRow

        var limit: Int
        var queues: [String]
        var models: [String]
        var owner: String
        var leaseSeconds: Double

        func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings()
            b.append(Int32(clamping: limit))
            b.append(queues)
            b.append(models)
            b.append(owner)
            b.append(leaseSeconds)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    static func extendLeases(tokens: [UUID], leaseSeconds: Double) -> PostgresQuery {
        """
        UPDATE jobs SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), updated_at = now()
        WHERE state = 'running' AND lease_token = ANY(\(tokens))
        RETURNING lease_token
        """
    }

    /// Step 1 of completing: only the current lease holder of a running job gets a row back.
    static func markDone(id: UUID, token: UUID) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'done', finished_at = now(), updated_at = now(), lease_token = NULL,
               lease_expires_at = NULL
        WHERE id = \(id) AND lease_token = \(token) AND state = 'running'
        RETURNING \(unescaped: attemptNumber), (EXTRACT(EPOCH FROM (now() - created_at)) * 1000)::float8
        """
    }
    static func insertResult(id: UUID, output o: JobOutput, latencyMs: Double, worker: String, attempt: Int) -> PostgresQuery {
        let png = ByteBuffer(bytes: o.png)
        return """
        INSERT INTO results (job_id, png, width, height, passes, ntp_passes, tokens, queries, decode_ms, latency_ms,
                             pass_ms, worker, attempt, queue_ms, gpt_ms, vq_ms, png_ms, decode_order, drafts, accepted)
        VALUES (\(id), \(png), \(o.width), \(o.height), \(o.passes), \(o.ntpPasses), \(o.tokens), \(o.queries),
                \(o.decodeSeconds * 1000), \(latencyMs), \(o.passSeconds.map { $0 * 1000 }), \(worker), \(attempt),
                (SELECT EXTRACT(EPOCH FROM (started_at - created_at)) * 1000 FROM jobs WHERE id = \(id))::float8,
                \(o.stages.map { $0.gpt * 1000 }), \(o.stages.map { $0.vq * 1000 }), \(o.stages.map { $0.png * 1000 }),
                \(o.decodeOrder), \(o.drafts), \(o.accepted))
        """
    }
    static func countDone(worker: String) -> PostgresQuery {
        "UPDATE workers SET jobs_done = jobs_done + 1 WHERE id = \(worker)"
    }

    /// Records the error; back to queued after `backoff` seconds, or failed when out of attempts or permanent.
    static func fail(id: UUID, token: UUID, worker: String, error: String, permanent: Bool, backoff: Double) -> PostgresQuery {
        """
        UPDATE jobs SET
            errors = errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', \(unescaped: attemptNumber), 'worker', \(worker)::text, 'error', \(error)::text,
                'permanent', \(permanent))),
            state = CASE WHEN \(permanent) OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
            run_after = CASE WHEN \(permanent) OR attempts >= max_attempts THEN run_after
                             ELSE now() + make_interval(secs => \(backoff)) END,
            finished_at = CASE WHEN \(permanent) OR attempts >= max_attempts THEN now() END,
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE id = \(id) AND lease_token = \(token) AND state = 'running'
        RETURNING state
        """
    }

    /// Graceful shutdown: hands jobs back without spending an attempt.
    static func release(id: UUID, token: UUID) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), lease_token = NULL,
               lease_expires_at = NULL, run_after = now(), updated_at = now()
        WHERE id = \(id) AND lease_token = \(token) AND state = 'running'
        RETURNING id
        """
    }

    /// Leases that ran out (the holder died or hung): back to queued, or failed when out of attempts.
    /// A lease that ran out while the server itself was down is not the holder's fault: after a restart
    /// every lease gets `graceSeconds` from the server's start to be renewed before it counts as expired.
    static func rescue(graceSeconds: Double) -> PostgresQuery { """
        UPDATE jobs SET
            errors = errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', \(unescaped: attemptNumber), 'worker', lease_owner, 'error', 'lease expired', 'permanent', false)),
            state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
            finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
            run_after = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
                       AND pg_postmaster_start_time() < now() - make_interval(secs => \(graceSeconds))
                     FOR UPDATE SKIP LOCKED)
        RETURNING id, state
        """
    }

    /// Jobs a draining worker still waits for: running, or queued and due (or waiting out a retry's
    /// backoff: attempts > 0), in unpaused queues, for its models. A job scheduled for later (`run_at`) that
    /// never ran is not waited for: a drain would otherwise sleep until its time.
    static func pending(queues: [String], models: [String]) -> PostgresQuery {
        """
        SELECT count(*)::bigint FROM jobs j JOIN queues q ON q.name = j.queue
        WHERE (j.state = 'running' OR (j.state = 'queued' AND (j.run_after <= now() OR j.attempts > 0)))
          AND NOT q.paused AND j.queue = ANY(\(queues)) AND j.model = ANY(\(models))
        """
    }

    /// `loadFailures`: model -> error for the models that did not load; stored as {model: {error, at}}
    /// (migration 0015), replacing what an earlier run of the same worker id recorded.
    static func registerWorker(id: String, host: String, pid: Int, models: [String], queues: [String],
                               leaseSeconds: Double, version: String?, loadFailures: [String: String]) -> PostgresQuery {
        let failed = loadFailures.keys.sorted()
        let errors = failed.map { loadFailures[$0] ?? "" }
        return """
        INSERT INTO workers (id, host, pid, models, queues, lease_seconds, version, load_failures)
        VALUES (\(id), \(host), \(pid), \(models), \(queues), \(leaseSeconds), \(version),
                (SELECT coalesce(jsonb_object_agg(u.model, jsonb_build_object('error', u.error, 'at', now())), '{}'::jsonb)
                 FROM unnest(\(failed)::text[], \(errors)::text[]) AS u(model, error)))
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL, lease_seconds = excluded.lease_seconds,
                                       version = excluded.version, load_failures = excluded.load_failures
        """
    }
    /// Queued jobs no live worker can take (none serves their model on their queue: a model that failed to
    /// load there is not served), by queue and model.
    static let unserved: PostgresQuery = """
        SELECT j.queue, j.model, count(*)::bigint AS n FROM jobs j
        WHERE j.state = 'queued' AND NOT EXISTS (
            SELECT 1 FROM workers w
            WHERE w.stopped_at IS NULL AND now() - w.heartbeat_at <= make_interval(secs => w.lease_seconds)
              AND j.model = ANY(w.models) AND j.queue = ANY(w.queues) AND NOT (w.load_failures ? j.model))
        GROUP BY j.queue, j.model ORDER BY j.queue, j.model
        """
    /// The same for the jobs among `ids` only (`zipar-submit --wait` warns when its jobs wait for nobody).
    static func unserved(ids: [UUID]) -> PostgresQuery {
        """
        SELECT j.queue, j.model, count(*)::bigint AS n FROM jobs j
        WHERE j.id = ANY(\(ids)) AND j.state = 'queued' AND NOT EXISTS (
            SELECT 1 FROM workers w
            WHERE w.stopped_at IS NULL AND now() - w.heartbeat_at <= make_interval(secs => w.lease_seconds)
              AND j.model = ANY(w.models) AND j.queue = ANY(w.queues) AND NOT (w.load_failures ? j.model))
        GROUP BY j.queue, j.model ORDER BY j.queue, j.model
        """
    }
    /// Jobs by queue and shown state (scheduled apart from queued), with how long the oldest due queued job
    /// has been due: since it was created, or since its `run_after` passed if that came later. A job
    /// scheduled for later is not waiting, so it must not age the queue (the ZiparQueueStuck alert).
    static let queueDepths = PostgresQuery(unsafeSQL: """
        SELECT d.queue, d.state, d.n, d.oldest FROM (\(depthRows)) d ORDER BY d.queue, d.state
        """)
    /// Jobs by queue and shown state (scheduled apart from queued), and for `queued` how long the oldest due
    /// job has been due: (queue, state, n, oldest). Stored states are counted on jobs_queue_state; only the
    /// queued jobs' entries of jobs_queued_due are read to split them (migration 0013), never every row.
    static let depthRows = """
        WITH c AS (SELECT queue, state, count(*)::bigint AS n FROM jobs GROUP BY queue, state),
             w AS (SELECT queue, count(*) FILTER (WHERE run_after > now())::bigint AS scheduled,
                          EXTRACT(EPOCH FROM (now() - min(greatest(created_at, run_after))
                                                     FILTER (WHERE run_after <= now())))::float8 AS oldest
                   FROM jobs WHERE state = 'queued' GROUP BY queue)
        SELECT * FROM (
            SELECT c.queue, c.state, c.n - CASE WHEN c.state = 'queued' THEN coalesce(w.scheduled, 0) ELSE 0 END AS n,
                   CASE WHEN c.state = 'queued' THEN w.oldest END AS oldest
            FROM c LEFT JOIN w ON w.queue = c.queue
            UNION ALL
            SELECT w.queue, 'scheduled', w.scheduled, NULL FROM w) x
        WHERE x.n > 0
        """
    static func workerHeartbeat(id: String) -> PostgresQuery {
        "UPDATE workers SET heartbeat_at = now() WHERE id = \(id) RETURNING id"
    }
    static func workerStopped(id: String) -> PostgresQuery {
        "UPDATE workers SET stopped_at = now(), heartbeat_at = now() WHERE id = \(id)"
    }

    // MARK: admin

    /// Jobs per queue by shown state (scheduled apart from queued); a queue without jobs has one NULL row.
    static let queues = PostgresQuery(unsafeSQL: """
        SELECT q.name, q.paused, d.state, coalesce(d.n, 0)::bigint
        FROM queues q LEFT JOIN (\(depthRows)) d ON d.queue = q.name
        ORDER BY q.name, d.state
        """)
    /// Returns the queue's name when it exists (pausing an unknown queue is an error, not a creation).
    static func setPaused(_ queue: String, _ paused: Bool) -> PostgresQuery {
        "UPDATE queues SET paused = \(paused) WHERE name = \(queue) RETURNING name"
    }
    static func createQueue(_ queue: String) -> PostgresQuery {
        "INSERT INTO queues (name) VALUES (\(queue)) ON CONFLICT (name) DO NOTHING RETURNING name"
    }
    /// Jobs of a queue by state, for refusing to delete a queue that still has work.
    static func queueJobCount(_ queue: String) -> PostgresQuery {
        "SELECT count(*)::bigint FROM jobs WHERE queue = \(queue)"
    }
    static func deleteQueueJobs(_ queue: String) -> PostgresQuery {
        "DELETE FROM jobs WHERE queue = \(queue)"
    }
    static func deleteQueue(_ queue: String) -> PostgresQuery {
        "DELETE FROM queues WHERE name = \(queue) RETURNING name"
    }
    /// Queued jobs a draining worker cannot reach because their queue is paused.
    static func pausedQueued(queues: [String], models: [String]) -> PostgresQuery {
        """
        SELECT count(*)::bigint FROM jobs j JOIN queues q ON q.name = j.queue
        WHERE j.state = 'queued' AND q.paused AND j.queue = ANY(\(queues)) AND j.model = ANY(\(models))
        """
    }
    static func lastErrors(ids: [UUID]) -> PostgresQuery {
        """
        SELECT id, state, coalesce(errors -> -1 ->> 'error', '') FROM jobs
        WHERE id = ANY(\(ids)) AND state IN ('failed', 'cancelled') ORDER BY seq
        """
    }
    /// Failed or cancelled jobs back to queued; one row per asked id that exists: its state before and
    /// whether it was requeued.
    static func retry(ids: [UUID]) -> PostgresQuery {
        """
        WITH target AS (SELECT id, state FROM jobs WHERE id = ANY(\(ids)) FOR UPDATE),
        changed AS (
            UPDATE jobs SET state = 'queued', \(unescaped: retryAttempts), run_after = now(), finished_at = NULL, lease_token = NULL,
                   lease_expires_at = NULL, updated_at = now()
            FROM target WHERE jobs.id = target.id AND target.state IN ('failed', 'cancelled')
            RETURNING jobs.id, jobs.queue)
        SELECT t.id, t.state, c.queue FROM target t LEFT JOIN changed c ON c.id = t.id
        """
    }
    static func retryFailed(queue: String?) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'queued', \(unescaped: retryAttempts), run_after = now(), finished_at = NULL, lease_token = NULL,
               lease_expires_at = NULL, updated_at = now()
        WHERE state = 'failed' AND (\(queue)::text IS NULL OR queue = \(queue)::text)
        RETURNING id, queue
        """
    }
    /// Queued or running jobs to cancelled; one row per asked id that exists: its state before and whether
    /// it was cancelled.
    static func cancel(ids: [UUID]) -> PostgresQuery {
        """
        WITH target AS (SELECT id, state FROM jobs WHERE id = ANY(\(ids)) FOR UPDATE),
        changed AS (
            UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL,
                   updated_at = now()
            FROM target WHERE jobs.id = target.id AND target.state IN ('queued', 'running')
            RETURNING jobs.id, jobs.queue)
        SELECT t.id, t.state, c.queue FROM target t LEFT JOIN changed c ON c.id = t.id
        """
    }
    /// Finished jobs older than the age, within the filter; results never exported are kept unless
    /// `includeUnexported`. `dryRun` selects what would go instead of deleting it.
    static func purge(_ f: JobFilter, olderThanSeconds: Double, includeUnexported: Bool, dryRun: Bool) -> PostgresQuery {
        var q = QueryBuilder(dryRun ? "SELECT j.id, j.state FROM jobs j WHERE " : "DELETE FROM jobs j WHERE ")
        let age = q.bind(olderThanSeconds), all = q.bind(includeUnexported)
        q.text("""
            j.state IN ('done', 'failed', 'cancelled')
            AND j.finished_at < now() - make_interval(secs => \(age))
            AND (\(all) OR NOT EXISTS (
                SELECT 1 FROM results r WHERE r.job_id = j.id AND r.exported_at IS NULL))
            AND
            """)
        filter(f, into: &q)
        if !dryRun { q.text(" RETURNING j.id, j.state") }
        return q.query
    }

    /// Workers that stopped that long ago, or went silent (crashed) for that long and at least an
    /// hour: a live worker beats every few seconds, so `purge --older-than 0s` keeps it listed.
    static func purgeWorkers(olderThanSeconds: Double) -> PostgresQuery {
        """
        DELETE FROM workers
        WHERE (stopped_at IS NOT NULL AND stopped_at < now() - make_interval(secs => \(olderThanSeconds)))
           OR heartbeat_at < now() - make_interval(secs => \(max(olderThanSeconds, 3600)))
        """
    }
    static func jobStates(ids: [UUID]) -> PostgresQuery {
        "SELECT id, state FROM jobs WHERE id = ANY(\(ids))"
    }

    // MARK: stats and export

    /// Jobs done in the last `windowMinutes`; and over the jobs done in the last `over` minutes (nil = all,
    /// which reads every done job), their count and the span from the first start to the last finish.
    static func throughput(windowMinutes: Int, over: Int?) -> PostgresQuery {
        let recent = Int32(clamping: windowMinutes), span = Int32(clamping: over ?? 0)
        return """
        SELECT count(*) FILTER (WHERE finished_at > now() - make_interval(mins => \(recent)))::bigint,
               count(*)::bigint,
               coalesce(EXTRACT(EPOCH FROM (max(finished_at) - min(started_at))), 0)::float8
        FROM jobs WHERE state = 'done' AND (\(span) = 0 OR finished_at > now() - make_interval(mins => \(span)))
        """
    }
    /// Counts, latency percentiles and passes over every result; with `windowMinutes`, over the results of
    /// the jobs finished in that window only (the dashboard's queues page: read through jobs_finished, so a
    /// store of a million results does not sort them all for one page).
    static func resultFigures(windowMinutes: Int?) -> PostgresQuery {
        var q = QueryBuilder("""
            SELECT count(*)::bigint,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms),
                   max(r.latency_ms),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY r.decode_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY r.decode_ms),
                   max(r.decode_ms),
                   coalesce(sum(r.passes), 0)::bigint, coalesce(sum(r.ntp_passes), 0)::bigint

            """)
        from(windowMinutes, into: &q)
        return q.query
    }
    /// p50, p95 and max of each stage column, over the results that have it (within the window, if given).
    static func stageFigures(windowMinutes: Int?) -> PostgresQuery {
        var q = QueryBuilder("""
            SELECT s.stage,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY s.ms), max(s.ms)
            FROM \(windowMinutes == nil ? "results r" : "jobs j JOIN results r ON r.job_id = j.id")
            CROSS JOIN LATERAL (VALUES ('queue', r.queue_ms), ('gpt', r.gpt_ms), ('vq', r.vq_ms), ('png', r.png_ms)) AS s(stage, ms)
            WHERE s.ms IS NOT NULL
            """)
        if let windowMinutes { q.text(" AND " + windowCondition(&q, windowMinutes)) }
        q.text(" GROUP BY s.stage")
        return q.query
    }
    /// `FROM results r`, joined to the jobs finished in the window when there is one.
    private static func from(_ windowMinutes: Int?, into q: inout QueryBuilder) {
        guard let windowMinutes else { q.text("FROM results r"); return }
        let condition = windowCondition(&q, windowMinutes)
        q.text("FROM jobs j JOIN results r ON r.job_id = j.id WHERE " + condition)
    }
    /// The jobs done within the last `windowMinutes` (through jobs_finished); binds the window.
    private static func windowCondition(_ q: inout QueryBuilder, _ windowMinutes: Int) -> String {
        let mins = q.bind(Int32(clamping: windowMinutes))
        return "j.finished_at > now() - make_interval(mins => \(mins)) AND j.state = 'done'"
    }
    /// Liveness has one definition: not stopped and a heartbeat younger than the worker's own lease
    /// (a worker that cannot renew within its lease loses its jobs, so it no longer counts as live).
    static let workers: PostgresQuery = """
        SELECT w.id, w.host, w.pid, w.models, w.queues, w.started_at, w.heartbeat_at, w.stopped_at, w.jobs_done,
               w.lease_seconds, w.version,
               EXTRACT(EPOCH FROM (now() - w.heartbeat_at))::float8 AS heartbeat_age,
               CASE WHEN w.stopped_at IS NOT NULL THEN 'stopped'
                    WHEN now() - w.heartbeat_at <= make_interval(secs => w.lease_seconds) THEN 'live'
                    ELSE 'silent' END AS liveness,
               (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.lease_owner = w.id)::bigint AS running
        FROM workers w ORDER BY w.stopped_at IS NOT NULL, w.heartbeat_at DESC
        """
    /// The filter of `jobs`, `export` and `purge` as conditions over `jobs j`, every value a bind.
    static func filter(_ f: JobFilter, into q: inout QueryBuilder) {
        let queue = q.bind(f.queue), label = q.bind(f.labelPrefix), states = q.bind(f.states?.map(\.rawValue))
        // The stored states behind the shown ones (scheduled is stored as queued): a condition on the column
        // itself, which the (queue, state) index can serve, before the derived one.
        let stored = q.bind(f.states.map { Array(Set($0.map { $0 == .scheduled ? JobState.queued.rawValue : $0.rawValue })).sorted() })
        let model = q.bind(f.model), since = q.bind(f.sinceSeconds), policy = q.bind(f.policy)
        let cls = q.bind(f.className), seed = q.bind(f.seed.map(Int64.init)), text = q.bind(f.text)
        q.text("""
            (\(queue)::text IS NULL OR j.queue = \(queue)::text)
            AND (\(label)::text IS NULL OR left(j.label, length(\(label)::text)) = \(label)::text)
            AND (\(states)::text[] IS NULL OR (j.state = ANY(\(stored)::text[]) AND (\(shownState)) = ANY(\(states)::text[])))
            AND (\(model)::text IS NULL OR j.model = \(model)::text)
            AND (\(since)::float8 IS NULL OR j.created_at > now() - make_interval(secs => \(since)::float8))
            AND (\(policy)::text IS NULL OR j.policy = \(policy)::text)
            AND (\(cls)::text IS NULL OR j.class_name = \(cls)::text OR j.class_label::text = \(cls)::text)
            AND (\(seed)::bigint IS NULL OR j.seed = \(seed)::bigint)
            AND (\(text)::text IS NULL OR strpos(lower(coalesce(j.prompt, '')), lower(\(text)::text)) > 0)
            """)
    }

    static func jobList(_ f: JobFilter) -> PostgresQuery {
        var q = QueryBuilder("""
            SELECT j.id, j.queue, j.model, j.label, j.prompt, j.class_name, j.class_label, j.text_prompt, \(shownState) AS state,
                   j.policy, j.seed,
                   j.attempts, j.created_at, j.finished_at, j.errors -> -1 ->> 'error' AS last_error
            FROM jobs j WHERE
            """)
        filter(f, into: &q)
        let limit = q.bind(Int64(f.limit ?? 50)), offset = q.bind(Int64(f.offset ?? 0))
        q.text(" ORDER BY j.seq DESC LIMIT \(limit) OFFSET \(offset)")
        return q.query
    }

    /// Ids of jobs to export, oldest first; `onlyNew`: results not exported yet.
    static func exportIDs(_ f: JobFilter, onlyNew: Bool) -> PostgresQuery {
        // Only new: from the results never exported (results_unexported, migration 0013), not every job.
        var q = QueryBuilder(onlyNew ? "SELECT j.id FROM results r JOIN jobs j ON j.id = r.job_id WHERE r.exported_at IS NULL AND "
                                     : "SELECT j.id FROM jobs j WHERE ")
        filter(f, into: &q)
        q.text(" ORDER BY j.finished_at, j.seq")
        return q.query
    }

    static func markExported(id: UUID) -> PostgresQuery {
        "UPDATE results SET exported_at = now() WHERE job_id = \(id) RETURNING exported_at"
    }

    /// `value` while the job has a current (or last) attempt, else NULL: a queued job (new, retried, or
    /// waiting out a backoff) or a retried one that never ran again shows no worker and no start, though
    /// the row still names the last holder. Rows claimed before migration 0014 have no `claimed_at`:
    /// their only claim time is `started_at`.
    static func currentAttempt(_ value: String) -> String {
        "CASE WHEN j.state = 'queued' OR j.attempts = 0 THEN NULL ELSE \(value) END"
    }

    /// Everything about one job; the result's columns are NULL when it has none.
    static func jobDetail(id: UUID) -> PostgresQuery {
        """
        SELECT j.id, j.queue, j.model, j.label, j.prompt, j.class_name, \(unescaped: shownState) AS state, j.priority,
               j.attempts, j.max_attempts, j.attempts_before_retry,
               j.created_at, j.run_after, j.started_at, j.finished_at, j.lease_expires_at,
               \(unescaped: currentAttempt("j.lease_owner")) AS lease_owner,
               \(unescaped: currentAttempt("coalesce(j.claimed_at, j.started_at)")) AS claimed_at,
               j.errors::text AS errors_json, \(unescaped: JobParameters.columnList(alias: "j")),
               r.width, r.height, r.passes, r.ntp_passes, r.tokens, r.queries, r.decode_ms, r.latency_ms, r.pass_ms,
               r.queue_ms, r.gpt_ms, r.vq_ms, r.png_ms, r.decode_order, r.drafts, r.accepted,
               r.worker, r.attempt, r.created_at AS result_at, r.exported_at, (r.job_id IS NOT NULL) AS has_result
        FROM jobs j LEFT JOIN results r ON r.job_id = j.id WHERE j.id = \(id)
        """
    }
    static func resultPNG(id: UUID) -> PostgresQuery {
        "SELECT png FROM results WHERE job_id = \(id)"
    }
    static func resultSummary(ids: [UUID]) -> PostgresQuery {
        """
        SELECT count(*)::bigint, coalesce(sum(passes), 0)::bigint, coalesce(sum(ntp_passes), 0)::bigint,
               coalesce(avg(latency_ms), 0)::float8, coalesce(max(latency_ms), 0)::float8
        FROM results WHERE job_id = ANY(\(ids))
        """
    }
}

/// SQL put together from compile-time text and binds, for statements whose shape depends on the
/// request (filters, optional columns). Values never enter the text: `bind` returns its `$n`.
struct QueryBuilder {
    private(set) var sql: String
    private var binds = PostgresBindings()

    init(_ sql: String = "") { self.sql = sql }

    mutating func text(_ s: String) { sql += s }

    mutating func bind<T: PostgresDynamicTypeEncodable>(_ value: T?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}
