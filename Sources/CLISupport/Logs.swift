import ArgumentParser
import Foundation
import Logging

/// `--log-level` and `--log-format`, the same on every executable. Logs go to standard error.
public struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "Least severe level logged.")
    public var logLevel: Logger.Level = .info

    @Option(name: .customLong("log-format"), help: "text (one line each, for people) or json (one object a line, for log collectors).")
    public var logFormat: LogFormat = .text

    public init() {}

    /// Installs the handler for the whole process (once, before any logger is made).
    public func bootstrap() {
        let (level, format) = (logLevel, logFormat)
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            case .json:
                var h = JSONLogHandler(label: label)
                h.logLevel = level
                return h
            }
        }
    }
}

public enum LogFormat: String, CaseIterable, Sendable, ExpressibleByArgument { case text, json }

/// A command with `LogOptions`: `mainAsTool` installs its log handler before `run`.
public protocol LogConfigurable {
    var logOptions: LogOptions { get }
}

/// One JSON object a line on standard error: `ts`, `level`, `logger` (the logger's name), `message`, and every
/// metadata key as its own field (a job line carries `job`, its `label`, `worker`, ...). Values keep their
/// types: metadata given as a number or a Bool (`.stringConvertible(42)`) is a JSON number or boolean, arrays
/// and dictionaries are JSON arrays and objects; strings stay strings (a label "123" is not a number).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        FileHandle.standardError.write(Self.line(event: event, metadata: metadata, logger: label) + Data("\n".utf8))
    }

    /// The JSON object of one event (tests read it).
    static func line(event: LogEvent, metadata: Logger.Metadata, logger: String, now: Date = Date()) -> Data {
        var fields: [String: Any] = [:]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[k] = jsonValue(v) }
        fields["ts"] = now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        fields["level"] = event.level.rawValue
        fields["logger"] = logger
        fields["message"] = event.message.description
        return (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    static func jsonValue(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c):
            switch c {
            case let b as Bool: return b
            case let i as any BinaryInteger: return NSNumber(value: Int64(i))
            case let d as Double where d.isFinite: return d
            case let f as Float where f.isFinite: return Double(f)
            default: return c.description
            }
        case .array(let items): return items.map(jsonValue)
        case .dictionary(let d): return d.mapValues(jsonValue)
        }
    }
}
