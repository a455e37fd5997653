import Kernels
import Model

/// The weights of an Emu3 / Chameleon decoder, read under the names the Hugging Face classes write
/// (`<decoder>layers.N.self_attn.q_proj.weight`, ..., see `TextWeightNames`).
///
/// Three rearrangements happen at load time, all exact:
/// * q_proj, k_proj and v_proj are stacked into one matrix (one matmul per layer, like GPTWeights.wqkv).
/// * gate_proj and up_proj are stacked into one matrix likewise (`DecoderWeights.Layer.gateUp`).
/// * Within each head, the rows of q_proj and k_proj (and Chameleon's q_norm/k_norm rows) are reordered
///   from the reference's "rotate half" RoPE pairing, which rotates element i with element i + headDim/2,
///   to the interleaved pairing of our RoPE kernel, which rotates 2i with 2i+1: new row 2i = old row i,
///   new row 2i+1 = old row i + headDim/2. Queries and keys are permuted alike, so every score q.k is
///   unchanged; values are not permuted, so the attention output is unchanged too.
///
/// Into `DecoderWeights`: embed_tokens -> inputs.tokens, input_layernorm -> attentionNorm, q/k/v_proj -> wqkv,
/// q_norm/k_norm -> queryNorm/keyNorm, o_proj -> wo, post_attention_layernorm -> ffnNorm, gate/up_proj ->
/// gateUp (stacked, gate rows first), down_proj -> down, norm -> norm, lm_head (or the embedding when tied) -> output.
public enum TextModelWeights {
    /// f16 when every decoder matrix of the checkpoint is stored F16 (kept exactly, half the memory),
    /// f32 otherwise. BF16 has no kernel yet, so BF16 checkpoints widen to f32 unless the caller asks
    /// for `.f16` or `.int8` (needed for 7-8B models to fit in a 24 GiB machine).
    public static func naturalStorage(of checkpoint: HFCheckpoint) throws -> WeightStorage {
        let names = try TextWeightNames(checkpoint: checkpoint)
        let matrices = try checkpoint.tensorNames.filter(names.isDecoderTensor).map(checkpoint.info).filter { $0.shape.count == 2 }
        return !matrices.isEmpty && matrices.allSatisfy { $0.type == .f16 } ? .f16 : .f32
    }

