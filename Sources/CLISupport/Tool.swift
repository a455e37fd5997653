import ArgumentParser
import Foundation

/// Exit codes every executable uses and documents in `--help` (`ExitStatus.helpText`).
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// The command could not do its work: invalid input file, database or model trouble.
    case failure = 1
    /// Bad command-line arguments (ArgumentParser's own 64 is mapped here).
    case usage = 2
    /// `--wait` saw jobs that failed or were cancelled.
    case jobsFailed = 3

    public var code: ExitCode { ExitCode(rawValue) }

    /// The `Exit codes:` paragraph of `--help`; `extra` adds tool-specific codes.
    public static func helpText(_ extra: String = "") -> String {
        "Exit codes: 0 ok, 1 failure (bad input, database or model trouble), 2 bad arguments" + extra + "."
    }
}

/// A failure to report as `<tool>: error: <message>` with exit code 1.
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The running executable's name: the prefix of every message it writes.
public let toolName = URL(fileURLWithPath: CommandLine.arguments.first ?? "zipar").lastPathComponent

/// A line on standard error (progress and human summaries go there so stdout stays data).
public func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// An error line on standard error with the tool's prefix.
public func sayError(_ message: String) {
    say("\(toolName): error: \(message)")
}

/// A deprecated flag name was used: warn once, on standard error.
public func warnDeprecated(_ old: String, use new: String) {
    say("\(toolName): warning: \(old) is deprecated and will be removed in the next release; use \(new)")
}

/// Pretty, key-sorted JSON with ISO-8601 dates on standard output: the one JSON style of every `--json`.
public func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    enc.dateEncodingStrategy = .iso8601
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

extension ParsableCommand {
    /// Parses, runs and exits with `ExitStatus` codes: usage errors exit 2 (not 64), `CLIError` prints
    /// with the tool's prefix and exits 1.
    public static func mainAsTool() {
        do {
            var command = try parseAsRoot()
            (command as? LogConfigurable)?.logOptions.bootstrap()
            try command.run()
        } catch {
            exitAsTool(error)
        }
    }
}

extension AsyncParsableCommand {
    public static func mainAsTool() async {
        do {
            var command = try parseAsRoot()
            (command as? LogConfigurable)?.logOptions.bootstrap()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exitAsTool(error)
        }
    }
}

extension ParsableCommand {
    /// Every failure ends here, so every tool reports it the same way: `<tool>: error: <message>` on
    /// standard error (ArgumentParser's own `Error:` prefix replaced), with `--json` also
    /// `{"error": "<message>"}` on standard output, and the documented exit code (1 failure, 2 usage).
    static func exitAsTool(_ error: Error) -> Never {
        if let e = error as? CLIError {
            reportFailure(e.description)
            Foundation.exit(ExitStatus.failure.rawValue)
        }
        let code = exitCode(for: error)
        if code == .validationFailure {
            let full = fullMessage(for: error)
            say(full.hasPrefix("Error: ") ? "\(toolName): error: " + String(full.dropFirst("Error: ".count)) : full)
            if jsonRequested { printErrorJSON(message(for: error)) }
            Foundation.exit(ExitStatus.usage.rawValue)
        }
        // Help, --version and a deliberate exit code (3 from --wait) are not errors.
        if code == .success || error is ExitCode { exit(withError: error) }
        reportFailure(message(for: error))
        Foundation.exit(code.rawValue == 0 ? ExitStatus.failure.rawValue : code.rawValue)
    }
}

/// The human error line, and with `--json` the JSON error object.
func reportFailure(_ message: String) {
    sayError(message)
    if jsonRequested { printErrorJSON(message) }
}

/// Whether the command line asks for `--json` (before any `--`). Read from the arguments themselves: a
/// usage error happens before there is a parsed command to ask.
public let jsonRequested: Bool = CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains("--json")

/// `{"error": "<message>"}` on standard output: a script reading `--json` output sees the failure as JSON.
public func printErrorJSON(_ message: String) {
    try? printJSON(["error": message])
}
