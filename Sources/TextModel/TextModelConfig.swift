import Foundation
import Model

/// Which reference implementation a checkpoint follows. The two share the llama-style decoder; they
/// differ in Chameleon's per-head query/key LayerNorm and in their weight-name prefixes.
public enum TextModelFamily: String, Sendable, Equatable {
    case emu3
    case chameleon
    /// DeepSeek's Janus / Janus-Pro: a Llama decoder whose image codes enter and leave through their own
    /// embedding, aligner and head (`JanusGeneration`), no image ids in the language vocabulary.
    case janus
}

/// Hyper-parameters of an Emu3 or Chameleon (Lumina-mGPT) decoder, read from the Hugging Face
/// `config.json` beside the weights (`TextModelConfig.load`, rules in TextModelConfig+Parsing.swift).
public struct TextModelConfig: Sendable, Equatable {
    public var family: TextModelFamily
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var vocabSize: Int
    /// Longest sequence the rotary table (and by default a KV cache) covers.
    public var maxPositions: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    /// lm_head shares the token embedding (no `lm_head.weight` in the checkpoint).
    public var tieWordEmbeddings: Bool
    /// Chameleon: the per-head LayerNorm on queries and keys before RoPE.
    public var queryKeyNorm: Bool
    /// Chameleon's per-head LayerNorm epsilon: the reference code fixes it at 1e-5 (no config field).
    public var queryKeyNormEps: Float

    public init(family: TextModelFamily, hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int,
                kvHeads: Int, vocabSize: Int, maxPositions: Int, rmsNormEps: Float = 1e-5, ropeTheta: Float,
                tieWordEmbeddings: Bool = false, queryKeyNorm: Bool? = nil, queryKeyNormEps: Float = 1e-5) {
        self.family = family; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.layers = layers; self.heads = heads; self.kvHeads = kvHeads; self.vocabSize = vocabSize
        self.maxPositions = maxPositions; self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.queryKeyNorm = queryKeyNorm ?? (family == .chameleon)
        self.queryKeyNormEps = queryKeyNormEps
    }

    public var headDim: Int { hiddenSize / heads }
}
