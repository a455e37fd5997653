import Foundation
import JobCore

/// One image to generate: the caller's id and the job's parameters.
public struct GenerationRequest: Sendable, Equatable {
    /// Caller's id (the job id in the service), carried into results and logs.
    public var id: String
    public var parameters: JobParameters

    public init(id: String, parameters: JobParameters) {
        self.id = id; self.parameters = parameters
    }

    public init(id: String, classLabel: Int, policy: WindowPolicy = .ntp, sampling: SamplingParams = SamplingParams(),
                seed: UInt64 = 0) {
        self.init(id: id, parameters: JobParameters(classLabel: classLabel, policy: policy, sampling: sampling, seed: seed))
    }

    public var classLabel: Int { parameters.classLabel }
    public var policy: WindowPolicy { parameters.policy }
    public var sampling: SamplingParams { parameters.sampling }
    public var seed: UInt64 { parameters.seed }
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
