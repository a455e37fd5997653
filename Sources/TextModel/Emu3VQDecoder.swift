import Foundation
import Kernels
import Model

/// Emu3's VQ image decoder (transformers `Emu3VQVAE.decode` for one image): token grid -> pixels in about [-1, 1].
///
/// codebook lookup `q` -> post_quant_conv -> temporal ResnetBlocks and temporal upsampling, applied to the
/// latents and to `q` alike (frame 0 only, exact for images: see Emu3VQLayers.swift) -> conv_in -> middle
/// (ResnetBlock, attention, ResnetBlock) -> one level per `channel_multiplier` entry from the deepest up
/// (ResnetBlocks, attention at the levels in `attn_resolutions`, nearest 2x upsample + conv between levels) ->
/// spatial norm + swish -> conv_out. Every norm after conv_in is a spatial norm conditioned on the temporally
/// processed `q`.
///
/// Tensor names are those of transformers' `Emu3VQVAE` state dict (`quantize.embedding.weight`,
/// `post_quant_conv.conv.*`, `decoder.*`), under an optional prefix (e.g. `model.vqmodel.` inside a full
/// Emu3 checkpoint).
public struct Emu3VQDecoder: Sendable {
    public let config: Emu3VQConfig
    private let codebook: [Float]                 // [codebookSize][embedDim]
    private let postQuant: VQConv
    private let temporalBlocks: [Emu3TemporalResBlock]
    private let temporalUpsamples: [Emu3TemporalUpsample]
    private let convIn: VQConv
    private let mid: VQMiddle<Emu3SpatialNorm>
    private let levels: [VQLevel<Emu3SpatialNorm>]                   // deepest first, as they run
    private let output: VQOutput<Emu3SpatialNorm>   // SpatialNorm + swish, conv_out


    /// Loads the decoder of the checkpoint folder `directory`: its config.json (the VQ fields at the top level or
    /// under `vq_config`) and its weights (`model.safetensors`, or shards listed by `model.safetensors.index.json`),
    /// the VQ tensors found under `prefix`, or by default under the first of `VQCheckpoint.knownPrefixes` that has them.
    public static func load(directory: String, prefix: String? = nil) throws -> Emu3VQDecoder {
        let config = try Emu3VQConfig.load(path: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
        let checkpoint = try HFCheckpoint(directory: directory)
        return try Emu3VQDecoder(config: config, prefix: try prefix ?? VQCheckpoint.prefix(of: checkpoint),
                                 tensor: VQCheckpoint.source(checkpoint))
    }

    public init(file: SafeTensorsFile, config: Emu3VQConfig, prefix: String = "") throws {
        try self.init(config: config, prefix: prefix, tensor: VQLayerReader.source(file))
    }

    public init(config c: Emu3VQConfig, prefix: String = "", tensor: @escaping VQTensorSource) throws {
        try c.validate()
        config = c
        let r = VQLayerReader(prefix: prefix, tensor: tensor)
        let e = c.embedDim, latent = c.latentChannels
        func res(_ name: String, _ inC: Int, _ outC: Int) throws -> VQResBlock<Emu3SpatialNorm> {
            try r.resBlock(name, inC, outC) { try r.spatialNorm($0, channels: $1, conditionChannels: e) }
        }
        func attention(_ name: String, norm: String, _ ch: Int) throws -> VQAttention<Emu3SpatialNorm> {
            VQAttention(norm: try r.spatialNorm(norm, channels: ch, conditionChannels: e),
                        q: try r.linear(name + ".q_proj", ch, ch), k: try r.linear(name + ".k_proj", ch, ch),
                        v: try r.linear(name + ".v_proj", ch, ch), out: try r.linear(name + ".out_proj", ch, ch),
                        heads: c.numAttentionHeads)
        }

        codebook = try r.floats("quantize.embedding.weight", [c.codebookSize, e])
        postQuant = try r.causalConv3d("post_quant_conv", e, latent, 1)
        temporalBlocks = try (0..<c.numResBlocks).map { try r.temporalResBlock("decoder.time_res_stack.\($0)", latent) }
        temporalUpsamples = try (0..<c.temporalUpsamplings).map {
            Emu3TemporalUpsample(conv: try r.causalConv3d("decoder.time_conv.\($0).conv", latent, latent, 3))
        }
        let deepest = c.baseChannels * c.channelMultiplier[c.channelMultiplier.count - 1]
        convIn = try r.conv("decoder.conv_in", latent, deepest, 3)
        mid = VQMiddle(try res("decoder.middle_block.block_1", deepest, deepest),
                       try attention("decoder.middle_block.attn_1", norm: "decoder.middle_block.attn_norm", deepest),
                       try res("decoder.middle_block.block_2", deepest, deepest))
        var blockIn = deepest
        var levels: [VQLevel<Emu3SpatialNorm>] = []
        for level in (0..<c.channelMultiplier.count).reversed() {
            let name = "decoder.up_block.up.\(level)", blockOut = c.baseChannels * c.channelMultiplier[level]
            var blocks: [VQResBlock<Emu3SpatialNorm>] = [], attn: [VQAttention<Emu3SpatialNorm>] = []
            for j in 0...c.numResBlocks {
                blocks.append(try res("\(name).block.\(j)", blockIn, blockOut))
                blockIn = blockOut
                if c.attnResolutions.contains(level) {
                    attn.append(try attention("\(name).attn.\(j)", norm: "\(name).attn_norms.\(j)", blockIn))
                }
            }
            let up = level == 0 ? nil : VQUpsample(conv: try r.conv("\(name).upsample.conv", blockIn, blockIn, 3))
            levels.append(VQLevel(blocks: blocks, attention: attn, upsample: up))
        }
        self.levels = levels
        output = VQOutput(norm: try r.spatialNorm("decoder.norm_out", channels: blockIn, conditionChannels: e),
                          conv: try r.conv("decoder.conv_out", blockIn, c.outChannels, 3))
    }

    /// Pixels per token side.
    public var upsampling: Int { config.upsampling }

    /// Decodes a `rows x columns` token grid (raster order, codebook indices, not the language model's
    /// vocabulary ids) to `[outChannels][rows * upsampling][columns * upsampling]` floats.
    public func decode(tokens: [Int], rows: Int, columns: Int) throws -> [Float] {
        try vqCheckGrid(tokens, rows: rows, columns: columns)
        let e = config.embedDim
        var q = try vqLookup(tokens, codebook: codebook, size: config.codebookSize, embedDim: e)
        var h = postQuant(plain: q, h: rows, w: columns)
        // The temporal layers see the latents and the codebook vectors as one batch of two clips.
        for block in temporalBlocks {
            h = block(h, h: rows, w: columns)
            q = block(q, h: rows, w: columns)
        }
        for up in temporalUpsamples {
            h = up(h, h: rows, w: columns)
            q = up(q, h: rows, w: columns)
        }
        let condition = VQCondition(q, channels: e, rows: rows, columns: columns)
        var height = rows, width = columns
        h = convIn(plain: h, h: height, w: width)
        h = mid(h, h: height, w: width, condition: condition)
        for level in levels { level(&h, height: &height, width: &width, condition: condition) }
        return output(&h, h: height, w: width, condition: condition)
    }
}
