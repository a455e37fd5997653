import Decoding
import Foundation
import PostgresNIO

/// Every SQL statement of the service, in one place. Values are always binds (`\(value)` in a
/// `PostgresQuery` becomes `$n`); the only text spliced in is a migration file's own contents.
enum SQL {
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
        precondition(["jobs", "results", "queues", "workers", "schema_version"].contains(table))
        return PostgresQuery(unsafeSQL: "SELECT count(*)::bigint FROM \(table)")
    }

    // MARK: submit

    static func ensureQueue(_ name: String) -> PostgresQuery {
        "INSERT INTO queues (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING"
    }
    /// The parameter columns come from `JobParameters.fields` (compile-time names); every value is a bind.
    static func insertJob(_ j: JobSpec, key: String?) -> PostgresQuery {
        var binds = PostgresBindings()
        var columns: [String] = []
        func add(_ column: String, _ value: ParameterValue) { columns.append(column); binds.append(value) }
        add("queue", .text(j.queue))
        add("model", .text(j.model))
        for f in JobParameters.fields { add(f.column, f.read(j.parameters)) }
        add("priority", .int(j.priority))
        add("max_attempts", .int(j.maxAttempts))
        add("idempotency_key", key.map { .text($0) } ?? .null)
        let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
        return PostgresQuery(unsafeSQL: """
            INSERT INTO jobs (\(columns.joined(separator: ", "))) VALUES (\(placeholders))
            ON CONFLICT (queue, idempotency_key) DO NOTHING
            RETURNING id
            """, binds: binds)
    }
    static func jobByKey(queue: String, key: String) -> PostgresQuery {
        "SELECT id FROM jobs WHERE queue = \(queue) AND idempotency_key = \(key)"
    }
    static func notify(queue: String) -> PostgresQuery {
        "SELECT pg_notify('zipar_jobs', \(queue))"
    }
    static let listenChannel = "zipar_jobs"

    // MARK: workers

    /// What a claim returns; `JobStore.claim` reads it by these names.
    static let claimColumns = "j.id, j.queue, j.model, \(JobParameters.columnList(alias: "j")), "
        + "j.priority, j.attempts, j.max_attempts, j.lease_token, j.created_at, j.seq"

    /// Takes up to `limit` runnable jobs (priority, then age), skipping rows other claimers hold.
    static func claim(limit: Int, queues: [String], models: [String], owner: String, leaseSeconds: Double) -> PostgresQuery {
        """
        WITH picked AS (
            SELECT j.id FROM jobs j JOIN queues q ON q.name = j.queue
            WHERE j.state = 'queued' AND j.run_after <= now() AND NOT q.paused
              AND j.queue = ANY(\(queues)) AND j.model = ANY(\(models))
            ORDER BY j.priority DESC, j.seq
            LIMIT \(limit)
            FOR UPDATE OF j SKIP LOCKED)
        UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = \(owner),
               lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => \(leaseSeconds)),
               started_at = coalesce(j.started_at, now()), updated_at = now()
        FROM picked WHERE j.id = picked.id
        RETURNING \(unescaped: claimColumns)
        """
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
        RETURNING attempts, (EXTRACT(EPOCH FROM (now() - created_at)) * 1000)::float8
        """
    }
    static func insertResult(id: UUID, output o: JobOutput, latencyMs: Double, worker: String, attempt: Int) -> PostgresQuery {
        let png = ByteBuffer(bytes: o.png)
        return """
        INSERT INTO results (job_id, png, width, height, passes, ntp_passes, tokens, queries, decode_ms, latency_ms,
                             pass_ms, worker, attempt)
        VALUES (\(id), \(png), \(o.width), \(o.height), \(o.passes), \(o.ntpPasses), \(o.tokens), \(o.queries),
                \(o.decodeSeconds * 1000), \(latencyMs), \(o.passSeconds.map { $0 * 1000 }), \(worker), \(attempt))
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
                'at', now(), 'attempt', attempts, 'worker', \(worker)::text, 'error', \(error)::text,
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
    static let rescue: PostgresQuery = """
        UPDATE jobs SET
            errors = errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', attempts, 'worker', lease_owner, 'error', 'lease expired', 'permanent', false)),
            state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
            finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
            run_after = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
                     FOR UPDATE SKIP LOCKED)
        RETURNING id, state
        """

    /// Jobs a draining worker still waits for: queued or running, in unpaused queues, for its models.
    static func pending(queues: [String], models: [String]) -> PostgresQuery {
        """
        SELECT count(*)::bigint FROM jobs j JOIN queues q ON q.name = j.queue
        WHERE j.state IN ('queued', 'running') AND NOT q.paused
          AND j.queue = ANY(\(queues)) AND j.model = ANY(\(models))
        """
    }

    static func registerWorker(id: String, host: String, pid: Int, models: [String], queues: [String]) -> PostgresQuery {
        """
        INSERT INTO workers (id, host, pid, models, queues) VALUES (\(id), \(host), \(pid), \(models), \(queues))
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
        """
    }
    static func workerHeartbeat(id: String) -> PostgresQuery {
        "UPDATE workers SET heartbeat_at = now() WHERE id = \(id) RETURNING id"
    }
    static func workerStopped(id: String) -> PostgresQuery {
        "UPDATE workers SET stopped_at = now(), heartbeat_at = now() WHERE id = \(id)"
    }

    // MARK: admin

    static let queues: PostgresQuery = """
        SELECT q.name, q.paused, j.state, count(j.id)::bigint
        FROM queues q LEFT JOIN jobs j ON j.queue = q.name
        GROUP BY q.name, q.paused, j.state ORDER BY q.name
        """
    static func setPaused(_ queue: String, _ paused: Bool) -> PostgresQuery {
        """
        INSERT INTO queues (name, paused) VALUES (\(queue), \(paused))
        ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
        """
    }
    static func retry(ids: [UUID]) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'queued', attempts = 0, run_after = now(), finished_at = NULL, lease_token = NULL,
               lease_expires_at = NULL, updated_at = now()
        WHERE id = ANY(\(ids)) AND state IN ('failed', 'cancelled')
        RETURNING queue
        """
    }
    static func retryFailed(queue: String?) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'queued', attempts = 0, run_after = now(), finished_at = NULL, lease_token = NULL,
               lease_expires_at = NULL, updated_at = now()
        WHERE state = 'failed' AND (\(queue)::text IS NULL OR queue = \(queue)::text)
        RETURNING queue
        """
    }
    static func cancel(ids: [UUID]) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL,
               updated_at = now()
        WHERE id = ANY(\(ids)) AND state IN ('queued', 'running')
        RETURNING id
        """
    }
    static func purge(olderThanSeconds: Double) -> PostgresQuery {
        """
        DELETE FROM jobs WHERE state IN ('done', 'failed', 'cancelled')
          AND finished_at < now() - make_interval(secs => \(olderThanSeconds))
        RETURNING id
        """
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
    static func jobErrors(id: UUID) -> PostgresQuery {
        "SELECT state, attempts, errors::text FROM jobs WHERE id = \(id)"
    }


    // MARK: stats and export

    static func throughput(windowMinutes: Int) -> PostgresQuery {
        """
        SELECT count(*) FILTER (WHERE finished_at > now() - make_interval(mins => \(Int32(clamping: windowMinutes))))::bigint,
               count(*)::bigint,
               coalesce(EXTRACT(EPOCH FROM (max(finished_at) - min(started_at))), 0)::float8
        FROM jobs WHERE state = 'done'
        """
    }
    static let resultFigures: PostgresQuery = """
        SELECT count(*)::bigint,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
               max(latency_ms),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY decode_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY decode_ms),
               max(decode_ms),
               coalesce(sum(passes), 0)::bigint, coalesce(sum(ntp_passes), 0)::bigint
        FROM results
        """
    static let workers: PostgresQuery = """
        SELECT w.id, w.host, w.pid, w.models, w.queues, w.started_at, w.heartbeat_at, w.stopped_at, w.jobs_done,
               EXTRACT(EPOCH FROM (now() - w.heartbeat_at))::float8 AS heartbeat_age,
               (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.lease_owner = w.id)::bigint AS running
        FROM workers w ORDER BY w.stopped_at IS NOT NULL, w.heartbeat_at DESC
        """
    static func resultIDs(queue: String?) -> PostgresQuery {
        """
        SELECT j.id FROM jobs j JOIN results r ON r.job_id = j.id
        WHERE (\(queue)::text IS NULL OR j.queue = \(queue)::text) ORDER BY j.finished_at, j.seq
        """
    }
    static func result(id: UUID) -> PostgresQuery {
        """
        SELECT j.id, j.queue, j.model, \(unescaped: JobParameters.columnList(alias: "j")),
               r.width, r.height, r.passes, r.ntp_passes, r.tokens, r.queries, r.decode_ms, r.latency_ms, r.pass_ms,
               r.worker, r.attempt, j.finished_at, r.png
        FROM jobs j JOIN results r ON r.job_id = j.id WHERE j.id = \(id)
        """
    }
    static func resultSummary(ids: [UUID]) -> PostgresQuery {
        """
        SELECT count(*)::bigint, coalesce(sum(passes), 0)::bigint, coalesce(sum(ntp_passes), 0)::bigint,
               coalesce(avg(latency_ms), 0)::float8, coalesce(max(latency_ms), 0)::float8
        FROM results WHERE job_id = ANY(\(ids))
        """
    }
}
