import Foundation
import Kernels
import Model

/// A loaded Emu3 or Chameleon decoder: config, weights, rotary table. Immutable and shareable; the
/// mutable state of generation (KV caches, activations) lives in `TextEngine`.
public final class TextTransformer: Sendable {
    public let config: TextModelConfig
    public let weights: TextModelWeights
    public let rotary: TextRotaryTable

    public init(config: TextModelConfig, weights: TextModelWeights) {
        self.config = config
        self.weights = weights
        rotary = TextRotaryTable(headDim: config.headDim, positions: config.maxPositions, theta: config.ropeTheta)
    }

    /// Loads a Hugging Face checkpoint directory: `config.json` plus `model.safetensors` or its shards.
    /// - storage: nil keeps F16 checkpoints as f16 and widens everything else to f32
    ///   (`TextModelWeights.naturalStorage`); `.f16` / `.int8` shrink BF16 or F32 checkpoints.
    public convenience init(directory: String, storage: WeightStorage? = nil) throws {
        let dir = URL(fileURLWithPath: directory)
        let config = try TextModelConfig.load(path: dir.appendingPathComponent("config.json").path)
        let checkpoint = try HFCheckpoint(directory: directory)
        let chosen = try storage ?? TextModelWeights.naturalStorage(of: checkpoint)
        self.init(config: config, weights: try TextModelWeights(checkpoint: checkpoint, config: config, storage: chosen))
    }
}

/// One input token of a `TextEngine` pass.
public struct TextQuery: Sendable, Equatable {
    public var sequence: TextSequenceID
    /// Position in the sequence (0 = first prompt token); also the RoPE position.
    public var position: Int
    public var token: Int
    /// False for queries whose only job is to write K/V: no output head.
    public var wantsLogits: Bool

    public init(sequence: TextSequenceID, position: Int, token: Int, wantsLogits: Bool = true) {
        self.sequence = sequence; self.position = position; self.token = token; self.wantsLogits = wantsLogits
    }
}

/// A handle to one sequence's KV cache inside a `TextEngine`: the same kind of handle as `GPTEngine`'s.
public typealias TextSequenceID = SequenceID
