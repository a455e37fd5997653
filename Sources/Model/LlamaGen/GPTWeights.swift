import Kernels

/// LlamaGen's weight names (the official checkpoints') mapped onto `DecoderWeights`.
extension DecoderWeights {
    /// Loads and shape-checks every tensor from a safetensors file. The token and class tables stay f32
    /// whatever `storage` the matrices use (they are gathered, not streamed).
    public static func llamaGen(file: SafeTensorsFile, config c: GPTConfig, storage: WeightStorage = .f32) throws -> DecoderWeights {
        let d = c.dim, hd = c.headDim
        let qkvOut = (c.nHead + 2 * c.kvHeads) * hd
        func vector(_ name: String, _ n: Int) throws -> FloatBuffer { FloatBuffer(try file.floats(name, shape: [n])) }
        func matrix(_ name: String, _ out: Int, _ inF: Int, storage s: WeightStorage = storage) throws -> WeightMatrix {
            WeightMatrix(outFeatures: out, inFeatures: inF, values: try file.floats(name, shape: [out, inF]), storage: s)
        }
        let clsInfo = try file.info("cls_embedding.embedding_table.weight")
        guard clsInfo.shape.count == 2, clsInfo.shape[1] == d,
              clsInfo.shape[0] == c.numClasses || clsInfo.shape[0] == c.numClasses + 1 else {
            throw SafeTensorsFile.Failure.wrongShape(path: file.path, tensor: clsInfo.name,
                                                     expected: [c.numClasses + 1, d], found: clsInfo.shape)
        }
        let inputs = Inputs(tokens: try matrix("tok_embeddings.weight", c.vocabSize, d, storage: .f32),
                            classes: FloatBuffer(try file.floats(clsInfo.name)), classRows: clsInfo.shape[0])
        let layers = try (0..<c.nLayer).map { i in
            let p = "layers.\(i)."
            return Layer(attentionNorm: try vector(p + "attention_norm.weight", d),
                         wqkv: try matrix(p + "attention.wqkv.weight", qkvOut, d),
                         wo: try matrix(p + "attention.wo.weight", d, d),
                         ffnNorm: try vector(p + "ffn_norm.weight", d),
                         gateUp: WeightMatrix(stacking: [try file.floats(p + "feed_forward.w1.weight", shape: [c.ffnHidden, d]),
                                                         try file.floats(p + "feed_forward.w3.weight", shape: [c.ffnHidden, d])],
                                              inFeatures: d, storage: storage),
                         down: try matrix(p + "feed_forward.w2.weight", d, c.ffnHidden))
        }
        return DecoderWeights(inputs: inputs, layers: layers, norm: try vector("norm.weight", d),
                              output: try matrix("output.weight", c.vocabSize, d))
    }

    /// Random LlamaGen weights of a given shape, for benchmarks and tests (normal-ish, std ~0.02 like
    /// LlamaGen's init). `tokens` replaces the token table's values (tests shape the model's predictions).
    public static func randomLlamaGen(_ c: GPTConfig, seed: UInt64, storage: WeightStorage = .f32,
                                      tokens: (([Float]) -> [Float])? = nil) -> DecoderWeights {
        var generator = UniformNoise(seed: seed)
        func noise(_ n: Int, std: Float) -> [Float] { generator.centered(n, std: std) }
        let d = c.dim, hd = c.headDim
        func matrix(_ out: Int, _ inF: Int) -> WeightMatrix {
            WeightMatrix(outFeatures: out, inFeatures: inF, values: noise(out * inF, std: 0.02), storage: storage)
        }
        // Drawn in the order the old loader drew them (class table, token table, layers, head), so a seed
        // gives the same weights as before.
        let classRows = c.numClasses + 1
        let classes = FloatBuffer(noise(classRows * d, std: 0.02))
        var tokenValues = noise(c.vocabSize * d, std: 0.02)
        if let tokens { tokenValues = tokens(tokenValues) }
        let inputs = Inputs(tokens: WeightMatrix(outFeatures: c.vocabSize, inFeatures: d, values: tokenValues, storage: .f32),
                            classes: classes, classRows: classRows)
        let layers = (0..<c.nLayer).map { _ in
            Layer(attentionNorm: FloatBuffer(count: d, value: 1), wqkv: matrix((c.nHead + 2 * c.kvHeads) * hd, d),
                  wo: matrix(d, d), ffnNorm: FloatBuffer(count: d, value: 1),
                  gateUp: WeightMatrix(stacking: [noise(c.ffnHidden * d, std: 0.02), noise(c.ffnHidden * d, std: 0.02)],
                                       inFeatures: d, storage: storage),
                  down: matrix(d, c.ffnHidden))
        }
        return DecoderWeights(inputs: inputs, layers: layers, norm: FloatBuffer(count: d, value: 1), output: matrix(c.vocabSize, d))
    }
}
