import Foundation
import Kernels

/// Runs forward passes of a `DecoderModel` over a ragged batch of queries from many sequences - the one
/// engine of every model family (LlamaGen, Emu3, Chameleon / Lumina-mGPT are configurations of it).
///
/// Each query is (sequence, position, input). Its K/V go into that sequence's cache slot for that position,
/// and it attends to its own sequence's slots at positions <= its own. Plain next-token prediction is one
/// query per sequence; ZipAR puts several rows of one image into one pass; continuous batching puts many
/// images into one pass. Slots may be filled in any order; in masked mode unfilled slots are skipped.
///
/// The engine is the pass's graph - embed, then per layer an attention block and a feed-forward block, then
/// the head for the queries that want logits over the vocabulary the caller samples - run on a
/// `DecoderBackend` (`CPUDecoderBackend` by default), which owns memory and kernels.
public final class DecoderEngine {
    public let model: DecoderModel
    public let attentionMode: AttentionMode
    public let maxSequences: Int
    /// The ids the head computes logits for (default: the whole vocabulary). A text-to-image model samples
    /// only its image tokens inside the grid, so its engine computes only those rows of the head.
    public let logitsVocabulary: Range<Int>
    public let backend: any DecoderBackend

    /// An engine on the CPU backend.
    /// - maxPositions: positions each sequence's KV cache holds (default: all the rotary table covers).
    /// - cacheStorage: how the KV caches keep keys and values (default: like the weights; f16 for int8 weights).
    public convenience init(model: DecoderModel, maxQueries: Int = 64, maxSequences: Int = 16, maxPositions: Int? = nil,
                            logitsVocabulary: Range<Int>? = nil, attentionMode: AttentionMode = .masked,
                            cacheStorage: WeightStorage? = nil) {
        // Default: the rows of the output head (the language vocabulary; for Janus not its image codes).
        let vocabulary = logitsVocabulary ?? 0..<model.weights.output.outFeatures
        let backend = CPUDecoderBackend(model: model, maxQueries: maxQueries, maxSequences: maxSequences,
                                        maxPositions: min(maxPositions ?? model.spec.positions, model.spec.positions),
                                        maxVocabulary: vocabulary.count, attentionMode: attentionMode,
                                        cacheStorage: (cacheStorage ?? model.weights.storage).kvCacheStorage)
        self.init(model: model, backend: backend, maxSequences: maxSequences, logitsVocabulary: vocabulary,
                  attentionMode: attentionMode)
    }

    public init(model: DecoderModel, backend: any DecoderBackend, maxSequences: Int, logitsVocabulary: Range<Int>,
                attentionMode: AttentionMode) {
        precondition(logitsVocabulary.lowerBound >= 0 && logitsVocabulary.upperBound <= model.spec.vocabSize)
        self.model = model; self.backend = backend; self.maxSequences = maxSequences
        self.logitsVocabulary = logitsVocabulary; self.attentionMode = attentionMode
    }

    public var maxQueries: Int { backend.maxQueries }
    public var maxPositions: Int { backend.maxPositions }
    public var cacheStorage: WeightStorage { backend.cacheStorage }
    /// When set, every pass adds its time per stage here (benchmarks).
    public var profile: PassProfile? {
        get { backend.profile }
        set { backend.profile = newValue }
    }

    public var openSequences: Int { backend.openSequences }
    /// Bytes held by KV caches (for memory reports).
    public var cacheBytes: Int { backend.cacheBytes }
    /// Reserves an empty KV cache (all slots unfilled, K = V = 0).
    public func openSequence() throws -> SequenceID { try backend.openSequence() }
    public func closeSequence(_ id: SequenceID) { backend.closeSequence(id) }
    /// Whether a sequence's slot at `position` holds K/V (tests, schedulers).
    public func isFilled(_ id: SequenceID, position: Int) -> Bool { backend.isFilled(id, position: position) }

    /// Runs one forward pass. Returns the logits of the queries that asked for them, in query order.
    public func forward(_ queries: [DecoderQuery]) -> PassLogits { forward(PassBatch(queries)) }

    /// Runs one forward pass. Returns the logits of the queries that asked for them, in query order.
    public func forward(_ batch: PassBatch) -> PassLogits {
        precondition(batch.count <= maxQueries, "\(batch.count) queries exceed the engine's maximum of \(maxQueries)")
        backend.embed(batch)
        for l in 0..<model.spec.layers {
            backend.attentionBlock(layer: l, batch: batch)
            backend.feedForwardBlock(layer: l, rows: batch.count)
        }
        let logits = backend.head(rows: (0..<batch.count).filter { batch.wantsLogits[$0] }, vocabulary: logitsVocabulary)
        profile?.passes += 1
        return logits
    }
}

/// Whether attention may look at cache slots whose token is not decoded yet.
public enum AttentionMode: String, Sendable, CaseIterable {
    /// Skip slots nobody has written: what the model saw in training.
    case masked
    /// Attend them as zero K/V, exactly like the official ZipAR code (zero-initialised cache,
    /// plain causal mask over absolute positions).
    case reference
}
