import Foundation
import JobCore
import PostgresNIO

/// The insert that submits (`zipar-submit`) and batches (`POST /api/batches`) share: many rows a
/// statement (`SQL.insertJobs`), inside the caller's transaction.
extension JobStore {
    /// Rows per statement: each column is one array bind, so a statement's size grows with its rows; this
    /// keeps one message at a few MB however long the input is.
    static let rowsPerInsert = 5000

    /// One inserted or found job of `insertJobs`, in input order.
    struct InsertedJob {
        var id: UUID
        /// False when the job's key named a job its queue already held (an idempotent re-run): `id` is that job's.
        var inserted: Bool
    }

    /// Inserts `jobs` on `conn` (part of the caller's transaction) with their idempotency `keys` (nil: none),
    /// in `batchID` when given, in input order. A label taken meanwhile, or twice in the input, is an error
    /// naming the line, as the checks before the insert name it.
    func insertJobs(_ conn: PostgresConnection, _ jobs: [JobSpec], keys: [String?], batchID: UUID?) async throws -> [InsertedJob] {
        precondition(keys.count == jobs.count, "one key (or nil) per job")
        var out: [InsertedJob] = []
        out.reserveCapacity(jobs.count)
        for start in stride(from: 0, to: jobs.count, by: Self.rowsPerInsert) {
            let range = start..<min(start + Self.rowsPerInsert, jobs.count)
            let chunk = Array(jobs[range]), chunkKeys = Array(keys[range])
            let ids = chunk.map { _ in UUID() }
            var inserted = Set<UUID>()
            do {
                for try await id in try await conn.query(SQL.insertJobs(chunk, ids: ids, keys: chunkKeys, batchID: batchID),
                                                         logger: logger).decode(UUID.self) {
                    inserted.insert(id)
                }
            } catch let error as PSQLError {
                throw labelConflict(error, jobs: jobs, upTo: range.upperBound) ?? error
            }
            // A row not inserted had a key its queue already holds: the job is the one that key names.
            var existing: [KeyOfQueue: UUID] = [:]
            let skipped = chunk.indices.filter { !inserted.contains(ids[$0]) }
            let pairs = skipped.compactMap { i in chunkKeys[i].map { KeyOfQueue(queue: chunk[i].queue, key: $0) } }
            if !pairs.isEmpty {
                for try await row in try await conn.query(SQL.jobsByKeys(queues: pairs.map(\.queue), keys: pairs.map(\.key)), logger: logger) {
                    let c = Columns(row)
                    existing[KeyOfQueue(queue: try c("queue"), key: try c("key"))] = try c("id", as: UUID.self)
                }
            }
            for i in chunk.indices {
                if inserted.contains(ids[i]) { out.append(InsertedJob(id: ids[i], inserted: true)); continue }
                guard let key = chunkKeys[i], let id = existing[KeyOfQueue(queue: chunk[i].queue, key: key)] else {
                    throw SubmitError("line \(chunk[i].line): the job was neither inserted nor found", line: chunk[i].line)
                }
                out.append(InsertedJob(id: id, inserted: false))
            }
        }
        return out
    }

    /// The unique label index refusing a row (a label taken after the check, or twice in the input) as the
    /// error the check gives, naming the line; nil for any other error. PostgreSQL names the row only by its
    /// key: `Key (queue, label)=(default, coat-1) already exists.` (queue names and labels hold no ", ").
    private func labelConflict(_ error: PSQLError, jobs: [JobSpec], upTo end: Int) -> SubmitError? {
        guard let info = error.serverInfo, info[.sqlState] == "23505", info[.constraintName] == "jobs_queue_label",
              let detail = info[.detail], let open = detail.range(of: ")=("),
              let close = detail.range(of: ") already exists", range: open.upperBound..<detail.endIndex) else { return nil }
        let pair = detail[open.upperBound..<close.lowerBound]
        guard let comma = pair.range(of: ", ", options: .backwards) else { return nil }
        let queue = String(pair[..<comma.lowerBound]), label = String(pair[comma.upperBound...])
        let lines = jobs[..<end].filter { $0.queue == queue && $0.label == label }.map(\.line)
        guard let line = lines.last else { return nil }
        if lines.count > 1 {
            return SubmitError("line \(line), label: '\(label)' is used twice in queue \(queue) (line \(lines[lines.count - 2]) too)", line: line)
        }
        return SubmitError("line \(line), label: '\(label)' is already used in queue \(queue) (by a job inserted meanwhile)", line: line)
    }
}

/// A job's idempotency key, which is unique within its queue.
struct KeyOfQueue: Hashable {
    var queue: String
    var key: String
}
