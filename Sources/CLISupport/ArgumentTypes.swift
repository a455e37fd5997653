import ArgumentParser
import Decoding
import Foundation
import Kernels
import Logging
import Model

// The typed values flags take: a bad value is a usage error naming the flag and the choices, never a
// silent fallback.

extension StorageChoice: ExpressibleByArgument {}
extension AttentionMode: ExpressibleByArgument {}
extension WeightStorage: ExpressibleByArgument {}

extension PolicySpec: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
    public static var defaultCompletionKind: CompletionKind { .list(["ntp", "zipar:8", "zipar:4", "adaptive:4", "official:8", "sjd:4", "zipar-sjd:8,4"]) }
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

extension WindowPolicy: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}
