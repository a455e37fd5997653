import Foundation
import Kernels
import Model

/// What Janus / Janus-Pro adds to its Llama language model for image generation (transformers'
/// `JanusForConditionalGeneration`), read from `config.json`'s `vq_config` and the checkpoint:
///
/// * `model.generation_embeddings` [codes][embed_dim] and `model.generation_aligner` (fc1: embed_dim ->
///   projection_dim, then GELU + `hidden_layers.N` per further layer): how a sampled code enters the decoder;
/// * `model.generation_head` (proj_out: hidden -> projection_dim, GELU, vision_head -> codes): the logits of
///   the next code from the final-normed hidden state, in place of `lm_head`;
/// * `model.vqmodel.*`: LlamaGen's VQ decoder architecture (l2-normalised codebook, attention at the deepest
///   level) under the VQGAN names Chameleon uses (`decoder.mid.block_1`, `decoder.up.I.block.J`, ...), with
///   `up.0` the deepest level. `JanusGeneration.vqDecoder` maps those names onto LlamaGen's.
///
/// The SigLIP understanding tower (`model.vision_model.*`, `model.aligner.*`) is not read.
public struct JanusGeneration: Sendable {
    public let codes: Int
    public let embedDim: Int
    /// Image side in tokens (`num_patches`).
    public let grid: Int
    public let vq: VQConfig

    /// Reads `vq_config` from the folder's config.json.
    public init(directory: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path),
              let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw ModelError.missingFile(path) }
        guard let v = top["vq_config"] as? [String: Any] else {
            throw ModelError.badConfig(field: "vq_config", reason: "missing in \(path): Janus keeps its VQ and generation shapes there")
        }
        func int(_ key: String, _ fallback: Int) throws -> Int {
            guard let x = v[key] else { return fallback }
            guard let n = (x as? NSNumber)?.intValue, n > 0 else { throw ModelError.badConfig(field: "vq_config.\(key)", reason: "must be a positive integer") }
            return n
        }
        let act = v["hidden_act"] as? String ?? "gelu"
        guard act == "gelu" else { throw ModelError.badConfig(field: "vq_config.hidden_act", reason: "\"\(act)\" is not supported (exact GELU only)") }
        codes = try int("num_embeddings", 16384)
        embedDim = try int("embed_dim", 8)
        grid = try int("num_patches", 24)
        let multipliers = (v["channel_multiplier"] as? [NSNumber])?.map(\.intValue) ?? [1, 1, 2, 2, 4]
        vq = VQConfig(codebookSize: codes, codebookEmbedDim: embedDim, codebookL2Norm: true, zChannels: try int("latent_channels", 256),
                      ch: try int("base_channels", 128), chMult: multipliers, numResBlocks: try int("num_res_blocks", 2),
                      outChannels: try int("out_channels", 3), imageSize: grid << (multipliers.count - 1))
    }

    /// The generation embedding, aligner and head as the engine's `ImageCodePath`, codes numbered from
    /// `firstID` (the language vocabulary's size). Matrices are kept like the decoder's (`storage`).
    public func imageCodePath(_ checkpoint: HFCheckpoint, firstID: Int, hidden: Int, storage: WeightStorage) throws -> ImageCodePath {
        func dense(_ name: String, out: Int, inF: Int) throws -> DenseLayer {
            DenseLayer(weight: WeightMatrix(outFeatures: out, inFeatures: inF,
                                            values: try checkpoint.floats(name + ".weight", shape: [out, inF]), storage: storage),
                       bias: FloatBuffer(try checkpoint.floats(name + ".bias", shape: [out])))
        }
        let projection = try checkpoint.info("model.generation_aligner.fc1.weight").shape.first ?? 0
        var aligner = [try dense("model.generation_aligner.fc1", out: projection, inF: embedDim)]
        var k = 0
        while checkpoint.contains("model.generation_aligner.hidden_layers.\(k).weight") {
            aligner.append(try dense("model.generation_aligner.hidden_layers.\(k)", out: projection, inF: projection))
            k += 1
        }
        guard aligner.last?.weight.outFeatures == hidden else {
            throw ModelError.badConfig(field: "vq_config.projection_dim", reason: "the aligner ends at \(projection), the language model's hidden size is \(hidden)")
        }
        let headWidth = try checkpoint.info("model.generation_head.proj_out.weight").shape.first ?? 0
        let head = [try dense("model.generation_head.proj_out", out: headWidth, inF: hidden),
                    try dense("model.generation_head.vision_head", out: codes, inF: headWidth)]
        return ImageCodePath(firstID: firstID, embedding: FloatBuffer(try checkpoint.floats("model.generation_embeddings.weight", shape: [codes, embedDim])),
                             codes: codes, embedDim: embedDim, aligner: aligner, head: head)
    }

    /// The VQ decoder: LlamaGen's, reading Janus's tensor names.
    public func vqDecoder(_ checkpoint: HFCheckpoint) throws -> VQDecoder {
        try VQDecoder(config: vq) { name, shape in try checkpoint.floats(Self.janusName(llamaGen: name), shape: shape) }
    }

    /// Janus's name of a LlamaGen VQ tensor: `decoder.mid.0` -> `decoder.mid.block_1`, `.1` -> `attn_1`,
    /// `.2` -> `block_2`, `decoder.conv_blocks.I.res.J` -> `decoder.up.I.block.J` (both count levels from the
    /// deepest), `.attn.J` -> `.attn.J`, `.upsample.conv` alike; the rest under `model.vqmodel.` unchanged.
    static func janusName(llamaGen name: String) -> String {
        var n = name
        for (from, to) in [("decoder.mid.0.", "decoder.mid.block_1."), ("decoder.mid.1.", "decoder.mid.attn_1."),
                           ("decoder.mid.2.", "decoder.mid.block_2."), ("decoder.conv_blocks.", "decoder.up.")] {
            if n.hasPrefix(from) { n = to + n.dropFirst(from.count) }
        }
        n = n.replacingOccurrences(of: ".res.", with: ".block.")
        return "model.vqmodel." + n
    }
}
