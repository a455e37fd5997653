import Foundation
import Kernels

/// A model directory: `config.json`, `gpt.safetensors` and (optionally) `vq.safetensors`.
public final class ModelBundle: Sendable {
    public let directory: String
    public let config: ModelConfig
    public let gpt: GPTModel
    public let vq: VQDecoder?

    /// - gptFile: the GPT weight file name inside `directory` (e.g. `gpt-f16.safetensors`).
    public init(directory: String, storage: WeightStorage = .f32, gptFile: String = "gpt.safetensors") throws {
        self.directory = directory
        let dir = URL(fileURLWithPath: directory)
        config = try ModelConfig.load(path: dir.appendingPathComponent("config.json").path)
        let gptPath = dir.appendingPathComponent(gptFile).path
        guard FileManager.default.fileExists(atPath: gptPath) else { throw ModelError.missingFile(gptPath) }
        gpt = try GPTModel(config: config.gpt, file: try SafeTensorsFile(path: gptPath), storage: storage)
        let vqPath = dir.appendingPathComponent("vq.safetensors").path
        if let vqConfig = config.vq, FileManager.default.fileExists(atPath: vqPath) {
            vq = try VQDecoder(file: try SafeTensorsFile(path: vqPath), config: vqConfig)
        } else {
            vq = nil
        }
    }

    /// Decodes a finished token grid to an image.
    public func image(tokens: [Int]) throws -> PixelImage {
        guard let vq else { throw ModelError.missingFile(directory + "/vq.safetensors") }
        let pixels = try vq.decode(tokens: tokens, grid: config.gpt.grid)
        return PixelImage(decoderOutput: pixels, channels: vq.config.outChannels, size: config.gpt.grid * vq.config.upsampling)
    }
}