    public static func load(checkpoint: HFCheckpoint, config c: TextModelConfig, storage: WeightStorage) throws -> DecoderWeights {
        let names = try TextWeightNames(checkpoint: checkpoint)
        let d = c.hiddenSize, hd = c.headDim
        func vector(_ name: String, _ n: Int) throws -> FloatBuffer { FloatBuffer(try checkpoint.floats(name, shape: [n])) }
        func matrix(_ name: String, _ out: Int, _ inF: Int) throws -> WeightMatrix {
            WeightMatrix(outFeatures: out, inFeatures: inF, values: try checkpoint.floats(name, shape: [out, inF]), storage: storage)
        }
        func headNorm(_ layer: Int, _ module: String, heads: Int) throws -> DecoderWeights.HeadNorm {
            let weight = try Self.perHeadRows(checkpoint, names.layer(layer, "self_attn.\(module).weight"), heads: heads, headDim: hd)
            let bias = try Self.perHeadRows(checkpoint, names.layer(layer, "self_attn.\(module).bias"), heads: heads, headDim: hd)
            return DecoderWeights.HeadNorm(weight: FloatBuffer(Self.interleaveHalves(weight, heads: heads, headDim: hd, rowWidth: 1)),
                            bias: FloatBuffer(Self.interleaveHalves(bias, heads: heads, headDim: hd, rowWidth: 1)))
        }

        // Embeddings are only gathered: f32 or f16 like the matrices (int8 models keep them as f16).
        let embeddingValues = try checkpoint.floats(names.embedding, shape: [c.vocabSize, d])
        let tokenEmbedding = WeightMatrix(outFeatures: c.vocabSize, inFeatures: d, values: embeddingValues,
                                          storage: storage == .int8 ? .f16 : storage)
        let layers = try (0..<c.layers).map { i in
            let q = try checkpoint.floats(names.layer(i, "self_attn.q_proj.weight"), shape: [c.heads * hd, d])
            let k = try checkpoint.floats(names.layer(i, "self_attn.k_proj.weight"), shape: [c.kvHeads * hd, d])
            let v = try checkpoint.floats(names.layer(i, "self_attn.v_proj.weight"), shape: [c.kvHeads * hd, d])
            let qkv = [Self.interleaveHalves(q, heads: c.heads, headDim: hd, rowWidth: d),
                       Self.interleaveHalves(k, heads: c.kvHeads, headDim: hd, rowWidth: d), v]
            return DecoderWeights.Layer(
                attentionNorm: try vector(names.layer(i, "input_layernorm.weight"), d),
                wqkv: WeightMatrix(stacking: qkv, inFeatures: d, storage: storage),
                queryNorm: c.queryKeyNorm ? try headNorm(i, "q_norm", heads: c.heads) : nil,
                keyNorm: c.queryKeyNorm ? try headNorm(i, "k_norm", heads: c.kvHeads) : nil,
                wo: try matrix(names.layer(i, "self_attn.o_proj.weight"), d, c.heads * hd),
                ffnNorm: try vector(names.layer(i, "post_attention_layernorm.weight"), d),
                gateUp: WeightMatrix(stacking: [try checkpoint.floats(names.layer(i, "mlp.gate_proj.weight"), shape: [c.intermediateSize, d]),
                                                try checkpoint.floats(names.layer(i, "mlp.up_proj.weight"), shape: [c.intermediateSize, d])],
                                     inFeatures: d, storage: storage),
                down: try matrix(names.layer(i, "mlp.down_proj.weight"), d, c.intermediateSize))
        }
        let output = c.tieWordEmbeddings
            ? WeightMatrix(outFeatures: c.vocabSize, inFeatures: d, values: embeddingValues, storage: storage)
            : try matrix(names.head, c.vocabSize, d)
        return DecoderWeights(inputs: .init(tokens: tokenEmbedding), layers: layers, norm: try vector(names.finalNorm, d),
                              output: output)
    }

    /// Reorders the rows of each head from rotate-half pairs (i, i + headDim/2) to interleaved pairs (2i, 2i+1).
    /// `values` holds `heads * headDim` rows of `rowWidth` values.
    static func interleaveHalves(_ values: [Float], heads: Int, headDim: Int, rowWidth: Int) -> [Float] {
        precondition(values.count == heads * headDim * rowWidth && headDim % 2 == 0)
        let half = headDim / 2
        var out = [Float](repeating: 0, count: values.count)
        for h in 0..<heads {
            for i in 0..<half {
                for (newRow, oldRow) in [(2 * i, i), (2 * i + 1, i + half)] {
                    let to = (h * headDim + newRow) * rowWidth, from = (h * headDim + oldRow) * rowWidth
                    out.replaceSubrange(to..<to + rowWidth, with: values[from..<from + rowWidth])
                }
            }
        }
        return out
    }

    /// A per-head LayerNorm parameter as `[heads][headDim]`. Hugging Face checkpoints store one row per
    /// head; Lumina-mGPT's store one row per model-parallel rank (`[ranks][headDim]`), shared by that
    /// rank's consecutive heads, which we repeat to one row per head.
    static func perHeadRows(_ checkpoint: HFCheckpoint, _ name: String, heads: Int, headDim: Int) throws -> [Float] {
        let info = try checkpoint.info(name)
        guard info.shape.count == 2, info.shape[1] == headDim, info.shape[0] > 0, heads % info.shape[0] == 0 else {
            throw SafeTensorsFile.Failure.wrongShape(path: checkpoint.directory, tensor: name,
                                                     expected: [heads, headDim], found: info.shape)
        }
        let rows = try checkpoint.floats(name)
        let headsPerRow = heads / info.shape[0]
        return (0..<heads).flatMap { h in rows[(h / headsPerRow) * headDim..<(h / headsPerRow + 1) * headDim] }
    }
}
