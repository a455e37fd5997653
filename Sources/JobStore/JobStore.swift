import Decoding
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The PostgreSQL job store: every read and write of the service goes through here (SQL lives in `SQL`).
public final class JobStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    /// The `client` must be running (`client.run()`, or as a service in a `ServiceGroup`).
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public convenience init(config: DatabaseConfig, logger: Logger) throws {
        self.init(client: PostgresClient(configuration: try config.clientConfiguration(), backgroundLogger: logger),
                  logger: logger)
    }

    /// Runs `body` with a store whose client runs for the duration (for short-lived commands and tests).
    public static func withStore<R: Sendable>(_ config: DatabaseConfig, logger: Logger = JobStore.quietLogger,
                                              _ body: @Sendable (JobStore) async throws -> R) async throws -> R {
        let store = try JobStore(config: config, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: R.self) { group in
            group.addTask { await store.client.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }

    /// Logs only errors: the default for short-lived commands, which report failures themselves.
    public static let quietLogger: Logger = {
        var l = Logger(label: "zipar.jobstore")
        l.logLevel = .error
        return l
    }()

    // MARK: schema

    /// Applies the migrations not applied yet, in order, in one transaction under an advisory lock
    /// (concurrent callers wait, then find nothing left to do). Returns the versions it applied.
    @discardableResult
    public func migrate(_ migrations: [Migration]) async throws -> [Int] {
        let logger = self.logger
        return try await transaction { conn -> [Int] in
            try await conn.query(SQL.migrationLock, logger: logger)
            try await conn.query(SQL.createVersionTable, logger: logger)
            var applied = Set<Int>()
            for try await v in try await conn.query(SQL.appliedVersions, logger: logger).decode(Int.self) { applied.insert(v) }
            var done: [Int] = []
            for m in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(m.version) {
                for statement in m.statements {
                    try await conn.query(SQL.migrationBody(statement), logger: logger)
                }
                try await conn.query(SQL.recordVersion(m.version, m.name), logger: logger)
                done.append(m.version)
            }
            return done
        }
    }

    /// The schema this code is written against: the highest migration in `migrations/`.
    public static let expectedSchemaVersion = 3

    /// Throws a readable error when the database is not migrated to `expectedSchemaVersion`.
    public func checkSchema() async throws {
        let v = try await schemaVersion()
        if v < Self.expectedSchemaVersion {
            throw ConfigError("database schema version \(v) is older than \(Self.expectedSchemaVersion): run `zipar-admin migrate`")
        }
    }

    /// The highest applied migration (0 for an empty database).
    public func schemaVersion() async throws -> Int {
        let exists = try await first(SQL.versionTableExists, Bool.self) ?? false
        guard exists else { return 0 }
        return try await first(SQL.currentVersion, Int.self) ?? 0
    }

    // MARK: submit

    /// Inserts all `jobs` in one transaction and wakes the workers. With an `idempotencyKey`, job n of the
    /// submission gets the key `KEY#n`: a re-run inserts nothing and returns the ids of the first run.
    public func submit(_ jobs: [JobSpec], idempotencyKey: String? = nil) async throws -> SubmitOutcome {
        let logger = self.logger
        return try await transaction { conn -> SubmitOutcome in
            var ids: [UUID] = []
            var inserted = 0
            for q in Set(jobs.map(\.queue)).sorted() { try await conn.query(SQL.ensureQueue(q), logger: logger) }
            for (n, job) in jobs.enumerated() {
                let key = idempotencyKey.map { "\($0)#\(n)" }
                var id: UUID?
                for try await row in try await conn.query(SQL.insertJob(job, key: key), logger: logger).decode(UUID.self) {
                    id = row
                }
                if id != nil { inserted += 1 }
                if id == nil, let key {
                    for try await row in try await conn.query(SQL.jobByKey(queue: job.queue, key: key), logger: logger)
                        .decode(UUID.self) { id = row }
                }
                guard let id else { throw ConfigError("job \(n) was neither inserted nor found") }
                ids.append(id)
            }
            if inserted > 0 {
                for q in Set(jobs.map(\.queue)).sorted() { try await conn.query(SQL.notify(queue: q), logger: logger) }
            }
            return SubmitOutcome(ids: ids, inserted: inserted)
        }
    }

    // MARK: worker side

    /// Records (or revives) a worker row; `Runner`'s `registerWorker` checks the schema first.
    public func recordWorker(id: String, host: String, pid: Int, models: [String], queues: [String]) async throws {
        try await exec(SQL.registerWorker(id: id, host: host, pid: pid, models: models, queues: queues))
    }

    public func workerStopped(id: String) async throws {
        try await exec(SQL.workerStopped(id: id))
    }

    /// Claims up to `limit` runnable jobs of unpaused `queues` for `models`, priority first, then oldest;
    /// each gets a lease of `leaseSeconds` with a fresh token. Concurrent claimers never get the same job.
    public func claim(limit: Int, queues: [String], models: [String], owner: String, leaseSeconds: Double) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        var out: [ClaimedJob] = []
        let rows = try await client.query(SQL.claim(limit: limit, queues: queues, models: models, owner: owner,
                                                    leaseSeconds: leaseSeconds), logger: logger)
        var order: [UUID: Int64] = [:]
        for try await row in rows {
            let c = Columns(row)
            let id = try c("id", as: UUID.self)
            out.append(ClaimedJob(id: id, queue: try c("queue"), model: try c("model"), parameters: c.parameters(),
                                  priority: try c("priority"), attempt: try c("attempts"), maxAttempts: try c("max_attempts"),
                                  leaseToken: try c("lease_token"), createdAt: try c("created_at")))
            order[id] = try c("seq", as: Int64.self)
        }
        return out.sorted { ($0.priority, order[$1.id]!) > ($1.priority, order[$0.id]!) }
    }

    /// Extends the leases of `tokens` and the worker's heartbeat; returns the tokens still valid
    /// (a missing one means the job was rescued, cancelled or finished elsewhere: stop working on it).
    public func heartbeat(worker: String, tokens: [UUID], leaseSeconds: Double) async throws -> Set<UUID> {
        try await exec(SQL.workerHeartbeat(id: worker))
        guard !tokens.isEmpty else { return [] }
        var valid = Set<UUID>()
        for try await t in try await client.query(SQL.extendLeases(tokens: tokens, leaseSeconds: leaseSeconds), logger: logger)
            .decode(UUID.self) { valid.insert(t) }
        return valid
    }

    /// Writes the result and marks the job done, in one transaction, only while `job.leaseToken` is
    /// still the job's lease. Throws `LeaseLost` otherwise (nothing is written).
    public func complete(_ job: ClaimedJob, output: JobOutput, worker: String) async throws {
        let logger = self.logger
        try await transaction { conn in
            var marked: (Int, Double)?
            for try await row in try await conn.query(SQL.markDone(id: job.id, token: job.leaseToken), logger: logger)
                .decode((Int, Double).self) { marked = row }
            guard let (attempt, latencyMs) = marked else { throw LeaseLost(jobID: job.id) }
            try await conn.query(SQL.insertResult(id: job.id, output: output, latencyMs: latencyMs, worker: worker,
                                                  attempt: attempt), logger: logger)
            try await conn.query(SQL.countDone(worker: worker), logger: logger)
        }
    }

    /// Records `error` on the job; it goes back to the queue after a backoff, or to `failed` when the error is
    /// permanent or the attempts are used up. Throws `LeaseLost` when the lease is gone.
    @discardableResult
    public func fail(_ job: ClaimedJob, error: String, permanent: Bool, worker: String,
                     backoff: Double? = nil) async throws -> FailOutcome {
        let delay = backoff ?? retryBackoff(attempt: job.attempt)
        var state: JobState?
        for try await s in try await client.query(SQL.fail(id: job.id, token: job.leaseToken, worker: worker, error: error,
                                                           permanent: permanent, backoff: delay), logger: logger)
            .decode(JobState.self) { state = s }
        guard let state else { throw LeaseLost(jobID: job.id) }
        return state == .failed ? .failed : .retrying(after: delay)
    }

    /// Hands jobs back to the queue without spending an attempt (graceful shutdown). Returns how many.
    @discardableResult
    public func release(_ jobs: [ClaimedJob]) async throws -> Int {
        var n = 0
        for job in jobs {
            for try await _ in try await client.query(SQL.release(id: job.id, token: job.leaseToken), logger: logger)
                .decode(UUID.self) { n += 1 }
        }
        return n
    }

    /// Returns jobs whose lease expired to the queue (or fails them when out of attempts).
    @discardableResult
    public func rescueExpired() async throws -> [(UUID, JobState)] {
        var out: [(UUID, JobState)] = []
        for try await (id, state) in try await client.query(SQL.rescue, logger: logger).decode((UUID, JobState).self) {
            out.append((id, state))
        }
        return out
    }

    /// Queued or running jobs of unpaused `queues` for `models` (what a draining worker waits for).
    public func pendingCount(queues: [String], models: [String]) async throws -> Int {
        try await first(SQL.pending(queues: queues, models: models), Int.self) ?? 0
    }

    // MARK: admin

    public func queues() async throws -> [QueueInfo] {
        var byName: [String: QueueInfo] = [:]
        var order: [String] = []
        for try await (name, paused, state, count) in try await client.query(SQL.queues, logger: logger)
            .decode((String, Bool, JobState?, Int).self) {
            if byName[name] == nil { byName[name] = QueueInfo(name: name, paused: paused, counts: [:]); order.append(name) }
            if let state { byName[name]!.counts[state] = count }
        }
        return order.map { byName[$0]! }
    }

    public func setPaused(queue: String, _ paused: Bool) async throws {
        try await exec(SQL.setPaused(queue, paused))
        if !paused { try await exec(SQL.notify(queue: queue)) }
    }

    /// Failed or cancelled jobs back to queued with fresh attempts. Returns how many.
    public func retry(ids: [UUID]) async throws -> Int {
        try await requeue(SQL.retry(ids: ids))
    }

    public func retryFailed(queue: String?) async throws -> Int {
        try await requeue(SQL.retryFailed(queue: queue))
    }

    private func requeue(_ q: PostgresQuery) async throws -> Int {
        var queues = Set<String>()
        var n = 0
        for try await queue in try await client.query(q, logger: logger).decode(String.self) { queues.insert(queue); n += 1 }
        for queue in queues { try await exec(SQL.notify(queue: queue)) }
        return n
    }

    /// Queued or running jobs to cancelled (a running job's worker loses its lease). Returns how many.
    public func cancel(ids: [UUID]) async throws -> Int {
        var n = 0
        for try await _ in try await client.query(SQL.cancel(ids: ids), logger: logger).decode(UUID.self) { n += 1 }
        return n
    }

    /// Deletes finished jobs (and their results) older than `olderThan` seconds, and workers silent that long.
    public func purge(olderThan: Double) async throws -> Int {
        var n = 0
        for try await _ in try await client.query(SQL.purge(olderThanSeconds: olderThan), logger: logger).decode(UUID.self) { n += 1 }
        try await exec(SQL.purgeWorkers(olderThanSeconds: olderThan))
        return n
    }

    public func states(of ids: [UUID]) async throws -> [UUID: JobState] {
        var out: [UUID: JobState] = [:]
        for try await (id, state) in try await client.query(SQL.jobStates(ids: ids), logger: logger).decode((UUID, JobState).self) {
            out[id] = state
        }
        return out
    }

    /// State, attempts and the error history (JSON text) of one job.
    public func errors(of id: UUID) async throws -> (JobState, Int, String)? {
        for try await (state, attempts, errors) in try await client.query(SQL.jobErrors(id: id), logger: logger)
            .decode((JobState, Int, String).self) {
            return (state, attempts, errors)
        }
        return nil
    }

    public func workers() async throws -> [WorkerInfo] {
        var out: [WorkerInfo] = []
        for try await row in try await client.query(SQL.workers, logger: logger) {
            let c = Columns(row)
            out.append(WorkerInfo(id: try c("id"), host: try c("host"), pid: try c("pid"), models: try c("models"),
                                  queues: try c("queues"), startedAt: try c("started_at"), heartbeatAt: try c("heartbeat_at"),
                                  stoppedAt: try c("stopped_at"), jobsDone: try c("jobs_done"),
                                  heartbeatAge: try c("heartbeat_age"), running: try c("running")))
        }
        return out
    }

    /// Figures for `zipar-admin stats`. Live workers: not stopped, heartbeat within `liveSeconds`.
    public func stats(windowMinutes: Int = 10, liveSeconds: Double = 30) async throws -> StatsReport {
        let queues = try await self.queues()
        var recent = 0, total = 0
        var span = 0.0
        for try await (r, t, s) in try await client.query(SQL.throughput(windowMinutes: windowMinutes), logger: logger)
            .decode((Int, Int, Double).self) { recent = r; total = t; span = s }
        var report = StatsReport(
            queues: queues,
            windowMinutes: windowMinutes, jobsPerMinuteRecent: Double(recent) / Double(windowMinutes),
            jobsPerMinuteOverall: span > 0 ? Double(total) / (span / 60) : 0,
            results: 0, latencyMs: nil, decodeMs: nil, passes: 0, ntpPasses: 0, passesSaved: 0, liveWorkers: [])
        for try await (n, l50, l95, lmax, d50, d95, dmax, passes, ntp)
            in try await client.query(SQL.resultFigures, logger: logger)
            .decode((Int, Double?, Double?, Double?, Double?, Double?, Double?, Int, Int).self) {
            report.results = n
            if let l50, let l95, let lmax { report.latencyMs = .init(p50: l50, p95: l95, max: lmax) }
            if let d50, let d95, let dmax { report.decodeMs = .init(p50: d50, p95: d95, max: dmax) }
            report.passes = passes
            report.ntpPasses = ntp
            report.passesSaved = ntp > 0 ? 1 - Double(passes) / Double(ntp) : 0
        }
        report.liveWorkers = try await workers().filter { $0.stoppedAt == nil && $0.heartbeatAge <= liveSeconds }
        return report
    }

    /// Ids of jobs with a result, oldest first.
    public func resultIDs(queue: String? = nil) async throws -> [UUID] {
        var out: [UUID] = []
        for try await id in try await client.query(SQL.resultIDs(queue: queue), logger: logger).decode(UUID.self) { out.append(id) }
        return out
    }

    /// One result with its PNG.
    public func result(id: UUID) async throws -> (StoredResult, [UInt8])? {
        for try await row in try await client.query(SQL.result(id: id), logger: logger) {
            let c = Columns(row)
            let meta = StoredResult(
                jobID: try c("id", as: UUID.self).text, queue: try c("queue"), model: try c("model"),
                parameters: try? c.parameters().get(), width: try c("width"), height: try c("height"),
                passes: try c("passes"), ntpPasses: try c("ntp_passes"), tokens: try c("tokens"), queries: try c("queries"),
                decodeMs: try c("decode_ms"), latencyMs: try c("latency_ms"), passMs: try c("pass_ms"),
                worker: try c("worker"), attempt: try c("attempt"), finishedAt: try c("finished_at"))
            return (meta, [UInt8](try c("png", as: ByteBuffer.self).readableBytesView))
        }
        return nil
    }

    /// (results, passes, ntp passes, mean latency ms, max latency ms) over `ids`.
    public func resultSummary(ids: [UUID]) async throws -> (Int, Int, Int, Double, Double) {
        for try await row in try await client.query(SQL.resultSummary(ids: ids), logger: logger)
            .decode((Int, Int, Int, Double, Double).self) { return row }
        return (0, 0, 0, 0, 0)
    }

    /// Waits for a NOTIFY on submit, retry or resume; returns when one arrives or the connection fails.
    /// Runs until cancelled; the caller reconnects.
    public func listenForJobs(_ onNotify: @Sendable () -> Void) async throws {
        try await client.withConnection { conn in
            try await conn.listen(on: SQL.listenChannel) { notifications in
                onNotify()  // listening now: anything submitted before was missed, so look once
                for try await _ in notifications { onNotify() }
            }
        }
    }

    // MARK: set-up (tests, scripts)

    /// Creates a database on the same server (`name`: lowercase letters, digits, underscores).
    public func createDatabase(_ name: String) async throws { try await exec(SQL.createDatabase(name)) }
    public func dropDatabase(_ name: String) async throws { try await exec(SQL.dropDatabase(name)) }
    /// Rows in one of the service's tables (jobs, results, queues, workers, schema_version).
    public func count(_ table: String) async throws -> Int { try await first(SQL.countRows(table), Int.self) ?? 0 }

    // MARK: helpers

    /// `client.withTransaction`, rethrowing the closure's own error (postgres-nio wraps it) when the
    /// rollback went fine, so callers can catch `LeaseLost`.
    private func transaction<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        do {
            return try await client.withTransaction(logger: logger) { conn in try await body(conn) }
        } catch let e as PostgresTransactionError {
            if let inner = e.closureError, e.rollbackError == nil, e.commitError == nil { throw inner }
            throw e
        }
    }

    private func exec(_ q: PostgresQuery) async throws {
        try await client.query(q, logger: logger)
    }

    private func first<T: PostgresDecodable & Sendable>(_ q: PostgresQuery, _ type: T.Type) async throws -> T? {
        for try await v in try await client.query(q, logger: logger).decode(T.self) { return v }
        return nil
    }
}

/// A readable, password-free description of an error (PSQLError hides its details by default).
public func describeError(_ error: Error) -> String {
    if let e = error as? PSQLError {
        if let info = e.serverInfo, let message = info[.message] {
            let state = info[.sqlState].map { " [\($0)]" } ?? ""
            let detail = info[.detail].map { " (\($0))" } ?? ""
            return "postgres: \(message)\(state)\(detail)"
        }
        var s = "postgres: \(e.code)"
        if let u = e.underlying { s += ": \(u)" }
        return s
    }
    let text = "\(error)"
    if text.contains("connectionCreationCircuitBreakerTripped") || text.contains("connectionCreationFailed") {
        return "cannot connect to PostgreSQL (is the server running? check DATABASE_URL or PGHOST/PGPORT)"
    }
    return text
}
