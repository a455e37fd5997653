import Foundation
import Kernels
import Model

/// Runs forward passes of a `TextTransformer` over a ragged batch of queries from many sequences,
/// with the same shape as `GPTEngine`: each query is (sequence, position, token); its K/V go into that
/// sequence's cache slot for that position, and it attends to its own sequence's slots at positions
/// <= its own. Slots may be filled in any order (ZipAR decodes several image rows at once); in masked
/// mode unfilled slots are skipped. All buffers are allocated up front.
///
/// One layer: x += o_proj(attention(RoPE(qkNorm(q)), RoPE(qkNorm(k)), v)) on RMSNorm(x), then
/// x += down(silu(gate(h)) * up(h)) on h = RMSNorm(x); qkNorm is Chameleon's per-head LayerNorm.
public final class TextEngine {
    public let model: TextTransformer
    public let attentionMode: AttentionMode
    public let maxQueries: Int
    public let maxSequences: Int
    /// Positions each sequence's KV cache holds (default: the model's max_position_embeddings).
    public let maxPositions: Int
    /// How the KV caches keep keys and values (default: like the weights; f16 for int8 weights).
    public let cacheStorage: WeightStorage

    private let caches: KVCachePool   // [layer][kvHead][position][headDim] keys and values, per sequence
    // Activations, one row per query of the pass (row r = queries[r]), allocated for maxQueries rows.
    private let x: FloatBuffer              // [query][hidden]: the residual stream
    private let xNorm: FloatBuffer          // [query][hidden]; at the head: the rows that want logits, packed
    private let qkv: FloatBuffer            // [query][q: heads | k: kvHeads | v: kvHeads][headDim]
    private let attended: FloatBuffer       // [query][heads][headDim]
    private let projected: FloatBuffer      // [query][hidden]; at the head: the normed packed rows
    private let gate, up: FloatBuffer       // [query][intermediate]
    private let logitsBuffer: FloatBuffer   // [logits row][vocab]: rows that want logits, packed
    private let attention: BatchedAttention

    public init(model: TextTransformer, maxQueries: Int = 64, maxSequences: Int = 8, maxPositions: Int? = nil,
                attentionMode: AttentionMode = .masked, cacheStorage: WeightStorage? = nil) {
        let c = model.config
        self.model = model
        self.maxQueries = maxQueries
        self.maxSequences = maxSequences
        self.maxPositions = min(maxPositions ?? c.maxPositions, c.maxPositions)
        self.attentionMode = attentionMode
        let storage = (cacheStorage ?? model.weights.storage).kvCacheStorage, positions = self.maxPositions
        self.cacheStorage = storage
        caches = KVCachePool(capacity: maxSequences) {
            KVCache(layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim, positions: positions, storage: storage)
        }
        let d = c.hiddenSize
        x = FloatBuffer(count: maxQueries * d)
        xNorm = FloatBuffer(count: maxQueries * d)
        qkv = FloatBuffer(count: maxQueries * (c.heads + 2 * c.kvHeads) * c.headDim)
        attended = FloatBuffer(count: maxQueries * c.heads * c.headDim)
        projected = FloatBuffer(count: maxQueries * d)
        gate = FloatBuffer(count: maxQueries * c.intermediateSize)
        up = FloatBuffer(count: maxQueries * c.intermediateSize)
        logitsBuffer = FloatBuffer(count: maxQueries * c.vocabSize)
        attention = BatchedAttention(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                     positions: self.maxPositions, maxQueries: maxQueries)
    }

    public var openSequences: Int { caches.openCount }

    /// Bytes held by KV caches (for memory reports).
    public var cacheBytes: Int { caches.byteCount }

    /// Reserves an empty KV cache (all slots unfilled).
    public func openSequence() throws -> TextSequenceID { try caches.open() }

    public func closeSequence(_ id: TextSequenceID) { caches.close(id) }

    /// Whether a sequence's slot at `position` holds K/V (tests, schedulers).
    public func isFilled(_ id: TextSequenceID, position: Int) -> Bool {
        caches.cache(id).isFilled(position)
    }

