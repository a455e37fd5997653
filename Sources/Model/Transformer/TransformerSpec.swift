/// The shape of a llama-style decoder-only transformer, whatever family it comes from: LlamaGen's GPT,
/// Emu3 and Chameleon / Lumina-mGPT are three configurations of one `DecoderEngine`. Each family maps its own
/// config file onto this (`GPTConfig.transformerSpec`, `TextModelConfig.transformerSpec`).
///
/// One layer: x += wo(attention(RoPE(qkNorm(q)), RoPE(qkNorm(k)), v)) on RMSNorm(x), then
/// x += down(silu(gate(h)) * up(h)) on h = RMSNorm(x). qkNorm (Chameleon's per-head LayerNorm) is optional.
public struct TransformerSpec: Sendable, Equatable {
    public var dim: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// SwiGLU width.
    public var ffnHidden: Int
    public var vocabSize: Int
    /// Positions the rotary table covers, the longest sequence a KV cache can hold.
    public var positions: Int
    /// RMSNorm epsilon (every norm of the residual stream).
    public var normEps: Float
    /// Epsilon of the per-head query/key LayerNorm, nil when the family has none.
    public var queryKeyNormEps: Float?

    public init(dim: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int, ffnHidden: Int, vocabSize: Int,
                positions: Int, normEps: Float, queryKeyNormEps: Float? = nil) {
        precondition(dim > 0 && layers >= 0 && heads > 0 && kvHeads > 0 && heads % kvHeads == 0 && headDim % 2 == 0)
        self.dim = dim; self.layers = layers; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.ffnHidden = ffnHidden; self.vocabSize = vocabSize; self.positions = positions; self.normEps = normEps
        self.queryKeyNormEps = queryKeyNormEps
    }

    /// Width of the query rows (heads x headDim); equal to `dim` in every family so far.
    public var queryWidth: Int { heads * headDim }
    /// Width of the key rows and of the value rows.
    public var kvWidth: Int { kvHeads * headDim }
    /// Width of the fused q | k | v projection's output.
    public var qkvWidth: Int { queryWidth + 2 * kvWidth }
}
