import Kernels

/// The weights of a LlamaGen GPT, named as in the official checkpoints.
public struct GPTWeights: Sendable {
    public struct Layer: Sendable {
        public let attentionNorm: FloatBuffer   // layers.i.attention_norm.weight [dim]
        public let wqkv: WeightMatrix           // layers.i.attention.wqkv.weight [q: nHead | k: kvHeads | v: kvHeads][headDim][dim]
        public let wo: WeightMatrix             // layers.i.attention.wo.weight [dim][nHead * headDim = dim]
        public let ffnNorm: FloatBuffer         // layers.i.ffn_norm.weight [dim]
        public let w1: WeightMatrix             // layers.i.feed_forward.w1.weight (gate) [ffnHidden][dim]
        public let w3: WeightMatrix             // layers.i.feed_forward.w3.weight (up) [ffnHidden][dim]
        public let w2: WeightMatrix             // layers.i.feed_forward.w2.weight (down) [dim][ffnHidden]
    }

    public let classEmbedding: FloatBuffer   // cls_embedding.embedding_table.weight [classRows][dim]
    public let classRows: Int                // num_classes + 1: the last row is the null class (CFG)
    public let tokenEmbedding: FloatBuffer   // tok_embeddings.weight [vocab][dim]
    public let layers: [Layer]               // [layer]
    public let norm: FloatBuffer             // norm.weight [dim]
    public let output: WeightMatrix          // output.weight [vocab][dim]

    /// How the matrices keep their values (all alike).
    public var storage: WeightStorage { output.storage }

    /// Bytes a forward pass streams: every matrix once (embeddings are gathered, not streamed).
    public var streamedBytes: Int {
        layers.reduce(output.byteCount) { $0 + $1.wqkv.byteCount + $1.wo.byteCount + $1.w1.byteCount + $1.w2.byteCount + $1.w3.byteCount }
    }

    public var parameterCount: Int {
        let perLayer = layers.first.map { 2 * $0.attentionNorm.count + ($0.wqkv.outFeatures + $0.wo.outFeatures + $0.w1.outFeatures + $0.w3.outFeatures) * $0.wqkv.inFeatures + $0.w2.outFeatures * $0.w2.inFeatures } ?? 0
        return classEmbedding.count + tokenEmbedding.count + norm.count + output.outFeatures * output.inFeatures + perLayer * layers.count
    }

    /// Loads and shape-checks every tensor from a safetensors file.
    public init(file: SafeTensorsFile, config c: GPTConfig, storage: WeightStorage = .f32) throws {
        let d = c.dim, hd = c.headDim
        let qkvOut = (c.nHead + 2 * c.kvHeads) * hd
        func vector(_ name: String, _ n: Int) throws -> FloatBuffer { FloatBuffer(try file.floats(name, shape: [n])) }
        func matrix(_ name: String, _ out: Int, _ inF: Int) throws -> WeightMatrix {
            WeightMatrix(outFeatures: out, inFeatures: inF, values: try file.floats(name, shape: [out, inF]), storage: storage)
        }
        let clsInfo = try file.info("cls_embedding.embedding_table.weight")
        guard clsInfo.shape.count == 2, clsInfo.shape[1] == d,
              clsInfo.shape[0] == c.numClasses || clsInfo.shape[0] == c.numClasses + 1 else {
            throw SafeTensorsFile.Failure.wrongShape(path: file.path, tensor: clsInfo.name,
                                                     expected: [c.numClasses + 1, d], found: clsInfo.shape)
        }
        classRows = clsInfo.shape[0]
        classEmbedding = FloatBuffer(try file.floats(clsInfo.name))
        tokenEmbedding = FloatBuffer(try file.floats("tok_embeddings.weight", shape: [c.vocabSize, d]))
        layers = try (0..<c.nLayer).map { i in
            let p = "layers.\(i)."
            return Layer(attentionNorm: try vector(p + "attention_norm.weight", d),
                         wqkv: try matrix(p + "attention.wqkv.weight", qkvOut, d),
                         wo: try matrix(p + "attention.wo.weight", d, d),
                         ffnNorm: try vector(p + "ffn_norm.weight", d),
                         w1: try matrix(p + "feed_forward.w1.weight", c.ffnHidden, d),
                         w3: try matrix(p + "feed_forward.w3.weight", c.ffnHidden, d),
                         w2: try matrix(p + "feed_forward.w2.weight", d, c.ffnHidden))
        }
        norm = try vector("norm.weight", d)
        output = try matrix("output.weight", c.vocabSize, d)
    }

    /// Random weights of a given shape, for benchmarks (normal-ish, std ~0.02 like LlamaGen's init).
    public init(randomFor c: GPTConfig, seed: UInt64, storage: WeightStorage = .f32) {
        var state = seed | 1
        func noise(_ n: Int, std: Float) -> [Float] {
            (0..<n).map { _ in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                // Sum of uniforms ~ normal, cheap and deterministic.
                let u = Float(state >> 40) / Float(1 << 24)
                return (u - 0.5) * std * 3.46
            }
        }
        let d = c.dim, hd = c.headDim
        func matrix(_ out: Int, _ inF: Int) -> WeightMatrix {
            WeightMatrix(outFeatures: out, inFeatures: inF, values: noise(out * inF, std: 0.02), storage: storage)
        }
        classRows = c.numClasses + 1
        classEmbedding = FloatBuffer(noise(classRows * d, std: 0.02))
        tokenEmbedding = FloatBuffer(noise(c.vocabSize * d, std: 0.02))
        layers = (0..<c.nLayer).map { _ in
            Layer(attentionNorm: FloatBuffer(count: d, value: 1), wqkv: matrix((c.nHead + 2 * c.kvHeads) * hd, d),
                  wo: matrix(d, d), ffnNorm: FloatBuffer(count: d, value: 1), w1: matrix(c.ffnHidden, d),
                  w3: matrix(c.ffnHidden, d), w2: matrix(d, c.ffnHidden))
        }
        norm = FloatBuffer(count: d, value: 1)
        output = matrix(c.vocabSize, d)
    }
}
