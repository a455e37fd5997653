import Foundation
import Kernels

/// Runs forward passes of a `GPTModel` over a ragged batch of queries from many sequences.
///
/// Each query is (sequence, position, input). Its K/V go into that sequence's cache slot for that
/// position, and it attends to its own sequence's slots at positions <= its own. Plain next-token
/// prediction is one query per sequence; ZipAR puts several rows of one image into one pass;
/// continuous batching puts many images into one pass. All buffers are allocated up front.
public final class GPTEngine {
    public let model: GPTModel
    public let attentionMode: AttentionMode
    public let maxQueries: Int
    public let maxSequences: Int

    private let caches: KVCachePool   // [layer][kvHead][position][headDim] keys and values, per sequence
    // Activations, one row per query of the pass (row r = queries[r]), allocated for maxQueries rows.
    private let x: FloatBuffer              // [query][dim]: the residual stream
    private let xNorm: FloatBuffer          // [query][dim]; at the head: the rows that want logits, packed
    private let qkv: FloatBuffer            // [query][q: nHead | k: kvHeads | v: kvHeads][headDim]
    private let attended: FloatBuffer       // [query][nHead][headDim]
    private let projected: FloatBuffer      // [query][dim]; at the head: the normed packed rows
    private let gate, up: FloatBuffer       // [query][ffnHidden]
    private let logitsBuffer: FloatBuffer   // [logits row][vocabSize]: rows that want logits, packed
    private let attention: BatchedAttention
    /// How the KV caches keep keys and values (default: like the model's weights; f16 for int8 weights).
    public let cacheStorage: WeightStorage
    /// When set, every pass adds its time per stage here (benchmarks).
    public var profile: PassProfile?

    public init(model: GPTModel, maxQueries: Int = 64, maxSequences: Int = 16, attentionMode: AttentionMode = .masked,
                cacheStorage: WeightStorage? = nil) {
        let c = model.config
        self.model = model
        self.attentionMode = attentionMode
        self.maxQueries = maxQueries
        self.maxSequences = maxSequences
        let storage = (cacheStorage ?? model.weights.storage).kvCacheStorage
        self.cacheStorage = storage
        caches = KVCachePool(capacity: maxSequences) {
            KVCache(layers: c.nLayer, kvHeads: c.kvHeads, headDim: c.headDim, positions: c.sequenceLength, storage: storage)
        }
        x = FloatBuffer(count: maxQueries * c.dim)
        xNorm = FloatBuffer(count: maxQueries * c.dim)
        qkv = FloatBuffer(count: maxQueries * (c.nHead + 2 * c.kvHeads) * c.headDim)
        attended = FloatBuffer(count: maxQueries * c.dim)
        projected = FloatBuffer(count: maxQueries * c.dim)
        gate = FloatBuffer(count: maxQueries * c.ffnHidden)
        up = FloatBuffer(count: maxQueries * c.ffnHidden)
        logitsBuffer = FloatBuffer(count: maxQueries * c.vocabSize)
        attention = BatchedAttention(heads: c.nHead, kvHeads: c.kvHeads, headDim: c.headDim,
                                     positions: c.sequenceLength, maxQueries: maxQueries)
    }

    public var openSequences: Int { caches.openCount }

    /// Reserves an empty KV cache (all slots unfilled, K = V = 0).
    public func openSequence() throws -> SequenceID { try caches.open() }

    public func closeSequence(_ id: SequenceID) { caches.close(id) }

    /// Bytes held by KV caches (for memory reports).
    public var cacheBytes: Int { caches.byteCount }

