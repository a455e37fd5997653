import Foundation
import JobCore
import NIOCore
import PostgresNIO

/// An operator's request the store refuses (unknown queue, a key reused for other content, a taken label).
public struct SubmitError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The input line the refusal is about (a taken label), so the caller can name its file and line.
    public var line: Int?
    public init(_ description: String, line: Int? = nil) { self.description = description; self.line = line }
}

/// What `zipar-admin` reads and changes: queues, one job, job lists, retries, cancels, purges, workers,
/// stats and exports. The SQL is in `SQL`.
extension JobStore {
    // MARK: queues

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

    /// Pauses or resumes a queue; throws for a queue that does not exist (it is never created here). With
    /// `audit`, its audit row is written in the same transaction.
    public func setPaused(queue: String, _ paused: Bool, audit: AuditNote? = nil) async throws {
        let logger = self.logger
        let found = try await transaction { conn -> Bool in
            var found = false
            for try await _ in try await conn.query(SQL.setPaused(queue, paused), logger: logger).decode(String.self) { found = true }
            if found, let audit { try await conn.query(SQL.insertAudit(audit, count: 1), logger: logger) }
            return found
        }
        guard found else { throw SubmitError("queue '\(queue)' does not exist (zipar-admin queues lists them)") }
        if !paused { try await exec(SQL.notify(queue: queue)) }
    }

    /// Creates a queue; false when it already existed.
    @discardableResult
    public func createQueue(_ name: String) async throws -> Bool {
        if let problem = QueueName.problem(name) { throw SubmitError(problem) }
        return try await first(SQL.createQueue(name), String.self) != nil
    }

    /// Deletes a queue. One that still has jobs is refused unless `withJobs`, which deletes them (and their
    /// results) too. Returns the jobs deleted.
    public func deleteQueue(_ name: String, withJobs: Bool) async throws -> Int {
        let logger = self.logger
        return try await transaction { conn -> Int in
            var jobs = 0
            for try await n in try await conn.query(SQL.queueJobCount(name), logger: logger).decode(Int.self) { jobs = n }
            if jobs > 0 && !withJobs {
                throw SubmitError("queue '\(name)' still has \(jobs) job(s); purge them first or pass --with-jobs")
            }
            if jobs > 0 { try await conn.query(SQL.deleteQueueJobs(name), logger: logger) }
            var deleted = false
            for try await _ in try await conn.query(SQL.deleteQueue(name), logger: logger).decode(String.self) { deleted = true }
            guard deleted else { throw SubmitError("queue '\(name)' does not exist") }
            return jobs
        }
    }

    // MARK: one job, many jobs

    /// Everything about one job (nil when there is no such job).
    public func job(id: UUID) async throws -> JobDetail? {
        for try await row in try await client.query(SQL.jobDetail(id: id), logger: logger) {
            let c = Columns(row)
            let errorsJSON = try c("errors_json", as: String.self)
            let errors = (try? JSONDecoder().decode([AttemptError].self, from: Data(errorsJSON.utf8))) ?? []
            var result: ResultStats?
            if try c("has_result", as: Bool.self) {
                result = ResultStats(
                    width: try c("width"), height: try c("height"), passes: try c("passes"), ntpPasses: try c("ntp_passes"),
                    tokens: try c("tokens"), queries: try c("queries"), decodeMs: try c("decode_ms"),
                    latencyMs: try c("latency_ms"), passMs: try c("pass_ms"), queueMs: try c("queue_ms"),
                    gptMs: try c("gpt_ms"), vqMs: try c("vq_ms"), pngMs: try c("png_ms"),
                    decodeOrder: try c("decode_order"), drafts: try c("drafts"), accepted: try c("accepted"),
                    worker: try c("worker"),
                    attempt: try c("attempt"), createdAt: try c("result_at"), exportedAt: try c("exported_at"))
            }
            return JobDetail(
                id: try c("id", as: UUID.self).text, queue: try c("queue"), model: try c("model"), label: try c("label"),
                prompt: try c("prompt"), className: try c("class_name"), state: try c("state"),
                parameters: try? c.parameters().get(), priority: try c("priority"), attempts: try c("attempts"),
                maxAttempts: try c("max_attempts"), attemptsBeforeRetry: try c("attempts_before_retry"),
                createdAt: try c("created_at"), runAfter: try c("run_after"), startedAt: try c("started_at"),
                attemptStartedAt: try c("claimed_at"), finishedAt: try c("finished_at"), leaseOwner: try c("lease_owner"),
                leaseExpiresAt: try c("lease_expires_at"), errors: errors, result: result)
        }
        return nil
    }

