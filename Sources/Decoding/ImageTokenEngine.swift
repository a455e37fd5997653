import Foundation
import JobCore
import Model

/// A handle to one sequence's KV cache inside an `ImageTokenEngine`.
public struct EngineSequence: Hashable, Sendable, CustomStringConvertible {
    public let id: Int
    public init(_ id: Int) { self.id = id }
    public var description: String { "sequence \(id)" }
}

/// One query of a pass, whatever the model: (sequence, position, input), as `GPTQuery` and `TextQuery`.
public struct EngineQuery: Sendable, Equatable {
    public var sequence: EngineSequence
    public var position: Int
    /// A class label (LlamaGen's prefix) or a vocabulary id.
    public var input: GPTQuery.Input
    /// False for queries whose only job is to write K/V.
    public var wantsLogits: Bool
    /// Filled positions the query must not attend to (masked attention; LlamaGen's engine only).
    public var hidden: [Range<Int>]

    public init(sequence: EngineSequence, position: Int, input: GPTQuery.Input, wantsLogits: Bool = true,
                hidden: [Range<Int>] = []) {
        self.sequence = sequence; self.position = position; self.input = input; self.wantsLogits = wantsLogits
        self.hidden = hidden
    }
}

/// How one request is laid out on a model: its image layout and what its two sequences hold before the image.
public struct DecodingSetup: Sendable, Equatable {
    public var layout: ImageLayout
    /// The conditional sequence's prefix inputs (class tokens, or the prompt ending in [IMG]), right-aligned
    /// to `layout.prefixLength`: input k sits at `prefixLength - cond.count + k`.
    public var cond: [GPTQuery.Input]
    /// The unconditional sequence's prefix (null class, or the empty / negative prompt), right-aligned the
    /// same way, so both sequences put every image token at the same position. Aligning at the end is exact
    /// for text models: RoPE attention depends only on position differences, and the positions in front of
    /// the shorter prompt stay unfilled, which masked attention skips.
    public var uncond: [GPTQuery.Input]
    /// What the request's parameters are validated against.
    public var limits: ModelLimits

    public init(layout: ImageLayout, cond: [GPTQuery.Input], uncond: [GPTQuery.Input], limits: ModelLimits) {
        precondition(cond.count <= layout.prefixLength && uncond.count <= layout.prefixLength)
        self.layout = layout; self.cond = cond; self.uncond = uncond; self.limits = limits
    }

    /// LlamaGen: the class (or null class) at every class-token position.
    public static func classConditional(_ request: GenerationRequest, config: GPTConfig, nullClass: Int,
                                        limits: ModelLimits) -> DecodingSetup {
        let n = config.clsTokenNum
        return DecodingSetup(layout: .plain(classTokens: n, grid: config.grid, codebookSize: config.vocabSize),
                             cond: Array(repeating: .classLabel(request.classLabel), count: n),
                             uncond: Array(repeating: .classLabel(nullClass), count: n), limits: limits)
    }
}

/// The engine a `BatchScheduler` drives: one forward pass over a ragged batch of queries from many
/// sequences. LlamaGen's `GPTEngine` and the text models' `TextEngine` both have this shape
/// (`GPTTokenEngine`, `TextTokenEngine` adapt them); the scheduler and the window rules never see which.
public protocol ImageTokenEngine: AnyObject {
    /// Queries one pass may carry.
    var maxQueries: Int { get }
    var maxSequences: Int { get }
    var openSequences: Int { get }
    /// Bytes held by KV caches (memory reports).
    var cacheBytes: Int { get }
    /// The layout and prefixes of `request` on this model. Throws `ParameterError` when the model cannot
    /// serve it (wrong conditioning, prompt too long for the context, ...).
    func setup(for request: GenerationRequest) throws -> DecodingSetup
    /// Reserves an empty KV cache for `request` (an engine serving several models picks the model by it).
    func openSequence(for request: GenerationRequest) throws -> EngineSequence
    func closeSequence(_ sequence: EngineSequence)
    /// Runs one pass; element k holds query k's logits over the whole vocabulary (nil when it asked for none).
    func forward(_ queries: [EngineQuery]) -> [[Float]?]
}

/// `GPTEngine` as an `ImageTokenEngine`.
public final class GPTTokenEngine: ImageTokenEngine {
    public let engine: GPTEngine
    private var open: [Int: SequenceID] = [:]

    public init(_ engine: GPTEngine) { self.engine = engine }

    public var maxQueries: Int { engine.maxQueries }
    public var maxSequences: Int { engine.maxSequences }
    public var openSequences: Int { engine.openSequences }
    public var cacheBytes: Int { engine.cacheBytes }

    public func setup(for request: GenerationRequest) throws -> DecodingSetup {
        let m = engine.model
        return .classConditional(request, config: m.config, nullClass: m.nullClass, limits: m.limits)
    }

    public func openSequence(for request: GenerationRequest) throws -> EngineSequence {
        let s = try engine.openSequence()
        open[s.slot] = s
        return EngineSequence(s.slot)
    }

    public func closeSequence(_ sequence: EngineSequence) {
        guard let s = open.removeValue(forKey: sequence.id) else { return }
        engine.closeSequence(s)
    }

    public func forward(_ queries: [EngineQuery]) -> [[Float]?] {
        let logits = engine.forward(queries.map {
            GPTQuery(sequence: open[$0.sequence.id]!, position: $0.position, input: $0.input,
                     wantsLogits: $0.wantsLogits, hidden: $0.hidden)
        })
        var out = [[Float]?](repeating: nil, count: queries.count)
        for (i, q) in logits.queryRows.enumerated() { out[q] = logits.row(i) }
        return out
    }
}