    /// Runs one forward pass. Returns the logits of the queries that asked for them, in query order.
    public func forward(_ queries: [GPTQuery]) -> PassLogits {
        let c = model.config, w = model.weights
        let n = queries.count
        precondition(n <= maxQueries, "\(n) queries exceed the engine's maximum of \(maxQueries)")
        let d = c.dim, hd = c.headDim
        let qkvWidth = (c.nHead + 2 * c.kvHeads) * hd
        let kvWidth = c.kvHeads * hd
        var clock = StageClock(profile)

        // Embeddings, and mark every written slot as filled before any layer runs: queries of
        // one pass see each other's K/V, like a prefill over those positions.
        for (r, q) in queries.enumerated() {
            let cache = caches.cache(q.sequence)
            precondition(q.position >= 0 && q.position < c.sequenceLength, "position \(q.position) out of range")
            switch q.input {
            case .classLabel(let k):
                precondition(k >= 0 && k < w.classRows, "class \(k) out of range")
                VectorOps.gatherRow(w.classEmbedding, row: k, width: d, into: x, offset: r * d)
            case .token(let t):
                precondition(t >= 0 && t < c.vocabSize, "token \(t) out of range")
                VectorOps.gatherRow(w.tokenEmbedding, row: t, width: d, into: x, offset: r * d)
            }
            cache.setFilled(q.position)
            attention.setQuery(r, cache: cache, last: q.position)
        }
        // Only now is every slot of the pass marked filled.
        for (r, q) in queries.enumerated() where !q.hidden.isEmpty { attention.hide(r, q.hidden) }
        clock.lap(.other)

        for (l, layer) in w.layers.enumerated() {
            // Attention block.
            VectorOps.rmsNorm(x, rows: n, width: d, weight: layer.attentionNorm, eps: c.normEps, into: xNorm)
            clock.lap(.other)
            layer.wqkv.apply(xNorm, rows: n, into: qkv)
            clock.lap(.matmul)
            for (r, q) in queries.enumerated() {
                let base = r * qkvWidth
                let rope = model.rotary.offset(position: q.position)
                VectorOps.rotate(qkv, offset: base, heads: c.nHead, headDim: hd, table: model.rotary.table, tableOffset: rope)
                VectorOps.rotate(qkv, offset: base + d, heads: c.kvHeads, headDim: hd, table: model.rotary.table, tableOffset: rope)
                caches.cache(q.sequence).store(layer: l, position: q.position, keys: qkv, keyOffset: base + d,
                                               values: qkv, valueOffset: base + d + kvWidth)
            }
            clock.lap(.other)
            attention.run(count: n, layer: l, q: qkv, qStride: qkvWidth, into: attended, outStride: d,
                          maskUnfilled: attentionMode == .masked)
            clock.lap(.attention)
            layer.wo.apply(attended, rows: n, into: projected)
            clock.lap(.matmul)
            VectorOps.add(projected, into: x, count: n * d)

            // Feed-forward block: w2(silu(w1 x) * w3 x).
            VectorOps.rmsNorm(x, rows: n, width: d, weight: layer.ffnNorm, eps: c.normEps, into: xNorm)
            clock.lap(.other)
            layer.w1.apply(xNorm, rows: n, into: gate)
            layer.w3.apply(xNorm, rows: n, into: up)
            clock.lap(.matmul)
            VectorOps.siluGate(gate, up, count: n * c.ffnHidden)
            clock.lap(.other)
            layer.w2.apply(gate, rows: n, into: projected)
            clock.lap(.matmul)
            VectorOps.add(projected, into: x, count: n * d)
        }

        // Output head only for the rows that want logits, packed to the front.
        var rows: [Int] = []
        for (r, q) in queries.enumerated() where q.wantsLogits {
            xNorm.copy(from: x, srcOffset: r * d, offset: rows.count * d, count: d)
            rows.append(r)
        }
        VectorOps.rmsNorm(xNorm, rows: rows.count, width: d, weight: w.norm, eps: c.normEps, into: projected)
        clock.lap(.other)
        w.output.apply(projected, rows: rows.count, into: logitsBuffer)
        clock.lap(.head)
        profile?.passes += 1
        return PassLogits(buffer: logitsBuffer, vocab: c.vocabSize, queryRows: rows)
    }
}

/// The logits of one pass. Valid until the engine's next `forward`.
public struct PassLogits {
    let buffer: FloatBuffer             // [logits row][vocab]: the engine's, not a copy
    public let vocab: Int
    /// For each logits row, the index of its query in the pass.
    public let queryRows: [Int]

    /// For engines in other targets (the text-to-image transformer) that hand back their logits the same way.
    public init(buffer: FloatBuffer, vocab: Int, queryRows: [Int]) {
        self.buffer = buffer; self.vocab = vocab; self.queryRows = queryRows
    }

    public var count: Int { queryRows.count }

    /// Logits row `i` (the i-th query that asked for logits).
    public func row(_ i: Int) -> [Float] {
        buffer.array(offset: i * vocab, count: vocab)
    }
}