    /// The PNG of a done job (nil when it has no result).
    public func png(id: UUID) async throws -> [UInt8]? {
        guard let buffer = try await first(SQL.resultPNG(id: id), ByteBuffer.self) else { return nil }
        return [UInt8](buffer.readableBytesView)
    }

    /// Jobs matching `filter`, newest first (at most `filter.limit`, default 50).
    public func jobs(_ filter: JobFilter) async throws -> [JobListEntry] {
        var out: [JobListEntry] = []
        for try await row in try await client.query(SQL.jobList(filter), logger: logger) {
            let c = Columns(row)
            out.append(JobListEntry(
                id: try c("id", as: UUID.self).text, queue: try c("queue"), model: try c("model"), label: try c("label"),
                prompt: try c("prompt"), className: try c("class_name"), classLabel: try c("class_label"),
                textPrompt: try c("text_prompt"), state: try c("state"), policy: try c("policy"), seed: try c("seed"),
                attempts: try c("attempts"), createdAt: try c("created_at"), finishedAt: try c("finished_at"),
                lastError: try c("last_error")))
        }
        return out
    }

    public func states(of ids: [UUID]) async throws -> [UUID: JobState] {
        var out: [UUID: JobState] = [:]
        for try await (id, state) in try await client.query(SQL.jobStates(ids: ids), logger: logger).decode((UUID, JobState).self) {
            out[id] = state
        }
        return out
    }

    /// Failed or cancelled jobs among `ids`, with their last error, in submission order.
    public func lastErrors(ids: [UUID]) async throws -> [(UUID, JobState, String)] {
        var out: [(UUID, JobState, String)] = []
        for try await row in try await client.query(SQL.lastErrors(ids: ids), logger: logger).decode((UUID, JobState, String).self) {
            out.append(row)
        }
        return out
    }

    // MARK: retry, cancel, purge

    /// Failed or cancelled jobs back to queued with fresh attempts; an outcome for every id asked.
    public func retry(ids: [UUID], audit: AuditNote? = nil) async throws -> [IDOutcome] {
        try await changeEach(SQL.retry(ids: ids), ids: ids, verb: IDOutcome.requeued, audit: audit,
                             refusal: { "is \($0.rawValue), not failed or cancelled" })
    }

    /// Every failed job (of `queue`) back to queued. Returns how many.
    public func retryFailed(queue: String?) async throws -> Int { try await retryAllFailed(queue: queue).count }

    /// Every failed job (of `queue`) back to queued: an outcome (`requeued`) for each, as `retry(ids:)` gives.
    public func retryAllFailed(queue: String?) async throws -> [IDOutcome] {
        var queues = Set<String>()
        var out: [IDOutcome] = []
        for try await (id, q) in try await client.query(SQL.retryFailed(queue: queue), logger: logger).decode((UUID, String).self) {
            queues.insert(q)
            out.append(IDOutcome(id: id.text, outcome: IDOutcome.requeued, changed: true))
        }
        for q in queues { try await exec(SQL.notify(queue: q)) }
        return out
    }

    /// Queued or running jobs to cancelled (a running job's worker loses its lease); an outcome for every id.
    public func cancel(ids: [UUID], audit: AuditNote? = nil) async throws -> [IDOutcome] {
        try await changeEach(SQL.cancel(ids: ids), ids: ids, verb: IDOutcome.cancelled, audit: audit,
                             refusal: { "already final (\($0.rawValue))" })
    }

