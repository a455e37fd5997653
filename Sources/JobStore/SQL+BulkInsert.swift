import Foundation
import JobCore
import PostgresNIO

/// Submits insert their jobs many rows to a statement: each column travels as one array bind and UNNEST
/// turns the arrays back into rows, so a statement has ~25 binds however many rows it carries (VALUES
/// lists would need a bind per value and hit the protocol's 65,535). Rows go in input order, so `seq`
/// (the claim order among equal priorities) follows the input as it did with one INSERT per row.
extension SQL {
    /// Inserts `jobs` with the given `ids` (chosen by the caller, so it knows which row is which line) and
    /// idempotency `keys` (nil: none), all in `batchID` when given. A row whose key its queue already holds
    /// is skipped; the ids of the rows inserted come back.
    static func insertJobs(_ jobs: [JobSpec], ids: [UUID], keys: [String?], batchID: UUID?) -> PostgresQuery {
        precondition(ids.count == jobs.count && keys.count == jobs.count, "one id and one key per job")
        var q = QueryBuilder()
        var columns: [String] = [], arrays: [String] = []
        func add<T: PostgresArrayEncodable & PostgresNonThrowingEncodable>(_ column: String, _ type: String, _ values: [T?]) {
            columns.append(column)
            arrays.append("\(q.bind(NullableArray(values)))::\(type)[]")
        }
        func add<T: PostgresArrayEncodable & PostgresNonThrowingEncodable>(_ column: String, _ type: String, _ values: [T]) {
            add(column, type, values.map { Optional($0) })
        }
        add("id", "uuid", ids)
        add("queue", "text", jobs.map(\.queue))
        add("model", "text", jobs.map(\.model))
        for f in JobParameters.fields {
            let values = jobs.map { f.read($0.parameters) }
            switch f.kind {
            case .int, .optionalInt: add(f.column, "int8", values.map(\.intValue))
            case .double: add(f.column, "float8", values.map(\.doubleValue))
            case .text, .optionalText: add(f.column, "text", values.map(\.textValue))
            }
        }
        add("priority", "int8", jobs.map(\.priority))
        add("max_attempts", "int8", jobs.map(\.maxAttempts))
        add("idempotency_key", "text", keys)
        add("label", "text", jobs.map(\.label))
        add("prompt", "text", jobs.map(\.prompt))
        add("class_name", "text", jobs.map(\.className))
        add("custom_id", "text", jobs.map(\.customID))
        add("run_after", "timestamptz", jobs.map(\.runAfter))
        // Column names are compile-time text (the table above and `JobParameters.fields`), never input.
        let selected = columns.map { $0 == "run_after" ? "coalesce(u.run_after, now())" : "u.\($0)" }
        let batch = q.bind(batchID)
        q.text("""
            INSERT INTO jobs (\(columns.joined(separator: ", ")), batch_id)
            SELECT \(selected.joined(separator: ", ")), \(batch)::uuid
            FROM unnest(\(arrays.joined(separator: ", "))) WITH ORDINALITY AS u(\(columns.joined(separator: ", ")), input_order)
            ORDER BY u.input_order
            ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id
            """)
        return q.query
    }

    /// The jobs that (queue, key) pairs name, with what a re-run is compared on (`checkResubmission`) and
    /// the batch the first run made.
    static func jobsByKeys(queues: [String], keys: [String]) -> PostgresQuery {
        """
        SELECT k.queue, k.key, j.id, j.model, j.priority, j.max_attempts, j.label, j.batch_id,
               \(unescaped: JobParameters.columnList(alias: "j"))
        FROM unnest(\(queues)::text[], \(keys)::text[]) AS k(queue, key)
        JOIN jobs j ON j.queue = k.queue AND j.idempotency_key = k.key
        """
    }
}

extension ParameterValue {
    /// The value as the column kind it is stored in (nil for `.null`, or a value of another kind).
    var intValue: Int? { if case .int(let i) = self { i } else { nil } }
    var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
    var textValue: String? { if case .text(let t) = self { t } else { nil } }
}
