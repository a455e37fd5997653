import Foundation
import JobCore
import Model

/// How one request is laid out on a model: its image layout and what its two sequences hold before the image.
public struct DecodingSetup: Sendable, Equatable {
    public var layout: ImageLayout
    /// The conditional sequence's prefix inputs (class tokens, or the prompt ending in [IMG]), right-aligned
    /// to `layout.prefixLength`: input k sits at `prefixLength - cond.count + k`.
    public var cond: [DecoderQuery.Input]
    /// The unconditional sequence's prefix (null class, or the empty / negative prompt), right-aligned the
    /// same way, so both sequences put every image token at the same position. Aligning at the end is exact
    /// for text models: RoPE attention depends only on position differences, and the positions in front of
    /// the shorter prompt stay unfilled, which masked attention skips.
    public var uncond: [DecoderQuery.Input]
    /// What the request's parameters are validated against.
    public var limits: ModelLimits

    public init(layout: ImageLayout, cond: [DecoderQuery.Input], uncond: [DecoderQuery.Input], limits: ModelLimits) {
        precondition(cond.count <= layout.prefixLength && uncond.count <= layout.prefixLength)
        self.layout = layout; self.cond = cond; self.uncond = uncond; self.limits = limits
    }

    /// A text-conditioned request: its prompts' ids and `layout` (whose prefix is the longer prompt), refused
    /// naming the field when prompt and image do not fit the engine's `maxPositions`.
    public static func prompted(_ p: JobParameters, cond: [Int], uncond: [Int], layout: ImageLayout, limits: ModelLimits,
                                maxPositions: Int) throws -> DecodingSetup {
        guard layout.length <= maxPositions else {
            throw ParameterError(field: p.negativePrompt != nil && uncond.count > cond.count ? "negative_prompt" : "prompt",
                                 message: "\(layout.prefixLength) prompt tokens plus the image make \(layout.length) positions; the engine holds \(maxPositions)")
        }
        return DecodingSetup(layout: layout, cond: cond.map { .token($0) }, uncond: uncond.map { .token($0) }, limits: limits)
    }
}

/// The engine a `BatchScheduler` drives: one forward pass over a ragged batch of queries from many
/// sequences. Every model family runs on `DecoderEngine` through `DecoderTokenEngine`; tests drive the
/// scheduler with toy engines of the same shape. The scheduler and the window rules never see which.
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
    func openSequence(for request: GenerationRequest) throws -> SequenceID
    func closeSequence(_ sequence: SequenceID)
    /// Runs one pass; element k holds query k's logits, nil when it asked for none. A row holds either the
    /// whole vocabulary or exactly the request layout's image vocabulary (`ImageLayout.imageLogits` takes both).
    func forward(_ batch: PassBatch) -> [[Float]?]
}

/// What a request's prefix is on one model family: LlamaGen's class tokens, or a text model's prompt.
public protocol RequestPrefixes: Sendable {
    /// The layout and prefixes of `request` on a model whose caches hold `maxPositions` positions.
    func setup(for request: GenerationRequest, maxPositions: Int) throws -> DecodingSetup
    /// The ids sampled inside the grid: the engine's head computes only these.
    var imageVocabulary: Range<Int> { get }
}

/// A `DecoderEngine` with its family's prefixes: the `ImageTokenEngine` of every real model.
public final class DecoderTokenEngine: ImageTokenEngine {
    public let engine: DecoderEngine
    public let prefixes: any RequestPrefixes

    public init(engine: DecoderEngine, prefixes: any RequestPrefixes) {
        self.engine = engine; self.prefixes = prefixes
    }

    public var maxQueries: Int { engine.maxQueries }
    public var maxSequences: Int { engine.maxSequences }
    public var openSequences: Int { engine.openSequences }
    public var cacheBytes: Int { engine.cacheBytes }

    public func setup(for request: GenerationRequest) throws -> DecodingSetup {
        try prefixes.setup(for: request, maxPositions: engine.maxPositions)
    }

    public func openSequence(for request: GenerationRequest) throws -> SequenceID { try engine.openSequence() }

    public func closeSequence(_ sequence: SequenceID) { engine.closeSequence(sequence) }

    public func forward(_ batch: PassBatch) -> [[Float]?] {
        engine.forward(batch).byQuery(passSize: batch.count)
    }
}
