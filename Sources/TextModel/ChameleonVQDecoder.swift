import Foundation
import Kernels
import Model

/// The VQGAN image decoder of Chameleon / Lumina-mGPT: token grid -> pixels in about [-1, 1].
///
/// codebook lookup -> post_quant_conv (1x1) -> conv_in -> mid (ResnetBlock, attention, ResnetBlock) -> one
/// level per `channel_multiplier` entry from the deepest up (num_res_blocks + 1 ResnetBlocks, attention after
/// each where the level's side is in `attn_resolutions`, nearest 2x upsample + conv between levels) ->
/// GroupNorm + swish -> conv_out. Attention is single-head over all pixels with 1x1-conv projections.
///
/// Tensor names are those of the VQGAN checkpoint's state dict (`quantize.embedding.weight`,
/// `post_quant_conv.*`, `decoder.*`; `tools/fixtures/chameleon_vqgan_reference.py` lists them), under an optional prefix.
public struct ChameleonVQDecoder: Sendable {
    public let config: ChameleonVQConfig
    private let codebook: [Float]                 // [numEmbeddings][embedDim]
    private let postQuant: VQConv
    private let convIn: VQConv
    private let mid: VQMiddle<VQGroupNorm>
    private let levels: [VQLevel<VQGroupNorm>]                   // deepest first, as they run
    private let output: VQOutput<VQGroupNorm>   // GroupNorm + swish, conv_out


    /// Loads the decoder of the checkpoint folder `directory`: its config.json (the VQ fields at the top level or
    /// under `vq_config`) and its weights (`model.safetensors`, or shards listed by `model.safetensors.index.json`),
    /// the VQ tensors found under `prefix`, or by default under the first of `VQCheckpoint.knownPrefixes` that has them.
    public static func load(directory: String, prefix: String? = nil) throws -> ChameleonVQDecoder {
        let config = try ChameleonVQConfig.load(path: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
        let checkpoint = try HFCheckpoint(directory: directory)
        return try ChameleonVQDecoder(config: config, prefix: try prefix ?? VQCheckpoint.prefix(of: checkpoint),
                                      tensor: VQCheckpoint.source(checkpoint))
    }

    public init(file: SafeTensorsFile, config: ChameleonVQConfig, prefix: String = "") throws {
        try self.init(config: config, prefix: prefix, tensor: VQLayerReader.source(file))
    }

    public init(config c: ChameleonVQConfig, prefix: String = "", tensor: @escaping VQTensorSource) throws {
        try c.validate()
        config = c
        let r = VQLayerReader(prefix: prefix, tensor: tensor)
        func res(_ name: String, _ inC: Int, _ outC: Int) throws -> VQResBlock<VQGroupNorm> {
            try r.resBlock(name, inC, outC, norm: r.groupNorm)
        }
        func attention(_ name: String, _ ch: Int) throws -> VQAttention<VQGroupNorm> {
            VQAttention(norm: try r.groupNorm(name + ".norm", ch), q: try r.conv(name + ".q", ch, ch, 1),
                        k: try r.conv(name + ".k", ch, ch, 1), v: try r.conv(name + ".v", ch, ch, 1),
                        out: try r.conv(name + ".proj_out", ch, ch, 1), heads: 1)
        }

        codebook = try r.floats("quantize.embedding.weight", [c.numEmbeddings, c.embedDim])
        postQuant = try r.conv("post_quant_conv", c.embedDim, c.latentChannels, 1)
        let deepest = c.baseChannels * c.channelMultiplier[c.channelMultiplier.count - 1]
        convIn = try r.conv("decoder.conv_in", c.latentChannels, deepest, 3)
        mid = VQMiddle(try res("decoder.mid.block_1", deepest, deepest),
                       c.attnType == "vanilla" ? try attention("decoder.mid.attn_1", deepest) : nil,
                       try res("decoder.mid.block_2", deepest, deepest))
        var blockIn = deepest
        var levels: [VQLevel<VQGroupNorm>] = []
        for level in (0..<c.channelMultiplier.count).reversed() {
            let name = "decoder.up.\(level)", blockOut = c.baseChannels * c.channelMultiplier[level]
            var blocks: [VQResBlock<VQGroupNorm>] = [], attn: [VQAttention<VQGroupNorm>] = []
            for j in 0...c.numResBlocks {
                blocks.append(try res("\(name).block.\(j)", blockIn, blockOut))
                blockIn = blockOut
                if c.hasAttention(level: level) { attn.append(try attention("\(name).attn.\(j)", blockIn)) }
            }
            let up = level == 0 ? nil : VQUpsample(conv: try r.conv("\(name).upsample.conv", blockIn, blockIn, 3))
            levels.append(VQLevel(blocks: blocks, attention: attn, upsample: up))
        }
        self.levels = levels
        output = VQOutput(norm: try r.groupNorm("decoder.norm_out", blockIn), conv: try r.conv("decoder.conv_out", blockIn, c.outChannels, 3))
    }

    /// Pixels per token side.
    public var upsampling: Int { config.upsampling }

    /// Decodes a `rows x columns` token grid (raster order, codebook indices, not the language model's
    /// vocabulary ids) to `[outChannels][rows * upsampling][columns * upsampling]` floats.
    public func decode(tokens: [Int], rows: Int, columns: Int) throws -> [Float] {
        try vqCheckGrid(tokens, rows: rows, columns: columns)
        let z = try vqLookup(tokens, codebook: codebook, size: config.numEmbeddings, embedDim: config.embedDim)
        var height = rows, width = columns
        var h = postQuant(plain: z, h: height, w: width)
        h = convIn(plain: h, h: height, w: width)
        h = mid(h, h: height, w: width)
        for level in levels { level(&h, height: &height, width: &width, condition: nil) }
        return output(&h, h: height, w: width)
    }
}
