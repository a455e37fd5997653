import Foundation
import JobCore
import PostgresNIO

extension JobStore {
    // MARK: batches

    /// Inserts a batch and all its `jobs` in one transaction (all or nothing) and wakes the workers.
    /// With an `idempotencyKey`: when the key names a batch already, the same `requestSHA256` answers that
    /// batch (`replayed`) and another one throws `BatchKeyConflict`; nothing is inserted either way.
    /// Queues must exist; labels must be free in their queue (`SubmitError` otherwise).
    /// A `webhook` URL gets the finished batch POSTed (see `WebhookSender` in Dashboard).
    /// With an `auditActor`, a new batch's audit row (`AuditNote.batchCreated`) is written in the same
    /// transaction: no batch without its row, no row for a batch that was rolled back (a replay writes none).
    public func createBatch(_ jobs: [JobSpec], requestSHA256: String, idempotencyKey: String?,
                            webhook: String? = nil, auditActor: String? = nil) async throws -> BatchCreated {
        let logger = self.logger
        let (id, replayed): (UUID, Bool) = try await transaction { conn -> (UUID, Bool) in
            var inserted: UUID?
            for try await id in try await conn.query(SQL.insertBatch(key: idempotencyKey, requestSHA256: requestSHA256,
                                                                     jobs: jobs.count, webhook: webhook), logger: logger).decode(UUID.self) {
                inserted = id
            }
            guard let batchID = inserted else {
                // The key is taken (a concurrent first request waited for here until it committed).
                guard let key = idempotencyKey else { throw SubmitError("the batch was not inserted") }
                for try await (existing, sha) in try await conn.query(SQL.batchByKey(key), logger: logger).decode((UUID, String).self) {
                    guard sha == requestSHA256 else { throw BatchKeyConflict(key: key, batchID: existing) }
                    return (existing, true)
                }
                throw SubmitError("idempotency key '\(key.prefix(80))' is taken but names no batch")
            }
            let queues = Set(jobs.map(\.queue)).sorted()
            var known = Set<String>()
            for try await name in try await conn.query(SQL.existingQueues(queues), logger: logger).decode(String.self) { known.insert(name) }
            if let missing = queues.first(where: { !known.contains($0) }) {
                let line = jobs.first { $0.queue == missing }?.line ?? 0
                throw SubmitError("line \(line), queue: '\(missing)' does not exist (create it with `zipar-admin queues create \(missing)`)")
            }
            try await checkLabels(conn, jobs, key: nil)
            _ = try await insertJobs(conn, jobs, keys: jobs.map { _ in nil }, batchID: batchID)
            for q in queues { try await conn.query(SQL.notify(queue: q), logger: logger) }
            if let auditActor {
                try await conn.query(SQL.insertAudit(.batchCreated(actor: auditActor, batch: batchID.text), count: jobs.count), logger: logger)
            }
            return (batchID, false)
        }
        guard let info = try await batch(id: id) else { throw SubmitError("batch \(id.text) vanished") }
        return BatchCreated(batch: info, replayed: replayed)
    }

    /// A batch with its jobs by state (nil when there is no such batch).
    public func batch(id: UUID) async throws -> BatchInfo? {
        var info: BatchInfo?
        for try await (bid, jobs, created, cancelled, key) in try await client.query(SQL.batch(id: id), logger: logger)
            .decode((UUID, Int, Date, Date?, String?).self) {
            info = BatchInfo(id: bid.text, jobs: jobs, counts: [:], createdAt: created, finishedAt: nil, cancelledAt: cancelled,
                             idempotencyKey: key)
        }
        guard var info else { return nil }
        var lastFinish: Date?
        for try await (state, n, finished) in try await client.query(SQL.batchCounts(id: id), logger: logger)
            .decode((JobState, Int, Date?).self) {
            info.counts[state] = n
            if let finished { lastFinish = max(lastFinish ?? finished, finished) }
        }
        let open = (info.counts[.scheduled] ?? 0) + (info.counts[.queued] ?? 0) + (info.counts[.running] ?? 0)
        info.finishedAt = open == 0 ? (lastFinish ?? info.createdAt) : nil
        if let hook = try await webhookState(batch: id), hook.url != nil { info.webhook = hook }
        return info
    }

