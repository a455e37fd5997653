import Kernels

/// `DecoderBackend` on the CPU: activations in `FloatBuffer`s allocated once for `maxQueries` rows, weights as
/// `WeightMatrix` (f32, f16 or int8), KV caches in a `KVCachePool`, kernels from `Kernels`.
public final class CPUDecoderBackend: DecoderBackend {
    public let model: DecoderModel
    public let maxQueries: Int
    public let maxPositions: Int
    public let attentionMode: AttentionMode
    public let cacheStorage: WeightStorage
    public var profile: PassProfile?

    private let caches: KVCachePool   // [layer][kvHead][position][headDim] keys and values, per sequence
    // Activations, one row per query of the pass (row r = query r), allocated for maxQueries rows.
    private let x: FloatBuffer              // [query][dim]: the residual stream
    private let xNorm: FloatBuffer          // [query][dim]; at the head: the rows that want logits, packed
    private let qkv: FloatBuffer            // [query][q: heads | k: kvHeads | v: kvHeads][headDim]
    private let attended: FloatBuffer       // [query][heads][headDim]
    private let projected: FloatBuffer      // [query][dim]; at the head: the normed packed rows
    private let gateUp: FloatBuffer         // [query][gate: ffnHidden | up: ffnHidden]; after the gate, [query][ffnHidden]
    private let logits: FloatBuffer         // [logits row][vocabulary]: rows that want logits, packed
    private let attention: BatchedAttention
    // Janus's image-code aligner and head: [row][widest layer], rows packed (only with an ImageCodePath).
    private let mlpIn: FloatBuffer, mlpOut: FloatBuffer

    public init(model: DecoderModel, maxQueries: Int, maxSequences: Int, maxPositions: Int, maxVocabulary: Int,
                attentionMode: AttentionMode, cacheStorage: WeightStorage) {
        let s = model.spec
        self.model = model; self.maxQueries = maxQueries; self.maxPositions = maxPositions
        self.attentionMode = attentionMode; self.cacheStorage = cacheStorage
        caches = KVCachePool(capacity: maxSequences) {
            KVCache(layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, positions: maxPositions, storage: cacheStorage)
        }
        x = FloatBuffer(count: maxQueries * s.dim)
        xNorm = FloatBuffer(count: maxQueries * s.dim)
        qkv = FloatBuffer(count: maxQueries * s.qkvWidth)
        attended = FloatBuffer(count: maxQueries * s.queryWidth)
        projected = FloatBuffer(count: maxQueries * s.dim)
        gateUp = FloatBuffer(count: maxQueries * 2 * s.ffnHidden)
        logits = FloatBuffer(count: maxQueries * maxVocabulary)
        attention = BatchedAttention(heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, positions: maxPositions,
                                     maxQueries: maxQueries)
        let widest = model.weights.inputs.imageCodes?.widest ?? 0
        mlpIn = FloatBuffer(count: maxQueries * widest)
        mlpOut = FloatBuffer(count: maxQueries * widest)
    }

    public var openSequences: Int { caches.openCount }
    public var cacheBytes: Int { caches.byteCount }
    public func openSequence() throws -> SequenceID { try caches.open() }
    public func closeSequence(_ id: SequenceID) { caches.close(id) }
    public func isFilled(_ id: SequenceID, position: Int) -> Bool { caches.cache(id).isFilled(position) }

    public func embed(_ batch: PassBatch) {
        var clock = StageClock(profile)
        defer { clock.lap(.other) }
        let inputs = model.weights.inputs, d = model.spec.dim
        var codeRows: [(row: Int, code: Int)] = []
        for r in 0..<batch.count {
            let cache = caches.cache(batch.sequences[r]), position = batch.positions[r]
            precondition(position >= 0 && position < maxPositions, "position \(position) outside 0..<\(maxPositions)")
            switch batch.inputs[r] {
            case .classLabel(let k):
                guard let classes = inputs.classes else { preconditionFailure("this model takes no class inputs") }
                precondition(k >= 0 && k < inputs.classRows, "class \(k) outside 0..<\(inputs.classRows)")
                VectorOps.gatherRow(classes, row: k, width: d, into: x, offset: r * d)
            case .token(let t) where t >= inputs.tokens.outFeatures:
                guard let path = inputs.imageCodes, path.ids.contains(t) else {
                    preconditionFailure("token \(t) outside the vocabulary of \(inputs.vocabularySize)")
                }
                codeRows.append((r, t - path.firstID))
            case .token(let t):
                precondition(t >= 0, "token \(t) is negative")
                inputs.tokens.copyRow(t, into: x, offset: r * d)
            }
            cache.setFilled(position)
            attention.setQuery(r, cache: cache, last: position)
        }
        if let path = inputs.imageCodes, !codeRows.isEmpty { embedCodes(codeRows, path: path) }
        // Only now is every slot of the pass marked filled.
        for r in 0..<batch.count where !batch.hidden[r].isEmpty { attention.hide(r, batch.hidden[r]) }
    }

