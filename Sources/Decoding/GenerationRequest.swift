import Foundation
import Model

/// Which tokens may be decoded in the next pass (the rules: docs/decoding.md).
public enum WindowPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Plain raster next-token prediction: one token per pass, H*W passes.
    case ntp
    /// ZipAR with a fixed window: row i starts once row i-1 has `window` tokens.
    case zipar(window: Int)
    /// ZipAR's adaptive window: draft a row's first token at `minWindow`, verify it by rejection
    /// sampling as the row above grows.
    case adaptive(minWindow: Int)
    /// Speculative Jacobi decoding in raster order: a window of `jacobiWindow` tokens per pass, the first
    /// exact, the rest drafts verified by speculative sampling. `sjd:1` is `ntp`.
    case sjd(jacobiWindow: Int)
    /// ZipAR's fixed window across rows, and inside each running row a Jacobi window of up to `jacobiWindow`
    /// tokens. `zipar-sjd:S,1` is `zipar:S`.
    case ziparSJD(window: Int, jacobiWindow: Int)

    /// Parses `ntp`, `zipar:S`, `adaptive:SMIN`, `sjd:K`, `zipar-sjd:S,K` (also written `zipar-sjd:S/K`,
    /// for the comma-separated policy lists of the tools).
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func window() throws -> Int {
            guard parts.count == 2, let s = Int(parts[1]), s >= 1 else {
                throw PolicyError.malformed(text, "expected \(parts[0]):N with N >= 1")
            }
            return s
        }
        func pair() throws -> (Int, Int) {
            let numbers = parts.count == 2 ? parts[1].split(whereSeparator: { $0 == "," || $0 == "/" }).compactMap { Int($0) } : []
            guard numbers.count == 2, numbers[0] >= 1, numbers[1] >= 1 else {
                throw PolicyError.malformed(text, "expected \(parts[0]):S,K with S >= 1 and K >= 1")
            }
            return (numbers[0], numbers[1])
        }
        switch parts[0] {
        case "ntp" where parts.count == 1: self = .ntp
        case "zipar": self = .zipar(window: try window())
        case "adaptive": self = .adaptive(minWindow: try window())
        case "sjd": self = .sjd(jacobiWindow: try window())
        case "zipar-sjd":
            let (s, k) = try pair()
            self = .ziparSJD(window: s, jacobiWindow: k)
        default: throw PolicyError.malformed(text, "expected ntp, zipar:S, adaptive:SMIN, sjd:K, zipar-sjd:S,K or official:S")
        }
    }

    public var description: String {
        switch self {
        case .ntp: return "ntp"
        case .zipar(let s): return "zipar:\(s)"
        case .adaptive(let s): return "adaptive:\(s)"
        case .sjd(let k): return "sjd:\(k)"
        case .ziparSJD(let s, let k): return "zipar-sjd:\(s),\(k)"
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

public enum PolicyError: Error, CustomStringConvertible, Equatable {
    case malformed(String, String)

    public var description: String {
        switch self {
        case .malformed(let t, let why): return "bad policy '\(t)': \(why)"
        }
    }
}

/// One image to generate: the caller's id and the job's parameters.
public struct GenerationRequest: Sendable, Equatable {
    /// Caller's id (the job id in the service), carried into results and logs.
    public var id: String
    public var parameters: JobParameters

    public init(id: String, parameters: JobParameters) {
        self.id = id; self.parameters = parameters
    }

    public init(id: String, classLabel: Int, policy: WindowPolicy = .ntp, sampling: SamplingParams = SamplingParams(),
                seed: UInt64 = 0, officialSchedule: Bool = false) {
        self.init(id: id, parameters: JobParameters(classLabel: classLabel, policy: policy, officialSchedule: officialSchedule,
                                                    sampling: sampling, seed: seed))
    }

    public var classLabel: Int { parameters.classLabel }
    public var policy: WindowPolicy { parameters.policy }
    public var sampling: SamplingParams { parameters.sampling }
    public var seed: UInt64 { parameters.seed }
    public var officialSchedule: Bool { parameters.officialSchedule }
}

/// Per-request statistics.
public struct GenerationStats: Sendable, Equatable, Codable {
    /// Forward passes this request took part in.
    public var passes: Int = 0
    /// Image tokens decoded.
    public var tokens: Int = 0
    /// Queries this request put into passes (including CFG twins and placeholder rewrites).
    public var queries: Int = 0
    public var wallSeconds: Double = 0
    /// Wall time of each pass this request took part in.
    public var passSeconds: [Double] = []
    /// Adaptive and speculative Jacobi policies: drafts made and accepted; the window each row finally
    /// started at (the tokens of the row above that were final when the row's first token became final).
    public var drafts: Int = 0
    public var accepted: Int = 0
    public var rowWindows: [Int] = []

    public init() {}
}

/// A finished request.
public struct GenerationResult: Sendable {
    public var id: String
    public var request: GenerationRequest
    /// The token grid in raster order.
    public var tokens: [Int]
    /// For each token, the index (0-based, within this request) of the pass that decoded it:
    /// the data behind the decode-order heatmap.
    public var decodeStep: [Int]
    public var stats: GenerationStats

    public init(id: String, request: GenerationRequest, tokens: [Int], decodeStep: [Int], stats: GenerationStats) {
        self.id = id; self.request = request; self.tokens = tokens; self.decodeStep = decodeStep; self.stats = stats
    }
}
