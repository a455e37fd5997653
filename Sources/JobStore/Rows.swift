import Foundation
import JobCore
import NIOCore
import PostgresNIO

// Reading rows by column name and binding the service's own types, so no query's column order can drift
// from the code that reads it.

extension JobState: PostgresNonThrowingEncodable, PostgresDecodable {
    public static var psqlType: PostgresDataType { .text }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<E: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
        buffer.writeString(rawValue)
    }

    /// A state this code does not know (a newer schema, a row written by hand) is an error, never a guess.
    public init<D: PostgresJSONDecoder>(from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat,
                                        context: PostgresDecodingContext<D>) throws {
        let text = try String(from: &buffer, type: type, format: format, context: context)
        guard let state = JobState(rawValue: text) else { throw UnknownState(text: text) }
        self = state
    }
}

/// A `state` column holding a value `JobState` does not have.
public struct UnknownState: Error, CustomStringConvertible {
    public var text: String
    public var description: String { "unknown job state '\(text)' in the database" }
}

/// One row, read by column name.
struct Columns {
    let row: PostgresRandomAccessRow
    init(_ row: PostgresRow) { self.row = PostgresRandomAccessRow(row) }

    func callAsFunction<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try row[name].decode(T.self)
    }

    /// The job parameters of a `jobs` row (`JobParameters.fields` names the columns), validated.
    func parameters() -> Result<JobParameters, ParameterError> {
        var values: [String: ParameterValue] = [:]
        for f in JobParameters.fields {
            do {
                switch f.kind {
                case .int: values[f.key] = .int(try self(f.column, as: Int.self))
                case .double: values[f.key] = .double(try self(f.column, as: Double.self))
                case .text: values[f.key] = .text(try self(f.column, as: String.self))
                case .optionalInt: values[f.key] = try self(f.column, as: Int?.self).map { .int($0) } ?? .null
                case .optionalText: values[f.key] = try self(f.column, as: String?.self).map { .text($0) } ?? .null
                }
            } catch {
                return .failure(ParameterError(field: f.key, message: "column \(f.column) unreadable: \(error)"))
            }
        }
        return Result { () throws(ParameterError) in try JobParameters(values: values) }
    }
}


extension JobParameters {
    /// The `jobs` columns of the parameters, comma separated, each prefixed with `alias.` (compile-time
    /// names from `fields`, never input, so they may be spliced into SQL).
    static func columnList(alias: String) -> String {
        fields.map { "\(alias).\($0.column)" }.joined(separator: ", ")
    }
}
