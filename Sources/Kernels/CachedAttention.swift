import CKernels

/// Attention of one query token over its own sequence's KV cache.
///
/// The cache is indexed by raster position: `[position][kvHead][headDim]`. A query at position `p`
/// looks at slots `0...p`. ZipAR decodes several rows at once, so some of those slots may not be
/// decoded yet: `filled` says which are. Masked mode skips unfilled slots; reference mode scores
/// them like the official PyTorch code does (its cache is zero-initialised, so such a slot has
/// k = 0 and v = 0 and still takes part in the softmax with score 0).
///
/// Ragged batches need no mask matrix: each query brings its own `last` and the sequence's
/// `filled` flags. The scores scratch is allocated once (heads x positions) and the heads are
/// split over the kernel threads when the cache is long enough to pay for it.
public struct CachedAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let maxPositions: Int
    let scores: FloatBuffer

    public init(heads: Int, kvHeads: Int, headDim: Int, maxPositions: Int) {
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "n_head must be a multiple of n_kv_head")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.maxPositions = maxPositions
        scores = FloatBuffer(count: heads * maxPositions)
    }

    /// `out[h] = softmax(q[h] . K[0...last] * scale) V` for every head `h`.
    /// - q: `heads * headDim` values at `qOffset`; out: the same shape at `outOffset`.
    /// - filled: nil when every slot in `0...last` holds a decoded token's K/V.
    public func run(q: FloatBuffer, qOffset: Int, keys: FloatBuffer, values: FloatBuffer,
                    last: Int, filled: [Bool]?, maskUnfilled: Bool,
                    into out: FloatBuffer, outOffset: Int) {
        let kvStride = kvHeads * headDim
        precondition(last >= 0 && last < maxPositions, "position \(last) outside the cache")
        precondition((last + 1) * kvStride <= keys.count && (last + 1) * kvStride <= values.count, "cache too small")
        precondition(qOffset >= 0 && qOffset + heads * headDim <= q.count, "query out of range")
        precondition(outOffset >= 0 && outOffset + heads * headDim <= out.count, "output out of range")
        precondition(filled.map { $0.count > last } ?? true, "filled flags shorter than the cache")
        let run = { (flags: UnsafePointer<UInt8>?) in
            zk_attention(q.base + qOffset, keys.base, values.base, Int32(last), flags, maskUnfilled ? 1 : 0,
                         Int32(heads), Int32(kvHeads), Int32(headDim), out.base + outOffset, scores.base)
        }
        if let filled, maskUnfilled {
            filled.withUnsafeBufferPointer { b in
                // Bool is one byte, 0 or 1.
                b.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: b.count) { run($0) }
            }
        } else {
            run(nil)
        }
    }
}
