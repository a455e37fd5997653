import Foundation
import Kernels

/// Runs forward passes of a `DecoderModel` over a ragged batch of queries from many sequences - the one
/// engine of every model family (LlamaGen, Emu3, Chameleon / Lumina-mGPT are configurations of it).
///
/// Each query is (sequence, position, input). Its K/V go into that sequence's cache slot for that position,
/// and it attends to its own sequence's slots at positions <= its own. Plain next-token prediction is one
/// query per sequence; ZipAR puts several rows of one image into one pass; continuous batching puts many
/// images into one pass. Slots may be filled in any order; in masked mode unfilled slots are skipped.
/// All buffers are allocated up front.
public final class DecoderEngine {
    public let model: DecoderModel
    public let attentionMode: AttentionMode
    public let maxQueries: Int
    public let maxSequences: Int
    /// Positions each sequence's KV cache holds (default: all the rotary table covers).
    public let maxPositions: Int
    /// The ids the head computes logits for (default: the whole vocabulary). A text-to-image model samples
    /// only its image tokens inside the grid, so its engine computes only those rows of the head.
    public let logitsVocabulary: Range<Int>
    /// How the KV caches keep keys and values (default: like the weights; f16 for int8 weights).
    public let cacheStorage: WeightStorage
    /// When set, every pass adds its time per stage here (benchmarks).
    public var profile: PassProfile?

    private let caches: KVCachePool   // [layer][kvHead][position][headDim] keys and values, per sequence
    // Activations, one row per query of the pass (row r = query r), allocated for maxQueries rows.
    private let x: FloatBuffer              // [query][dim]: the residual stream
    private let xNorm: FloatBuffer          // [query][dim]; at the head: the rows that want logits, packed
    private let qkv: FloatBuffer            // [query][q: heads | k: kvHeads | v: kvHeads][headDim]
    private let attended: FloatBuffer       // [query][heads][headDim]
    private let projected: FloatBuffer      // [query][dim]; at the head: the normed packed rows
    private let gate, up: FloatBuffer       // [query][ffnHidden]
    private let logitsBuffer: FloatBuffer   // [logits row][logitsVocabulary.count]: rows that want logits, packed
    private let attention: BatchedAttention

    public init(model: DecoderModel, maxQueries: Int = 64, maxSequences: Int = 16, maxPositions: Int? = nil,
                logitsVocabulary: Range<Int>? = nil, attentionMode: AttentionMode = .masked, cacheStorage: WeightStorage? = nil) {
        let s = model.spec
        self.model = model
        self.maxQueries = maxQueries
        self.maxSequences = maxSequences
        self.maxPositions = min(maxPositions ?? s.positions, s.positions)
        self.logitsVocabulary = logitsVocabulary ?? 0..<s.vocabSize
        precondition(self.logitsVocabulary.lowerBound >= 0 && self.logitsVocabulary.upperBound <= s.vocabSize)
        self.attentionMode = attentionMode
        let storage = (cacheStorage ?? model.weights.storage).kvCacheStorage, positions = self.maxPositions
        self.cacheStorage = storage
        caches = KVCachePool(capacity: maxSequences) {
            KVCache(layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, positions: positions, storage: storage)
        }
        x = FloatBuffer(count: maxQueries * s.dim)
        xNorm = FloatBuffer(count: maxQueries * s.dim)
        qkv = FloatBuffer(count: maxQueries * s.qkvWidth)
        attended = FloatBuffer(count: maxQueries * s.queryWidth)
        projected = FloatBuffer(count: maxQueries * s.dim)
        gate = FloatBuffer(count: maxQueries * s.ffnHidden)
        up = FloatBuffer(count: maxQueries * s.ffnHidden)
        logitsBuffer = FloatBuffer(count: maxQueries * self.logitsVocabulary.count)
        attention = BatchedAttention(heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim,
                                     positions: self.maxPositions, maxQueries: maxQueries)
    }

    public var openSequences: Int { caches.openCount }

    /// Bytes held by KV caches (for memory reports).
    public var cacheBytes: Int { caches.byteCount }

    /// Reserves an empty KV cache (all slots unfilled, K = V = 0).
    public func openSequence() throws -> SequenceID { try caches.open() }

    public func closeSequence(_ id: SequenceID) { caches.close(id) }

    /// Whether a sequence's slot at `position` holds K/V (tests, schedulers).
    public func isFilled(_ id: SequenceID, position: Int) -> Bool { caches.cache(id).isFilled(position) }

    /// Runs one forward pass. Returns the logits of the queries that asked for them, in query order.
    public func forward(_ queries: [DecoderQuery]) -> PassLogits { forward(PassBatch(queries)) }

