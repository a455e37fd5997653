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

    /// Parses `ntp`, `zipar:S`, `adaptive:SMIN`.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func window() throws -> Int {
            guard parts.count == 2, let s = Int(parts[1]), s >= 1 else {
                throw PolicyError.malformed(text, "expected \(parts[0]):N with N >= 1")
            }
            return s
        }
        switch parts[0] {
        case "ntp" where parts.count == 1: self = .ntp
        case "zipar": self = .zipar(window: try window())
        case "adaptive": self = .adaptive(minWindow: try window())
        default: throw PolicyError.malformed(text, "expected ntp, zipar:S, adaptive:SMIN or official:S")
        }
    }

    public var description: String {
        switch self {
        case .ntp: return "ntp"
        case .zipar(let s): return "zipar:\(s)"
        case .adaptive(let s): return "adaptive:\(s)"
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
    /// Adaptive policy: drafts made and accepted, and the window each row finally started at.
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
