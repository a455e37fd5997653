import CKernels

/// Attention of every query token of a pass over its own sequence's `KVCache`, one call per layer.
///
/// A query at position `p` looks at slots `0...p` of its cache. ZipAR decodes several rows at once,
/// so some of those slots may not be decoded yet: masked mode skips unfilled slots; reference mode
/// scores them like the official PyTorch code does (its cache is zero-initialised, so such a slot
/// has k = 0 and v = 0 and still takes part in the softmax with score 0).
///
/// Ragged batches need no mask matrix: each query brings its cache and its last position. Set the
/// pass's queries once with `setQuery`, then `run` each layer; the (query, head) pairs are split
/// over the kernel threads. Descriptors and score scratch are allocated once, at init.
public final class BatchedAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let positions: Int
    public let maxQueries: Int
    private let descriptors: UnsafeMutablePointer<zk_attn_query>   // [query]
    private var caches: [KVCache?]                                  // [query]: keeps each descriptor's cache alive
    private let scores: FloatBuffer                                 // [scoreRows][positions]: a row per chunk of a run
    private let scoreRows = 64        // >= 4 chunks per thread at the pool's 16-thread maximum
    private let hiddenMasks: UnsafeMutablePointer<UInt8>           // [query][positions]: filled flags minus hidden slots

    public init(heads: Int, kvHeads: Int, headDim: Int, positions: Int, maxQueries: Int) {
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "n_head must be a multiple of n_kv_head")
        precondition(maxQueries > 0 && positions > 0, "empty attention")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.positions = positions
        self.maxQueries = maxQueries
        descriptors = .allocate(capacity: maxQueries)
        descriptors.initialize(repeating: zk_attn_query(), count: maxQueries)
        caches = [KVCache?](repeating: nil, count: maxQueries)
        scores = FloatBuffer(count: scoreRows * positions)
        hiddenMasks = .allocate(capacity: maxQueries * positions)
        hiddenMasks.initialize(repeating: 0, count: maxQueries * positions)
    }

    deinit {
        descriptors.deallocate()
        hiddenMasks.deallocate()
    }

    /// Query `index` of the next `run`s: it reads `cache` at positions `0...last`.
    public func setQuery(_ index: Int, cache: KVCache, last: Int) {
        precondition(index >= 0 && index < maxQueries, "query \(index) beyond \(maxQueries)")
        precondition(cache.kvHeads == kvHeads && cache.headDim == headDim && cache.positions == positions,
                     "cache shape does not match the attention")
        precondition(last >= 0 && last < positions, "position \(last) outside the cache")
        caches[index] = cache
        descriptors[index].last = Int32(last)
        descriptors[index].filled = UnsafePointer(cache.filledFlags)
    }

    /// Masks `ranges` of positions out for query `index` (set by `setQuery` for this pass) although its cache
    /// has them filled: the query reads a private copy of the filled flags. Call it once every slot of the
    /// pass is marked filled. Masked mode only (reference mode reads every slot).
    public func hide(_ index: Int, _ ranges: [Range<Int>]) {
        precondition(index >= 0 && index < maxQueries, "query \(index) beyond \(maxQueries)")
        guard !ranges.isEmpty, let cache = caches[index] else { return }
        let row = hiddenMasks + index * positions
        row.update(from: cache.filledFlags, count: positions)
        for r in ranges { for p in r.clamped(to: 0..<positions) { row[p] = 0 } }
        descriptors[index].filled = UnsafePointer(row)
    }

    /// Runs queries `0..<count` on `layer`: query `i` reads `heads * headDim` values of `q` at
    /// `i * qStride + qOffset` and writes as many to `out` at `i * outStride`.
    public func run(count: Int, layer: Int, q: FloatBuffer, qStride: Int, qOffset: Int = 0,
                    into out: FloatBuffer, outStride: Int, maskUnfilled: Bool) {
        precondition(count >= 0 && count <= maxQueries, "\(count) queries beyond \(maxQueries)")
        guard count > 0 else { return }
        let width = heads * headDim
        precondition(qOffset >= 0 && (count - 1) * qStride + qOffset + width <= q.count, "queries out of range")
        precondition((count - 1) * outStride + width <= out.count, "output out of range")
        var storage = WeightStorage.f32
        for i in 0..<count {
            guard let cache = caches[i] else { preconditionFailure("query \(i) has no cache") }
            precondition(layer >= 0 && layer < cache.layers, "layer \(layer) outside the cache")
            if i == 0 { storage = cache.storage } else {
                precondition(cache.storage == storage, "one pass mixes f32 and f16 caches")
            }
            descriptors[i].q = UnsafePointer(q.base + i * qStride + qOffset)
            descriptors[i].out = out.base + i * outStride
            descriptors[i].keys = UnsafeRawPointer(cache.layerKeys(layer))
            descriptors[i].values = UnsafeRawPointer(cache.layerValuesPointer(layer))
        }
        zk_attention_batch(descriptors, Int32(count), Int32(heads), Int32(kvHeads), Int32(headDim), Int32(positions),
                           storage == .f16 ? 1 : 0, maskUnfilled ? 1 : 0, scores.base, Int32(scoreRows))
    }
}
