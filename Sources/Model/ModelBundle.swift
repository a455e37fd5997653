import Foundation
import Kernels

/// How a model's weights and KV caches should sit in memory, as named on the command line
/// (`zipar --storage`, `zipar-worker --weights`).
public enum StorageChoice: String, CaseIterable, Sendable {
    /// f16 when the model file keeps its matrices as F16 (exact then), f32 otherwise.
    case auto
    case f32
    case f16
    /// Weight-only int8 (Q8_0-like, one scale per 32 weights of a row; f16 KV caches).
    case int8

    /// What `ModelBundle(storage:)` takes: nil lets the bundle choose from its file.
    public var storage: WeightStorage? {
        switch self {
        case .auto: return nil
        case .f32: return .f32
        case .f16: return .f16
        case .int8: return .int8
        }
    }
}

/// A model directory: `config.json`, `gpt.safetensors` and (optionally) `vq.safetensors`.
public final class ModelBundle: Sendable {
    public let directory: String
    public let config: ModelConfig
    public let gpt: GPTModel
    public let vq: VQDecoder?
    /// How the weights and KV caches are kept in memory (int8 weights: f16 KV caches).
    public let storage: WeightStorage

    /// - storage: nil = automatic: f16 when the file keeps every weight matrix as F16 (then the
    ///   weights are exact in f16 and a pass streams half the bytes), f32 otherwise.
    /// - gptFile: the GPT weight file name inside `directory` (e.g. `gpt-f16.safetensors`).
    public init(directory: String, storage: WeightStorage? = .f32, gptFile: String = "gpt.safetensors") throws {
        self.directory = directory
        let dir = URL(fileURLWithPath: directory)
        config = try ModelConfig.load(path: dir.appendingPathComponent("config.json").path)
        let gptPath = dir.appendingPathComponent(gptFile).path
        guard FileManager.default.fileExists(atPath: gptPath) else { throw ModelError.missingFile(gptPath) }
        let file = try SafeTensorsFile(path: gptPath)
        self.storage = storage ?? Self.naturalStorage(of: file)
        gpt = try GPTModel(config: config.gpt, file: file, storage: self.storage)
        let vqPath = dir.appendingPathComponent("vq.safetensors").path
        if let vqConfig = config.vq, FileManager.default.fileExists(atPath: vqPath) {
            vq = try VQDecoder(file: try SafeTensorsFile(path: vqPath), config: vqConfig)
        } else {
            vq = nil
        }
    }

    /// f16 when every 2-D tensor but the embeddings is stored as F16, f32 otherwise.
    static func naturalStorage(of file: SafeTensorsFile) -> WeightStorage {
        let matrices = file.tensors.values.filter { $0.shape.count == 2 && !$0.name.contains("embedding") }
        return !matrices.isEmpty && matrices.allSatisfy { $0.type == .f16 } ? .f16 : .f32
    }

    /// Decodes a finished token grid to an image.
    public func image(tokens: [Int]) throws -> PixelImage {
        guard let vq else { throw ModelError.missingFile(directory + "/vq.safetensors") }
        let pixels = try vq.decode(tokens: tokens, grid: config.gpt.grid)
        return try PixelImage(decoderOutput: pixels, channels: vq.config.outChannels, size: config.gpt.grid * vq.config.upsampling)
    }
}