    /// Runs a retry or cancel over `ids` and, with `audit`, writes its audit row (counting the jobs changed)
    /// in the same transaction.
    private func changeEach(_ q: PostgresQuery, ids: [UUID], verb: String, audit: AuditNote?,
                            refusal: (JobState) -> String) async throws -> [IDOutcome] {
        struct Row: Sendable { var id: UUID; var before: JobState; var queue: String? }
        let logger = self.logger
        let rows = try await transaction { conn -> [Row] in
            var rows: [Row] = []
            for try await (id, before, queue) in try await conn.query(q, logger: logger).decode((UUID, JobState, String?).self) {
                rows.append(Row(id: id, before: before, queue: queue))
            }
            if let audit { try await conn.query(SQL.insertAudit(audit, count: rows.filter { $0.queue != nil }.count), logger: logger) }
            return rows
        }
        var seen: [UUID: IDOutcome] = [:]
        var queues = Set<String>()
        for r in rows {
            if let queue = r.queue { queues.insert(queue) }
            seen[r.id] = IDOutcome(id: r.id.text, outcome: r.queue != nil ? verb : refusal(r.before), changed: r.queue != nil)
        }
        if verb == IDOutcome.requeued { for q in queues { try await exec(SQL.notify(queue: q)) } }
        return ids.map { seen[$0] ?? IDOutcome(id: $0.text, outcome: IDOutcome.unknown, changed: false) }
    }

    /// Finished jobs older than `olderThan` seconds within `filter` (and their results). Results never
    /// exported stay unless `includeUnexported`. With `dryRun` nothing is deleted. Also forgets workers
    /// stopped that long ago, and the completion events that old whose jobs are gone (a stream resuming
    /// from before them starts at the oldest left). Returns what was (or would be) removed: id and state.
    public func purge(olderThan: Double, filter: JobFilter = JobFilter(), includeUnexported: Bool = false,
                      dryRun: Bool = false) async throws -> [(UUID, JobState)] {
        var out: [(UUID, JobState)] = []
        let q = SQL.purge(filter, olderThanSeconds: olderThan, includeUnexported: includeUnexported, dryRun: dryRun)
        for try await row in try await client.query(q, logger: logger).decode((UUID, JobState).self) { out.append(row) }
        if !dryRun {
            try await exec(SQL.purgeWorkers(olderThanSeconds: olderThan))
            try await exec(SQL.purgeEvents(olderThanSeconds: olderThan))
        }
        return out
    }

    // MARK: workers and stats

    public func workers() async throws -> [WorkerInfo] {
        var out: [WorkerInfo] = []
        for try await row in try await client.query(SQL.workers, logger: logger) {
            let c = Columns(row)
            out.append(WorkerInfo(id: try c("id"), host: try c("host"), pid: try c("pid"), models: try c("models"),
                                  queues: try c("queues"), startedAt: try c("started_at"), heartbeatAt: try c("heartbeat_at"),
                                  stoppedAt: try c("stopped_at"), jobsDone: try c("jobs_done"), version: try c("version"),
                                  heartbeatAge: try c("heartbeat_age"), leaseSeconds: try c("lease_seconds"),
                                  liveness: WorkerInfo.Liveness(rawValue: try c("liveness")) ?? .silent,
                                  running: try c("running")))
        }
        return out
    }

