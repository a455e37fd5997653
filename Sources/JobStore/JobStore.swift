import Foundation
import JobCore
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
        // One bounded, classified connection attempt first: a wrong password, a closed port or a bad
        // certificate is reported as such within the connect timeout, not as a pool giving up later.
        try await config.checkConnection()
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
    public static let expectedSchemaVersion = Migration.latestVersion

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
    /// submission gets the key `KEY#n`: a re-run with the same content inserts nothing and returns the ids of
    /// the first run; the same key with other content is an error and inserts nothing. Queues must exist
    /// unless `createQueues`; labels must be free in their queue: a taken label is an error naming its line
    /// (`.fail`), or with `.skip` that job is not inserted and counted in `skipped` (the rest still go in
    /// in the one transaction). With a `batchRequestSHA256` (the SHA-256 of the request, as
    /// `POST /api/batches` records it) the jobs also form a batch, as the batch API makes one
    /// (`SubmitOutcome.batchID`); a re-run under the same key answers the first run's batch.
    /// The rows go in many to a statement (`insertJobs`), shared with `createBatch`.
    public func submit(_ jobs: [JobSpec], idempotencyKey: String? = nil, createQueues: Bool = false,
                       onConflict: LabelConflict = .fail, batchRequestSHA256: String? = nil) async throws -> SubmitOutcome {
        let logger = self.logger
        return try await transaction { conn -> SubmitOutcome in
            let queues = Set(jobs.map(\.queue)).sorted()
            if createQueues {
                for q in queues {
                    if let problem = QueueName.problem(q) { throw SubmitError(problem) }
                    try await conn.query(SQL.ensureQueue(q), logger: logger)
                }
            } else {
                var known = Set<String>()
                for try await name in try await conn.query(SQL.existingQueues(queues), logger: logger).decode(String.self) { known.insert(name) }
                if let missing = queues.first(where: { !known.contains($0) }) {
                    throw SubmitError("queue '\(missing)' does not exist: create it with `zipar-admin queues create \(missing)` or submit with --create-queue")
                }
            }
            var firstRun: FirstRun?
            if let key = idempotencyKey { firstRun = try await checkResubmission(conn, jobs, key: key) }
            let taken = try await takenLabels(conn, jobs, key: idempotencyKey, onConflict: onConflict)
            // Job n of a keyed submission is KEY#n, n counted before any line is skipped.
            let kept = jobs.indices.filter { n in jobs[n].label.map { !taken.contains(LabelKey(queue: jobs[n].queue, label: $0)) } ?? true }
            var batchID: UUID?
            if let sha = batchRequestSHA256 {
                if let firstRun {
                    batchID = firstRun.batchID
                } else {
                    for try await id in try await conn.query(SQL.insertBatch(key: nil, requestSHA256: sha, jobs: kept.count, webhook: nil),
                                                             logger: logger).decode(UUID.self) { batchID = id }
                }
            }
            let rows = try await insertJobs(conn, kept.map { jobs[$0] }, keys: kept.map { n in idempotencyKey.map { "\($0)#\(n)" } },
                                            batchID: batchID)
            let inserted = rows.filter(\.inserted).count
            if inserted > 0 {
                for q in queues { try await conn.query(SQL.notify(queue: q), logger: logger) }
            }
            return SubmitOutcome(ids: rows.map(\.id), inserted: inserted, skipped: jobs.count - kept.count, batchID: batchID)
        }
    }

    /// What a re-run under a submission key finds of the first run.
    struct FirstRun {
        /// The batch the first run made (nil: none).
        var batchID: UUID?
    }

    /// A key names one submission: a re-run must bring the same jobs (count, model, parameters, priority,
    /// attempts, label), or nothing is inserted. Nil when the key names no job yet. One query for all the
    /// jobs, however many.
    private func checkResubmission(_ conn: PostgresConnection, _ jobs: [JobSpec], key: String) async throws -> FirstRun? {
        guard let queue = jobs.first?.queue else { return nil }
        var existing = 0
        for try await n in try await conn.query(SQL.keyedJobCount(queue: queue, key: key), logger: logger).decode(Int.self) { existing = n }
        guard existing > 0 else { return nil }
        let differs = SubmitError("idempotency key '\(key)' was used for a different submission to queue \(queue) "
                                  + "(\(existing) job(s)); nothing inserted: use a new key")
        guard existing == jobs.count else { throw differs }
        var firstRun = FirstRun()
        let keys = jobs.indices.map { "\(key)#\($0)" }
        for try await row in try await conn.query(SQL.jobsByKeys(queues: jobs.map(\.queue), keys: keys), logger: logger) {
            let c = Columns(row)
            guard let n = Int(try c("key", as: String.self).dropFirst(key.count + 1)), jobs.indices.contains(n) else { continue }
            let job = jobs[n]
            let same = try c("model", as: String.self) == job.model && (try? c.parameters().get()) == job.parameters
                && (try c("priority", as: Int.self)) == job.priority && (try c("max_attempts", as: Int.self)) == job.maxAttempts
                && (try c("label", as: String?.self)) == job.label
            if !same { throw differs }
            if firstRun.batchID == nil { firstRun.batchID = try c("batch_id", as: UUID?.self) }
        }
        return firstRun
    }

    /// Refuses labels already held by jobs of another submission (what batches do: they never skip).
    func checkLabels(_ conn: PostgresConnection, _ jobs: [JobSpec], key: String?) async throws {
        _ = try await takenLabels(conn, jobs, key: key, onConflict: .fail)
    }

    /// A label names one job of a queue: labels already held by jobs of another submission are refused
    /// (`.fail`, the error names the line) or returned to be skipped (`.skip`).
    func takenLabels(_ conn: PostgresConnection, _ jobs: [JobSpec], key: String?, onConflict: LabelConflict) async throws -> Set<LabelKey> {
        var taken = Set<LabelKey>()
        for queue in Set(jobs.compactMap { $0.label != nil ? $0.queue : nil }) {
            let labels = jobs.filter { $0.queue == queue }.compactMap(\.label)
            for try await (label, id, existingKey) in try await conn.query(SQL.labelsTaken(queue: queue, labels: labels), logger: logger)
                .decode((String, UUID, String?).self) {
                if let key, let existingKey, existingKey.hasPrefix(key + "#") { continue }   // this submission's own re-run
                if onConflict == .skip { taken.insert(LabelKey(queue: queue, label: label)); continue }
                let line = jobs.first { $0.label == label && $0.queue == queue }?.line ?? 0
                throw SubmitError("line \(line), label: '\(label)' is already used in queue \(queue) by job \(id.text)", line: line)
            }
        }
        return taken
    }

    // MARK: worker side

    /// Records (or revives) a worker row; `Runner`'s `registerWorker` checks the schema first. The lease
    /// length decides when the worker stops counting as live; `loadFailures` (model -> error) replaces the
    /// models an earlier run of this id could not load.
    public func recordWorker(id: String, host: String, pid: Int, models: [String], queues: [String],
                             leaseSeconds: Double = 30, version: String? = nil, loadFailures: [String: String] = [:]) async throws {
        try await exec(SQL.registerWorker(id: id, host: host, pid: pid, models: models, queues: queues,
                                          leaseSeconds: leaseSeconds, version: version, loadFailures: loadFailures))
    }

    public func workerStopped(id: String) async throws {
        try await exec(SQL.workerStopped(id: id))
    }

    /// Claims up to `limit` runnable jobs of unpaused `queues` for `models`, priority first, then oldest;
    /// each gets a lease of `leaseSeconds` with a fresh token. Concurrent claimers never get the same job.
    public func claim(limit: Int, queues: [String], models: [String], owner: String, leaseSeconds: Double) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        var out: [ClaimedJob] = []
        let rows = try await client.execute(SQL.Claim(limit: limit, queues: queues, models: models, owner: owner,
                                                      leaseSeconds: leaseSeconds), logger: logger)
        var order: [UUID: Int64] = [:]
        for try await row in rows {
            let c = Columns(row)
            let id = try c("id", as: UUID.self)
            out.append(ClaimedJob(id: id, queue: try c("queue"), model: try c("model"), parameters: c.parameters(),
                                  priority: try c("priority"), attempt: try c("attempts"), maxAttempts: try c("max_attempts"),
                                  leaseToken: try c("lease_token"), createdAt: try c("created_at"), label: try c("label")))
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
    /// `graceSeconds`: after a server restart, how long leases get to be renewed (a lease length).
    public func rescueExpired(graceSeconds: Double = 30) async throws -> [(UUID, JobState)] {
        var out: [(UUID, JobState)] = []
        for try await (id, state) in try await client.query(SQL.rescue(graceSeconds: graceSeconds), logger: logger)
            .decode((UUID, JobState).self) {
            out.append((id, state))
        }
        return out
    }

    /// Queued or running jobs of unpaused `queues` for `models` (what a draining worker waits for).
    public func pendingCount(queues: [String], models: [String]) async throws -> Int {
        try await first(SQL.pending(queues: queues, models: models), Int.self) ?? 0
    }

    /// Queued jobs for `models` that sit in paused `queues` (a draining worker says so instead of "drained").
    public func pausedQueuedCount(queues: [String], models: [String]) async throws -> Int {
        try await first(SQL.pausedQueued(queues: queues, models: models), Int.self) ?? 0
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
    func transaction<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        do {
            return try await client.withTransaction(logger: logger) { conn in try await body(conn) }
        } catch let e as PostgresTransactionError {
            if let inner = e.closureError, e.rollbackError == nil, e.commitError == nil { throw inner }
            throw e
        }
    }

    func exec(_ q: PostgresQuery) async throws {
        try await client.query(q, logger: logger)
    }

    func first<T: PostgresDecodable & Sendable>(_ q: PostgresQuery, _ type: T.Type) async throws -> T? {
        for try await v in try await client.query(q, logger: logger).decode(T.self) { return v }
        return nil
    }
}

/// A readable, password-free description of an error (PSQLError hides its details by default).
public func describeError(_ error: Error) -> String {
    if let s = describeConnectionError(error) { return s }
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