    /// Runs one forward pass. Returns the logits of the queries that asked for them, in query order.
    public func forward(_ batch: PassBatch) -> PassLogits {
        let s = model.spec, w = model.weights
        let n = batch.count
        precondition(n <= maxQueries, "\(n) queries exceed the engine's maximum of \(maxQueries)")
        var clock = StageClock(profile)
        embed(batch)
        clock.lap(.other)

        for (l, layer) in w.layers.enumerated() {
            // Attention block.
            VectorOps.rmsNorm(x, rows: n, width: s.dim, weight: layer.attentionNorm, eps: s.normEps, into: xNorm)
            clock.lap(.other)
            layer.wqkv.apply(xNorm, rows: n, into: qkv)
            clock.lap(.matmul)
            positionKeys(batch, layer: l, weights: layer)
            clock.lap(.other)
            attention.run(count: n, layer: l, q: qkv, qStride: s.qkvWidth, into: attended, outStride: s.queryWidth,
                          maskUnfilled: attentionMode == .masked)
            clock.lap(.attention)
            layer.wo.apply(attended, rows: n, into: projected)
            clock.lap(.matmul)
            VectorOps.add(projected, into: x, count: n * s.dim)

            // Feed-forward block (SwiGLU): down(silu(gate h) * up h).
            VectorOps.rmsNorm(x, rows: n, width: s.dim, weight: layer.ffnNorm, eps: s.normEps, into: xNorm)
            clock.lap(.other)
            layer.gate.apply(xNorm, rows: n, into: gate)
            layer.up.apply(xNorm, rows: n, into: up)
            clock.lap(.matmul)
            VectorOps.siluGate(gate, up, count: n * s.ffnHidden)
            clock.lap(.other)
            layer.down.apply(gate, rows: n, into: projected)
            clock.lap(.matmul)
            VectorOps.add(projected, into: x, count: n * s.dim)
        }

        // Final norm and head only for the rows that want logits, packed to the front, and only over the
        // vocabulary the caller samples from.
        var rows: [Int] = []
        for r in 0..<n where batch.wantsLogits[r] {
            xNorm.copy(from: x, srcOffset: r * s.dim, offset: rows.count * s.dim, count: s.dim)
            rows.append(r)
        }
        VectorOps.rmsNorm(xNorm, rows: rows.count, width: s.dim, weight: w.norm, eps: s.normEps, into: projected)
        clock.lap(.other)
        w.output.apply(projected, rows: rows.count, into: logitsBuffer, outputRows: logitsVocabulary)
        clock.lap(.head)
        profile?.passes += 1
        return PassLogits(buffer: logitsBuffer, vocabulary: logitsVocabulary, queryRows: rows)
    }

    /// Gathers each query's input row into the residual stream, and marks every slot the pass writes as
    /// filled before any layer runs: queries of one pass see each other's K/V (causally by position), like
    /// a prefill over those positions. Only then are a query's hidden positions applied.
    private func embed(_ batch: PassBatch) {
        let inputs = model.weights.inputs, d = model.spec.dim
        for r in 0..<batch.count {
            let cache = caches.cache(batch.sequences[r]), position = batch.positions[r]
            precondition(position >= 0 && position < maxPositions, "position \(position) outside 0..<\(maxPositions)")
            switch batch.inputs[r] {
            case .classLabel(let k):
                guard let classes = inputs.classes else { preconditionFailure("this model takes no class inputs") }
                precondition(k >= 0 && k < inputs.classRows, "class \(k) outside 0..<\(inputs.classRows)")
                VectorOps.gatherRow(classes, row: k, width: d, into: x, offset: r * d)
            case .token(let t):
                precondition(t >= 0 && t < inputs.tokens.outFeatures, "token \(t) outside the vocabulary of \(inputs.tokens.outFeatures)")
                inputs.tokens.copyRow(t, into: x, offset: r * d)
            }
            cache.setFilled(position)
            attention.setQuery(r, cache: cache, last: position)
        }
        for r in 0..<batch.count where !batch.hidden[r].isEmpty { attention.hide(r, batch.hidden[r]) }
    }

    /// Per query: the optional per-head query/key norm, RoPE at the query's position, then its keys and
    /// values into its sequence's cache.
    private func positionKeys(_ batch: PassBatch, layer l: Int, weights layer: DecoderWeights.Layer) {
        let s = model.spec, rotary = model.rotary
        for r in 0..<batch.count {
            let base = r * s.qkvWidth, keys = base + s.queryWidth
            if let qn = layer.queryNorm, let kn = layer.keyNorm, let eps = s.queryKeyNormEps {
                VectorOps.headLayerNorm(qkv, offset: base, heads: s.heads, headDim: s.headDim,
                                        weight: qn.weight, bias: qn.bias, eps: eps)
                VectorOps.headLayerNorm(qkv, offset: keys, heads: s.kvHeads, headDim: s.headDim,
                                        weight: kn.weight, bias: kn.bias, eps: eps)
            }
            let rope = rotary.offset(position: batch.positions[r])
            VectorOps.rotate(qkv, offset: base, heads: s.heads, headDim: s.headDim, table: rotary.table, tableOffset: rope)
            VectorOps.rotate(qkv, offset: keys, heads: s.kvHeads, headDim: s.headDim, table: rotary.table, tableOffset: rope)
            caches.cache(batch.sequences[r]).store(layer: l, position: batch.positions[r], keys: qkv, keyOffset: keys,
                                                   values: qkv, valueOffset: keys + s.kvWidth)
        }
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