    /// Runs one forward pass. Returns the logits of the queries that asked for them, in query order.
    public func forward(_ queries: [TextQuery]) -> PassLogits {   // raw lm_head logits: no token class masked
        let c = model.config, w = model.weights
        let n = queries.count
        precondition(n <= maxQueries, "\(n) queries exceed the engine's maximum of \(maxQueries)")
        let d = c.hiddenSize, hd = c.headDim
        let qWidth = c.heads * hd, kvWidth = c.kvHeads * hd
        let qkvWidth = qWidth + 2 * kvWidth

        // Embeddings, and mark every written slot as filled before any layer runs: queries of one
        // pass see each other's K/V (causally by position), like a prefill over those positions.
        for (r, q) in queries.enumerated() {
            let cache = caches.cache(q.sequence)
            precondition(q.position >= 0 && q.position < maxPositions, "position \(q.position) outside 0..<\(maxPositions)")
            precondition(q.token >= 0 && q.token < c.vocabSize, "token \(q.token) outside the vocabulary of \(c.vocabSize)")
            w.tokenEmbedding.copyRow(q.token, into: x, offset: r * d)
            cache.setFilled(q.position)
            attention.setQuery(r, cache: cache, last: q.position)
        }

        for (l, layer) in w.layers.enumerated() {
            // Attention block.
            VectorOps.rmsNorm(x, rows: n, width: d, weight: layer.attentionNorm, eps: c.rmsNormEps, into: xNorm)
            layer.wqkv.apply(xNorm, rows: n, into: qkv)
            for (r, q) in queries.enumerated() {
                let base = r * qkvWidth
                // Chameleon normalises each head's query and key before RoPE, as its reference does.
                if let qn = layer.queryNorm, let kn = layer.keyNorm {
                    VectorOps.headLayerNorm(qkv, offset: base, heads: c.heads, headDim: hd,
                                            weight: qn.weight, bias: qn.bias, eps: c.queryKeyNormEps)
                    VectorOps.headLayerNorm(qkv, offset: base + qWidth, heads: c.kvHeads, headDim: hd,
                                            weight: kn.weight, bias: kn.bias, eps: c.queryKeyNormEps)
                }
                let rope = model.rotary.offset(position: q.position)
                VectorOps.rotate(qkv, offset: base, heads: c.heads, headDim: hd, table: model.rotary.table, tableOffset: rope)
                VectorOps.rotate(qkv, offset: base + qWidth, heads: c.kvHeads, headDim: hd,
                                 table: model.rotary.table, tableOffset: rope)
                caches.cache(q.sequence).store(layer: l, position: q.position, keys: qkv, keyOffset: base + qWidth,
                                               values: qkv, valueOffset: base + qWidth + kvWidth)
            }
            attention.run(count: n, layer: l, q: qkv, qStride: qkvWidth, into: attended, outStride: qWidth,
                          maskUnfilled: attentionMode == .masked)
            layer.wo.apply(attended, rows: n, into: projected)
            VectorOps.add(projected, into: x, count: n * d)

            // Feed-forward block (SwiGLU): down(silu(gate h) * up h).
            VectorOps.rmsNorm(x, rows: n, width: d, weight: layer.ffnNorm, eps: c.rmsNormEps, into: xNorm)
            layer.gate.apply(xNorm, rows: n, into: gate)
            layer.up.apply(xNorm, rows: n, into: up)
            VectorOps.siluGate(gate, up, count: n * c.intermediateSize)
            layer.down.apply(gate, rows: n, into: projected)
            VectorOps.add(projected, into: x, count: n * d)
        }

        // Final norm and lm_head only for the rows that want logits, packed to the front.
        var rows: [Int] = []
        for (r, q) in queries.enumerated() where q.wantsLogits {
            xNorm.copy(from: x, srcOffset: r * d, offset: rows.count * d, count: d)
            rows.append(r)
        }
        VectorOps.rmsNorm(xNorm, rows: rows.count, width: d, weight: w.norm, eps: c.rmsNormEps, into: projected)
        w.output.apply(projected, rows: rows.count, into: logitsBuffer)
        return PassLogits(buffer: logitsBuffer, vocab: c.vocabSize, queryRows: rows)
    }
}