    /// Figures for `zipar-admin stats`. Live workers as `workers` says: heartbeat younger than their lease.
    /// `resultsInWindow`: results, latencies, stages and passes of the jobs finished in the window only (the
    /// dashboard's queues page, which must not sort every result of a large store), not of all history.
    /// - resultsWindowMinutes: the results the figures cover, the jobs finished in the last this many minutes
    ///   (nil = all history); `resultsInWindow` takes the throughput window instead (the queues page).
    public func stats(windowMinutes: Int = 10, resultsInWindow: Bool = false, resultsWindowMinutes: Int? = nil) async throws -> StatsReport {
        precondition(windowMinutes >= 1, "the throughput window must be at least a minute")
        let resultsWindow = resultsInWindow ? windowMinutes : resultsWindowMinutes
        let queues = try await self.queues()
        var recent = 0, total = 0
        var span = 0.0
        for try await (r, t, s) in try await client.query(SQL.throughput(windowMinutes: windowMinutes, over: resultsWindow), logger: logger)
            .decode((Int, Int, Double).self) { recent = r; total = t; span = s }
        var report = StatsReport(
            queues: queues,
            windowMinutes: windowMinutes, jobsPerMinuteRecent: Double(recent) / Double(windowMinutes),
            jobsPerMinuteOverall: span > 0 ? Double(total) / (span / 60) : 0, resultsWindowMinutes: resultsWindow,
            results: 0, latencyMs: nil, decodeMs: nil, stageMs: nil, passes: 0, ntpPasses: 0, passesSaved: 0, liveWorkers: [])
        for try await (n, l50, l95, lmax, d50, d95, dmax, passes, ntp)
            in try await client.query(SQL.resultFigures(windowMinutes: resultsWindow), logger: logger)
            .decode((Int, Double?, Double?, Double?, Double?, Double?, Double?, Int, Int).self) {
            report.results = n
            if let l50, let l95, let lmax { report.latencyMs = .init(p50: l50, p95: l95, max: lmax) }
            if let d50, let d95, let dmax { report.decodeMs = .init(p50: d50, p95: d95, max: dmax) }
            report.passes = passes
            report.ntpPasses = ntp
            report.passesSaved = ntp > 0 ? 1 - Double(passes) / Double(ntp) : 0
        }
        var stages: [String: StatsReport.Latency] = [:]
        for try await (stage, p50, p95, mx) in try await client.query(SQL.stageFigures(windowMinutes: resultsWindow), logger: logger)
            .decode((String, Double, Double, Double).self) { stages[stage] = .init(p50: p50, p95: p95, max: mx) }
        report.stageMs = stages.isEmpty ? nil : stages
        report.liveWorkers = try await workers().filter { $0.liveness == .live }
        report.unserved = try await unservedJobs()
        return report
    }

    /// Queued jobs no live worker serves, by queue and model.
    public func unservedJobs() async throws -> [UnservedJobs] {
        var out: [UnservedJobs] = []
        for try await (queue, model, n) in try await client.query(SQL.unserved, logger: logger).decode((String, String, Int).self) {
            out.append(UnservedJobs(queue: queue, model: model, queued: n))
        }
        return out
    }

    /// Queued jobs among `ids` that no live worker serves, by queue and model (one definition of live:
    /// heartbeat younger than the worker's lease, as `workers` says).
    public func unservedJobs(ids: [UUID]) async throws -> [UnservedJobs] {
        var out: [UnservedJobs] = []
        for try await (queue, model, n) in try await client.query(SQL.unserved(ids: ids), logger: logger).decode((String, String, Int).self) {
            out.append(UnservedJobs(queue: queue, model: model, queued: n))
        }
        return out
    }

    /// Jobs by queue and shown state, and how long each queue's oldest due job has waited.
    public func queueDepths() async throws -> [QueueDepth] {
        var out: [QueueDepth] = []
        for try await row in try await client.query(SQL.queueDepths, logger: logger) {
            let c = Columns(row)
            out.append(QueueDepth(queue: try c("queue"), state: try c("state"), count: try c("n"), oldestQueuedSeconds: try c("oldest")))
        }
        return out
    }

    // MARK: export

    /// Ids to export within `filter` (done jobs by default), oldest first; `onlyNew`: not exported before.
    public func exportIDs(_ filter: JobFilter, onlyNew: Bool) async throws -> [UUID] {
        var out: [UUID] = []
        for try await id in try await client.query(SQL.exportIDs(filter, onlyNew: onlyNew), logger: logger).decode(UUID.self) {
            out.append(id)
        }
        return out
    }

    /// Records that a job's result was exported (purge keeps results that never were).
    /// Stamps the result exported; returns the stamp (nil when the job has no result).
    @discardableResult
    public func markExported(id: UUID) async throws -> Date? {
        for try await (at,) in try await client.query(SQL.markExported(id: id), logger: logger).decode((Date,).self) { return at }
        return nil
    }

    /// (results, passes, ntp passes, mean latency ms, max latency ms) over `ids`.
    public func resultSummary(ids: [UUID]) async throws -> (Int, Int, Int, Double, Double) {
        for try await row in try await client.query(SQL.resultSummary(ids: ids), logger: logger)
            .decode((Int, Int, Int, Double, Double).self) { return row }
        return (0, 0, 0, 0, 0)
    }
}
