import Foundation
import Kernels
import Model

/// A loaded Emu3 or Chameleon decoder: its config and the `DecoderModel` it configures (1-D RoPE over
/// sequence positions, token inputs only, Chameleon's per-head query/key norm). Immutable and shareable;
/// generation runs on a `DecoderEngine`.
public final class TextTransformer: Sendable {
    public let config: TextModelConfig
    public let decoder: DecoderModel

    public init(config: TextModelConfig, weights: DecoderWeights) {
        self.config = config
        var spec = config.transformerSpec
        spec.vocabSize = weights.inputs.vocabularySize   // Janus: the image codes follow the language vocabulary
        decoder = DecoderModel(spec: spec, weights: weights,
                               rotary: .sequence(headDim: config.headDim, positions: config.maxPositions, theta: config.ropeTheta))
    }

    /// Loads a Hugging Face checkpoint directory: `config.json` plus `model.safetensors` or its shards.
    /// - storage: nil keeps F16 checkpoints as f16 and widens everything else to f32
    ///   (`TextModelWeights.naturalStorage`); `.f16` / `.int8` shrink BF16 or F32 checkpoints.
    public convenience init(directory: String, storage: WeightStorage? = nil) throws {
        try self.init(checkpoint: try HFCheckpoint(directory: directory), storage: storage)
    }

    /// From a checkpoint already opened, so a bundle that reads more of it (Janus: its VQ decoder lives in the
    /// same safetensors) maps and indexes the files once.
    public convenience init(checkpoint: HFCheckpoint, storage: WeightStorage? = nil) throws {
        let directory = checkpoint.directory
        let config = try TextModelConfig.load(path: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
        let chosen = try storage ?? TextModelWeights.naturalStorage(of: checkpoint)
        var weights = try TextModelWeights.load(checkpoint: checkpoint, config: config, storage: chosen)
        if config.family == .janus {
            let path = try JanusGeneration(directory: directory)
                .imageCodePath(checkpoint, firstID: config.vocabSize, hidden: config.hiddenSize, storage: chosen)
            weights = DecoderWeights(inputs: .init(tokens: weights.inputs.tokens, imageCodes: path), layers: weights.layers,
                                     norm: weights.norm, output: weights.output)
        }
        self.init(config: config, weights: weights)
    }

    public var weights: DecoderWeights { decoder.weights }

    /// An engine for this model whose caches hold `maxPositions` positions (default: the model's maximum).
    public func engine(maxQueries: Int = 64, maxSequences: Int = 8, maxPositions: Int? = nil, logitsVocabulary: Range<Int>? = nil,
                       attentionMode: AttentionMode = .masked, cacheStorage: WeightStorage? = nil) -> DecoderEngine {
        DecoderEngine(model: decoder, maxQueries: maxQueries, maxSequences: maxSequences, maxPositions: maxPositions,
                      logitsVocabulary: logitsVocabulary, attentionMode: attentionMode, cacheStorage: cacheStorage)
    }
}

extension TextModelConfig {
    /// The decoder this config describes.
    public var transformerSpec: TransformerSpec {
        TransformerSpec(dim: hiddenSize, layers: layers, heads: heads, kvHeads: kvHeads, headDim: headDim,
                        ffnHidden: intermediateSize, vocabSize: vocabSize, positions: maxPositions, normEps: rmsNormEps,
                        queryKeyNormEps: queryKeyNorm ? queryKeyNormEps : nil)
    }
}
