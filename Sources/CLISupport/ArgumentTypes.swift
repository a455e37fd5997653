import ArgumentParser
import Foundation
import JobCore
import Logging

// The typed values flags take: a bad value is a usage error naming the flag and the choices, never a
// silent fallback.

// (The model-side values, `--storage` and `--attention`, are ModelOptions': this target links no inference code.)

extension WindowPolicy: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
    public static var defaultCompletionKind: CompletionKind { .list(forms.map(\.example)) }
}

extension ImageSize: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A comma-separated list of a flag's values (`--policies ntp,zipar:8`).
public struct CommaList<Element: ExpressibleByArgument>: ExpressibleByArgument {
    public var values: [Element]
    public init(_ values: [Element]) { self.values = values }
    public init?(argument: String) {
        var out: [Element] = []
        for part in argument.split(separator: ",") {
            guard let v = Element(argument: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            out.append(v)
        }
        guard !out.isEmpty else { return nil }
        values = out
    }
    public var defaultValueDescription: String {
        values.map { ($0 as? CustomStringConvertible)?.description ?? "\($0)" }.joined(separator: ",")
    }
}

/// An age or interval: `30s`, `15m`, `12h`, `7d`, or plain seconds.
public struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    public var seconds: Double
    public let description: String
    public init?(argument: String) {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = argument.last, let unit = units[last], let n = Double(argument.dropLast()), n >= 0, n.isFinite {
            seconds = n * unit
        } else if let n = Double(argument), n >= 0, n.isFinite {
            seconds = n
        } else {
            return nil
        }
        description = argument
    }
    public var defaultValueDescription: String { description }
}
