import Foundation
import Kernels
import Model
import Tokenizer

/// A Janus / Janus-Pro checkpoint folder as transformers writes it (`JanusForConditionalGeneration`:
/// config.json, model.safetensors or shards, tokenizer.json, generation_config.json): the Llama decoder with its
/// generation path (`JanusGeneration`), LlamaGen's VQ decoder, and the prompt the reference builds.
///
/// Janus lays an image out like LlamaGen - raster order, no end-of-row tokens - after a text prompt:
/// `BOS "<|User|>: " caption "\n\n<|Assistant|>:" <begin_of_image>`, the DeepSeek chat format with an empty system
/// prompt followed by the image start tag, as Janus's `generate` examples and transformers' processor build it.
/// The unconditional prompt of guidance is the same ids with every one but BOS and <begin_of_image> replaced
/// by the pad id, so both prompts have the same length.
public final class JanusBundle: Sendable {
    public let directory: String
    public let transformer: TextTransformer
    public let tokenizer: Tokenizer
    public let generation: JanusGeneration
    public let vq: VQDecoder
    public let bos: Int, pad: Int, imageStart: Int

    /// The user turn before the caption and the assistant turn after it (the DeepSeek chat format).
    public static let userPrefix = "<|User|>: ", assistantSuffix = "\n\n<|Assistant|>:"

    public init(directory: String, storage: WeightStorage? = nil) throws {
        self.directory = directory
        let checkpoint = try HFCheckpoint(directory: directory)     // opened once: the decoder and the VQ read it
        transformer = try TextTransformer(checkpoint: checkpoint, storage: storage)
        guard transformer.config.family == .janus else {
            throw ModelError.badConfig(field: "model_type", reason: "\(directory) is not a Janus checkpoint")
        }
        tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: directory + "/tokenizer.json"))
        generation = try JanusGeneration(directory: directory)
        vq = try generation.vqDecoder(checkpoint)
        let ids = try JanusSpecialTokens(directory: directory, tokenizer: tokenizer)
        bos = ids.bos; pad = ids.pad; imageStart = ids.imageStart
    }

    /// The conditional prompt's ids.
    public func promptTokens(caption: String) -> [Int] {
        tokenizer.encode(Self.userPrefix + caption + Self.assistantSuffix, addSpecialTokens: true) + [imageStart]
    }

    /// The unconditional twin of a prompt: the same length, all but BOS and <begin_of_image> turned to pad.
    public func unconditional(_ prompt: [Int]) -> [Int] {
        prompt.map { $0 == bos || $0 == imageStart ? $0 : pad }
    }

    /// The id of VQ code 0 in the engine's vocabulary (codes follow the language vocabulary).
    public var firstCodeID: Int { transformer.config.vocabSize }

    /// Decodes a finished grid of codes (raster order).
    public func image(codes: [Int]) throws -> PixelImage {
        let g = generation.grid
        let pixels = try vq.decode(tokens: codes, grid: g)
        return try PixelImage(decoderOutput: pixels, channels: vq.config.outChannels, size: g * vq.config.upsampling)
    }
}

/// BOS, pad and <begin_of_image> ids: generation_config.json's `bos_token_id`, `pad_token_id` and
/// `generation_kwargs.boi_token_id` (what transformers' Janus `generate` reads), else the tokenizer's ids of
/// Janus's token strings.
struct JanusSpecialTokens {
    let bos: Int, pad: Int, imageStart: Int

    init(directory: String, tokenizer: Tokenizer) throws {
        let path = directory + "/generation_config.json"
        let config = FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any] ?? [:]
        func id(_ value: Any?, _ token: String, _ field: String) throws -> Int {
            if let n = (value as? NSNumber)?.intValue { return n }
            if let n = tokenizer.id(of: token) { return n }
            throw ModelError.badConfig(field: field, reason: "missing in \(path), and the tokenizer has no \(token)")
        }
        bos = try id(config["bos_token_id"], "<｜begin▁of▁sentence｜>", "bos_token_id")
        pad = try id(config["pad_token_id"], "<｜▁pad▁｜>", "pad_token_id")
        imageStart = try id((config["generation_kwargs"] as? [String: Any])?["boi_token_id"], "<begin_of_image>",
                            "generation_kwargs.boi_token_id")
    }
}
