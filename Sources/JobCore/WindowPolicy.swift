import Foundation

/// Which tokens may be decoded in the next pass (the rules: docs/decoding.md). The schedule is part of the
/// policy: `official:S` is a policy of its own, so no flag beside a policy can be set where it means nothing.
public enum WindowPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Plain raster next-token prediction: one token per pass, H*W passes.
    case ntp
    /// ZipAR with a fixed window: row i starts once row i-1 has `window` tokens.
    case zipar(window: Int)
    /// `zipar:S` on the official ZipAR code's schedule: the whole first row by NTP before rows overlap
    /// (2W + (H-2)S passes). On the end-of-row layout (text models) the window counts the end-of-row token
    /// before a row, as the authors' Lumina-mGPT loop does: S - 1 image tokens above.
    case official(window: Int)
    /// ZipAR's adaptive window: draft a row's first token at `minWindow`, verify it by rejection
    /// sampling as the row above grows.
    case adaptive(minWindow: Int)
    /// Speculative Jacobi decoding in raster order: a window of `jacobiWindow` tokens per pass, the first
    /// exact, the rest drafts verified by speculative sampling. `sjd:1` is `ntp`. On the end-of-row layout
    /// (text models) the window counts image tokens only: each end-of-row token is fed, never drafted.
    case sjd(jacobiWindow: Int)
    /// ZipAR's fixed window across rows, and inside each running row a Jacobi window of up to `jacobiWindow`
    /// tokens. `zipar-sjd:S,1` is `zipar:S`.
    case ziparSJD(window: Int, jacobiWindow: Int)

    /// Every policy's text form, one line of help and an example: the parser's error, the prompt-file key
    /// reference and the `--policy` help of every command are written from this one list.
    public static let forms: [(syntax: String, help: String, example: String)] = [
        ("ntp", "next-token prediction, one token per pass", "ntp"),
        ("zipar:S", "ZipAR: a row starts once the row above has S tokens", "zipar:8"),
        ("adaptive:SMIN", "ZipAR's adaptive window, a row's first token drafted at SMIN", "adaptive:4"),
        ("official:S", "zipar:S on the official schedule, the whole first row first; also zipar:S+official", "official:8"),
        ("sjd:K", "speculative Jacobi decoding, K tokens a pass, K in 1...\(JobParameters.maxJacobiWindow)", "sjd:4"),
        ("zipar-sjd:S,K", "zipar:S with a Jacobi window of K in each row; also zipar-sjd:S/K", "zipar-sjd:8,4"),
    ]

    /// `ntp, zipar:S, ..., sjd:K or zipar-sjd:S,K`.
    public static var syntaxList: String {
        let all = forms.map(\.syntax)
        return all.dropLast().joined(separator: ", ") + " or " + all.last!
    }

    /// Every form with its help, for a flag's or a key's description.
    public static var helpList: String {
        forms.map { "\($0.syntax) (\($0.help))" }.joined(separator: ", ")
    }

    /// Parses the text form: `ntp`, `zipar:S`, `adaptive:SMIN`, `official:S` (or `zipar:S+official`),
    /// `sjd:K`, `zipar-sjd:S,K` (also written `zipar-sjd:S/K`, for the comma-separated policy lists of the
    /// tools). Case and surrounding spaces do not matter.
    public init(parsing text: String) throws(PolicyError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasSuffix("+official") {
            guard case .zipar(let s) = try Self.parsePlain(String(t.dropLast("+official".count)), original: text) else {
                throw PolicyError.malformed(text, "the official schedule applies to zipar:S only")
            }
            self = .official(window: s)
        } else {
            self = try Self.parsePlain(t, original: text)
        }
    }

    private static func parsePlain(_ t: String, original text: String) throws(PolicyError) -> WindowPolicy {
        let parts = t.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func window() throws(PolicyError) -> Int {
            guard parts.count == 2, let s = Int(parts[1]), s >= 1 else {
                throw PolicyError.malformed(text, "expected \(parts[0]):N with N >= 1")
            }
            return s
        }
        func pair() throws(PolicyError) -> (Int, Int) {
            let numbers = parts.count == 2 ? parts[1].split(whereSeparator: { $0 == "," || $0 == "/" }).compactMap { Int($0) } : []
            guard numbers.count == 2, numbers[0] >= 1, numbers[1] >= 1 else {
                throw PolicyError.malformed(text, "expected \(parts[0]):S,K with S >= 1 and K >= 1")
            }
            return (numbers[0], numbers[1])
        }
        switch parts[0] {
        case "ntp" where parts.count == 1: return .ntp
        case "zipar": return .zipar(window: try window())
        case "official": return .official(window: try window())
        case "adaptive": return .adaptive(minWindow: try window())
        case "sjd": return .sjd(jacobiWindow: try window())
        case "zipar-sjd":
            let (s, k) = try pair()
            return .ziparSJD(window: s, jacobiWindow: k)
        default: throw PolicyError.malformed(text, "expected \(syntaxList)")
        }
    }

    public var description: String {
        switch self {
        case .ntp: return "ntp"
        case .zipar(let s): return "zipar:\(s)"
        case .official(let s): return "official:\(s)"
        case .adaptive(let s): return "adaptive:\(s)"
        case .sjd(let k): return "sjd:\(k)"
        case .ziparSJD(let s, let k): return "zipar-sjd:\(s),\(k)"
        }
    }

    /// The window S across rows: the tokens of the row above a row starts at (its minimum for adaptive),
    /// as written in the policy; nil for the raster policies (ntp, sjd).
    public var rowWindow: Int? {
        switch self {
        case .ntp, .sjd: return nil
        case .zipar(let s), .official(let s), .adaptive(let s), .ziparSJD(let s, _): return s
        }
    }

    /// The Jacobi window K of the speculative Jacobi policies (nil for the others).
    public var jacobiWindow: Int? {
        switch self {
        case .sjd(let k), .ziparSJD(_, let k): return k
        default: return nil
        }
    }
}

public enum PolicyError: Error, Sendable, CustomStringConvertible, Equatable {
    case malformed(String, String)

    public var description: String {
        switch self {
        case .malformed(let t, let why): return "bad policy '\(t)': \(why)"
        }
    }
}