    public func attentionBlock(layer l: Int, batch: PassBatch) {
        let s = model.spec, layer = model.weights.layers[l], n = batch.count
        var clock = StageClock(profile)
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
        clock.lap(.other)
    }

    public func feedForwardBlock(layer l: Int, rows n: Int) {
        let s = model.spec, layer = model.weights.layers[l]
        var clock = StageClock(profile)
        VectorOps.rmsNorm(x, rows: n, width: s.dim, weight: layer.ffnNorm, eps: s.normEps, into: xNorm)
        clock.lap(.other)
        layer.gateUp.apply(xNorm, rows: n, into: gateUp)
        clock.lap(.matmul)
        VectorOps.siluGate(gateUp, rows: n, hidden: s.ffnHidden, into: gateUp)
        clock.lap(.other)
        layer.down.apply(gateUp, rows: n, into: projected)
        clock.lap(.matmul)
        VectorOps.add(projected, into: x, count: n * s.dim)
        clock.lap(.other)
    }

    public func head(rows: [Int], vocabulary: Range<Int>) -> PassLogits {
        let s = model.spec, w = model.weights
        var clock = StageClock(profile)
        for (k, r) in rows.enumerated() { xNorm.copy(from: x, srcOffset: r * s.dim, offset: k * s.dim, count: s.dim) }
        VectorOps.rmsNorm(xNorm, rows: rows.count, width: s.dim, weight: w.norm, eps: s.normEps, into: projected)
        clock.lap(.other)
        if let path = w.inputs.imageCodes, vocabulary.lowerBound >= path.firstID {
            precondition(vocabulary.upperBound <= path.ids.upperBound, "logits \(vocabulary) outside the image codes \(path.ids)")
            let codes = (vocabulary.lowerBound - path.firstID)..<(vocabulary.upperBound - path.firstID)
            runMLP(path.head, input: projected, rows: rows.count, into: logits, lastOutputs: codes)
        } else {
            w.output.apply(projected, rows: rows.count, into: logits, outputRows: vocabulary)
        }
        clock.lap(.head)
        return PassLogits(buffer: logits, vocabulary: vocabulary, queryRows: rows)
    }

    /// Janus: each code's embedding through the generation aligner, into its query's residual row.
    private func embedCodes(_ codeRows: [(row: Int, code: Int)], path: ImageCodePath) {
        let d = model.spec.dim, e = path.embedDim
        for (k, c) in codeRows.enumerated() { mlpIn.copy(from: path.embedding, srcOffset: c.code * e, offset: k * e, count: e) }
        let out = path.aligner.count % 2 == 1 ? mlpOut : mlpIn   // where the last layer's output lands
        runMLP(path.aligner, input: mlpIn, rows: codeRows.count, into: out)
        for (k, c) in codeRows.enumerated() { x.copy(from: out, srcOffset: k * d, offset: c.row * d, count: d) }
    }

    /// Dense layers with GELU between them, ping-ponging through the scratch buffers; the last one writes
    /// `output` (over `lastOutputs` of its features when given).
    private func runMLP(_ layers: [DenseLayer], input: FloatBuffer, rows: Int, into output: FloatBuffer,
                        lastOutputs: Range<Int>? = nil) {
        var source = input
        for (i, layer) in layers.enumerated() {
            let last = i == layers.count - 1
            let target = last ? output : (source === mlpOut ? mlpIn : mlpOut)
            layer.apply(source, rows: rows, into: target, outputRows: last ? lastOutputs : nil)
            if !last { VectorOps.gelu(target, count: rows * layer.weight.outFeatures) }
            source = target
        }
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
