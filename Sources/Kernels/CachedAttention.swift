import Foundation

/// Attention of one query token over its own sequence's KV cache.
///
/// The cache is indexed by raster position: `[position][kvHead][headDim]`. A query at position `p`
/// looks at slots `0...p`. ZipAR decodes several rows at once, so some of those slots may not be
/// decoded yet: `filled` says which are. Masked mode skips unfilled slots; reference mode scores
/// them like the official PyTorch code does (its cache is zero-initialised, so such a slot has
/// k = 0 and v = 0 and still takes part in the softmax with score 0).
public struct CachedAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    let scores: FloatBuffer

    public init(heads: Int, kvHeads: Int, headDim: Int, maxPositions: Int) {
        precondition(heads % kvHeads == 0, "n_head must be a multiple of n_kv_head")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        scores = FloatBuffer(count: maxPositions)
    }

    /// `out[h] = softmax(q[h] . K[0...last] * scale) V` for every head `h`.
    /// - q: `heads * headDim` values at `qOffset`; out: the same shape at `outOffset`.
    /// - filled: nil when every slot in `0...last` holds a decoded token's K/V.
    public func run(q: FloatBuffer, qOffset: Int, keys: FloatBuffer, values: FloatBuffer,
                    last: Int, filled: [Bool]?, maskUnfilled: Bool,
                    into out: FloatBuffer, outOffset: Int) {
        let hd = headDim, kvStride = kvHeads * hd
        precondition(last < scores.count && (last + 1) * kvStride <= keys.count)
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let s = scores.base
        for h in 0..<heads {
            let qh = q.base + qOffset + h * hd
            let kvh = h / group
            let oh = out.base + outOffset + h * hd
            var used = 0
            var maxScore = -Float.infinity
            // First pass: scores of the slots that take part.
            for p in 0...last {
                if maskUnfilled, let filled, !filled[p] { s[p] = -.infinity; continue }
                let k = keys.base + p * kvStride + kvh * hd
                var dot: Float = 0
                for i in 0..<hd { dot += qh[i] * k[i] }
                dot *= scale
                s[p] = dot
                if dot > maxScore { maxScore = dot }
                used += 1
            }
            for i in 0..<hd { oh[i] = 0 }
            guard used > 0 else { continue }
            var sum: Float = 0
            for p in 0...last where s[p] != -.infinity {
                let e = expf(s[p] - maxScore)
                s[p] = e
                sum += e
            }
            let inv = 1 / sum
            for p in 0...last where s[p] != -.infinity {
                let wgt = s[p] * inv
                let v = values.base + p * kvStride + kvh * hd
                for i in 0..<hd { oh[i] += wgt * v[i] }
            }
        }
    }
}