    /// The batch's jobs in input order: only the finished ones unless `onlyFinished` is false.
    public func batchResults(id: UUID, onlyFinished: Bool) async throws -> [BatchResultLine] {
        var out: [BatchResultLine] = []
        for try await row in try await client.query(SQL.batchResults(id: id, onlyFinished: onlyFinished), logger: logger) {
            let c = Columns(row)
            let jobID = try c("id", as: UUID.self)
            let state = try c("state", as: JobState.self)
            let done = try c("has_result", as: Bool.self)
            let lastError: String? = try c("last_error")
            out.append(BatchResultLine(
                customID: try c("custom_id"), jobID: jobID.text, label: try c("label"), state: state,
                passes: try c("passes"), ntpPasses: try c("ntp_passes"),
                seconds: try c("latency_ms", as: Double?.self).map { $0 / 1000 },
                decodeSeconds: try c("decode_ms", as: Double?.self).map { $0 / 1000 },
                imageURL: done ? imageURL(jobID) : nil, lastError: state == .done ? nil : lastError))
        }
        return out
    }

    /// Cancels the batch's queued and running jobs and marks the batch cancelled; nil when there is no such
    /// batch, else how many jobs it cancelled. With `audit`, its row (counting those jobs) is written in the
    /// same transaction.
    public func cancelBatch(id: UUID, audit: AuditNote? = nil) async throws -> Int? {
        let logger = self.logger
        return try await transaction { conn -> Int? in
            var exists = false
            for try await _ in try await conn.query(SQL.markBatchCancelled(id: id), logger: logger).decode(UUID.self) { exists = true }
            guard exists else { return nil }
            var n = 0
            for try await count in try await conn.query(SQL.cancelBatch(id: id), logger: logger).decode(Int.self) { n = count }
            if let audit { try await conn.query(SQL.insertAudit(audit, count: n), logger: logger) }
            return n
        }
    }

    // MARK: webhooks

    /// Finished batches whose webhook is due (at most `limit`), each held for `leaseSeconds` against other
    /// senders: (batch, URL, tries so far).
    public func claimWebhooks(limit: Int = 20, leaseSeconds: Double = 120) async throws -> [(UUID, String, Int)] {
        var out: [(UUID, String, Int)] = []
        for try await row in try await client.query(SQL.claimWebhooks(limit: limit, leaseSeconds: leaseSeconds), logger: logger)
            .decode((UUID, String, Int).self) { out.append(row) }
        return out
    }

    public func webhookDelivered(batch: UUID) async throws { try await exec(SQL.webhookDelivered(id: batch)) }

    /// Records a failed try: the next one in `retryIn` seconds, or none (nil: given up).
    public func webhookFailed(batch: UUID, error: String, retryIn: Double?) async throws {
        try await exec(SQL.webhookFailed(id: batch, error: String(error.prefix(1000)), retryIn: retryIn))
    }

    /// Where a batch's webhook stands (nil when there is no such batch).
    public func webhookState(batch: UUID) async throws -> WebhookState? {
        for try await (url, attempts, delivered, error, pending) in try await client.query(SQL.webhookState(id: batch), logger: logger)
            .decode((String?, Int, Date?, String?, Bool).self) {
            return WebhookState(url: url, attempts: attempts, deliveredAt: delivered, lastError: error, pending: pending)
        }
        return nil
    }

    // MARK: events

    /// Events after `after` passing `filter`, oldest first, at most `limit`.
    public func events(after: Int64, filter: EventFilter, limit: Int = 500) async throws -> [JobEvent] {
        var out: [JobEvent] = []
        let q = SQL.events(after: after, batch: filter.batch, queue: filter.queue, labelPrefix: filter.labelPrefix, limit: limit)
        for try await (id, job, batch, queue, label, custom, state, at) in try await client.query(q, logger: logger)
            .decode((Int64, UUID, UUID?, String, String?, String?, JobState, Date).self) {
            out.append(JobEvent(id: id, jobID: job.text, batchID: batch?.text, queue: queue, label: label, customID: custom,
                                state: state, at: at, imageURL: state == .done ? imageURL(job) : nil))
        }
        return out
    }

    /// The newest event's id (0 when none): where a stream that asks for no history starts.
    public func lastEventID() async throws -> Int64 {
        try await first(SQL.lastEventID, Int64.self) ?? 0
    }

    /// Calls `onNotify` once listening (events written before were not announced to this listener: look
    /// once) and then for every job that reached a final state. Runs until cancelled or the connection fails.
    public func listenForEvents(_ onNotify: @Sendable () async -> Void) async throws {
        try await client.withConnection { conn in
            try await conn.listen(on: SQL.eventChannel) { notifications in
                await onNotify()
                for try await _ in notifications { await onNotify() }
            }
        }
    }
}
