import Foundation
import Kernels

/// A loaded LlamaGen class-conditional GPT: its config and the decoder it configures (2-D RoPE, class rows
/// as inputs, no query/key norm). Immutable and shareable; generation runs on a `DecoderEngine`.
public final class GPTModel: Sendable {
    public let config: GPTConfig
    public let decoder: DecoderModel

    public init(config: GPTConfig, weights: DecoderWeights) {
        self.config = config
        decoder = DecoderModel(spec: config.transformerSpec, weights: weights,
                               rotary: .llamaGen(headDim: config.headDim, grid: config.grid, prefix: config.clsTokenNum,
                                                 base: config.ropeBase))
    }

    public convenience init(config: GPTConfig, file: SafeTensorsFile, storage: WeightStorage = .f32) throws {
        self.init(config: config, weights: try .llamaGen(file: file, config: config, storage: storage))
    }

    public var weights: DecoderWeights { decoder.weights }
    /// The null class row used for the unconditional half of classifier-free guidance.
    public var nullClass: Int { weights.inputs.classRows - 1 }
    public var supportsGuidance: Bool { weights.inputs.classRows > config.numClasses }

    /// An engine for this model (`DecoderEngine`'s parameters).
    public func engine(maxQueries: Int = 64, maxSequences: Int = 16, attentionMode: AttentionMode = .masked,
                       cacheStorage: WeightStorage? = nil) -> DecoderEngine {
        DecoderEngine(model: decoder, maxQueries: maxQueries, maxSequences: maxSequences, attentionMode: attentionMode,
                      cacheStorage: cacheStorage)
    }
}

extension GPTConfig {
    /// LlamaGen's GPT as a decoder: positions are the class prefix plus the grid.
    public var transformerSpec: TransformerSpec {
        TransformerSpec(dim: dim, layers: nLayer, heads: nHead, kvHeads: kvHeads, headDim: headDim, ffnHidden: ffnHidden,
                        vocabSize: vocabSize, positions: sequenceLength, normEps: normEps)
    }
}
