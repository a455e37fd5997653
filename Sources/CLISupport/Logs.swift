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

/// One JSON object a line on standard error: `ts`, `level`, `label`, `message`, and every metadata key
/// (a job line carries `job` and `worker`), values as strings.
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
        let (level, message, extra) = (event.level, event.message, event.metadata)
        var fields: [String: String] = [:]
        for (k, v) in metadata.merging(extra ?? [:], uniquingKeysWith: { $1 }) { fields[k] = "\(v)" }
        fields["ts"] = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        fields["level"] = level.rawValue
        fields["label"] = label
        fields["message"] = message.description
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }

}
