import Kernels
import Model

extension TextModelWeights {
    /// Random weights of a config's shape, for benchmarks: no checkpoint of a 7-8B model is needed to time
    /// its passes, only its matrices' shapes and storage. Matrices are uniform noise with std ~0.02 (the
    /// init scale of llama-style models, so activations stay in f16's normal range); RMSNorm weights are
    /// 1, Chameleon's query/key LayerNorms weight 1 and bias 0. Deterministic for a seed.
    ///
    /// With `tieWordEmbeddings` the head *is* the embedding matrix (one allocation, not two): a benchmark
    /// at Emu3's 184622 x 4096 vocabulary saves 1.5 GB of f16 this way and the head streams the same bytes.
    public static func random(_ c: TextModelConfig, seed: UInt64, storage: WeightStorage = .f16) -> DecoderWeights {
        var noise = UniformNoise(seed: seed)
        let d = c.hiddenSize, hd = c.headDim
        func matrix(_ out: Int, _ inF: Int, storage s: WeightStorage = storage) -> WeightMatrix {
            WeightMatrix(outFeatures: out, inFeatures: inF, values: noise.values(out * inF, std: 0.02), storage: s)
        }
        func headNorm(heads: Int) -> DecoderWeights.HeadNorm {
            DecoderWeights.HeadNorm(weight: FloatBuffer(count: heads * hd, value: 1), bias: FloatBuffer(count: heads * hd, value: 0))
        }
        // Gathered row by row only, so int8 models keep it f16 (as the checkpoint loader does).
        let tokenEmbedding = matrix(c.vocabSize, d, storage: storage == .int8 ? .f16 : storage)
        let layers = (0..<c.layers).map { _ in
            DecoderWeights.Layer(attentionNorm: FloatBuffer(count: d, value: 1),
                  wqkv: matrix((c.heads + 2 * c.kvHeads) * hd, d),
                  queryNorm: c.queryKeyNorm ? headNorm(heads: c.heads) : nil,
                  keyNorm: c.queryKeyNorm ? headNorm(heads: c.kvHeads) : nil,
                  wo: matrix(d, c.heads * hd),
                  ffnNorm: FloatBuffer(count: d, value: 1),
                  gateUp: WeightMatrix(stacking: [noise.values(c.intermediateSize * d, std: 0.02),
                                                  noise.values(c.intermediateSize * d, std: 0.02)],
                                       inFeatures: d, storage: storage),
                  down: matrix(d, c.intermediateSize))
        }
        let output = c.tieWordEmbeddings && tokenEmbedding.storage == storage ? tokenEmbedding : matrix(c.vocabSize, d)
        return DecoderWeights(inputs: .init(tokens: tokenEmbedding), layers: layers, norm: FloatBuffer(count: d, value: 1),
                              output: output)
    }
}
