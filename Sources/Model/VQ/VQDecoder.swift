import Foundation
import Kernels

/// LlamaGen's VQ tokenizer decoder: token grid -> pixels in [-1, 1].
///
/// codebook lookup (l2-normalised rows) -> post_quant_conv (1x1) -> conv_in -> mid (ResBlock,
/// AttnBlock, ResBlock) -> one level per `ch_mult` entry from the deepest up (ResBlocks, AttnBlocks at
/// the deepest level, nearest 2x upsample + conv between levels) -> GroupNorm + swish -> conv_out.
public struct VQDecoder: Sendable {
    public let config: VQConfig
    private let codebook: [Float]                // [codebookSize][embedDim], normalised if configured
    private let postQuant: VQConv
    private let convIn: VQConv
    private let mid: VQMiddle<VQGroupNorm>
    private let levels: [VQLevel<VQGroupNorm>]     // deepest first (attention at the deepest only), as they run
    private let output: VQOutput<VQGroupNorm>

    public init(file f: SafeTensorsFile, config c: VQConfig) throws {
        try self.init(config: c) { name, shape in try f.floats(name, shape: shape) }
    }

    /// A decoder with `VQRandom` weights (bit-identical to `tools/vq_random.py`): the benchmark's
    /// official-size decoder and the VQ-16-layout parity test, no weight file needed.
    public init(randomFor c: VQConfig, seed: UInt64) {
        try! self.init(config: c) { name, shape in VQRandom.tensor(name, shape: shape, seed: seed) }
    }

    /// Multiply-add FLOPs (2 per weight per output pixel) of the convolutions of one decode of a
    /// `grid x grid` token grid; the attention's two products at the deepest level included.
    public func flops(grid: Int) -> Double {
        var side = grid
        var total = postQuant.flops(h: side, w: side) + convIn.flops(h: side, w: side) + mid.flops(h: side, w: side)
        for l in levels {
            total += l.flops(h: side, w: side)
            if l.upsample != nil { side *= 2 }
        }
        return total + output.conv.flops(h: side, w: side)
    }

    /// Bytes of the decoder's weights in memory (packed convolutions, norms, codebook).
    public var weightBytes: Int {
        postQuant.bytes + convIn.bytes + mid.bytes + levels.reduce(0) { $0 + $1.bytes } + output.norm.bytes + output.conv.bytes
            + codebook.count * 4
    }

    /// The layers under LlamaGen's names (`decoder.conv_blocks.N.res.J`, `.attn.J`, `.upsample.conv`, ...).
    public init(config c: VQConfig, tensor: @escaping VQTensorSource) throws {
        config = c
        let read = VQLayerReader(prefix: "", tensor: tensor)
        func res(_ name: String, _ inC: Int, _ outC: Int) throws -> VQResBlock<VQGroupNorm> {
            try read.resBlock(name, inC, outC, norm: read.groupNorm)
        }
        func attn(_ name: String, _ ch: Int) throws -> VQAttention<VQGroupNorm> {
            VQAttention(norm: try read.groupNorm(name + ".norm", ch), q: try read.conv(name + ".q", ch, ch, 1),
                        k: try read.conv(name + ".k", ch, ch, 1), v: try read.conv(name + ".v", ch, ch, 1),
                        out: try read.conv(name + ".proj_out", ch, ch, 1))
        }

        let table = try read.floats("quantize.embedding.weight", [c.codebookSize, c.codebookEmbedDim])
        codebook = c.codebookL2Norm ? vqNormalizedRows(table, rows: c.codebookSize, width: c.codebookEmbedDim) : table
        postQuant = try read.conv("post_quant_conv", c.codebookEmbedDim, c.zChannels, 1)
        let deepest = c.ch * c.chMult[c.chMult.count - 1]
        convIn = try read.conv("decoder.conv_in", c.zChannels, deepest, 3)
        mid = VQMiddle(try res("decoder.mid.0", deepest, deepest), try attn("decoder.mid.1", deepest),
                       try res("decoder.mid.2", deepest, deepest))
        var blockIn = deepest
        var levels: [VQLevel<VQGroupNorm>] = []
        for (index, level) in (0..<c.chMult.count).reversed().enumerated() {
            let blockOut = c.ch * c.chMult[level]
            var resBlocks: [VQResBlock<VQGroupNorm>] = [], attnBlocks: [VQAttention<VQGroupNorm>] = []
            for j in 0...c.numResBlocks {
                resBlocks.append(try res("decoder.conv_blocks.\(index).res.\(j)", blockIn, blockOut))
                blockIn = blockOut
                if level == c.chMult.count - 1 {
                    attnBlocks.append(try attn("decoder.conv_blocks.\(index).attn.\(j)", blockIn))
                }
            }
            let up = level != 0 ? VQUpsample(conv: try read.conv("decoder.conv_blocks.\(index).upsample.conv", blockIn, blockIn, 3)) : nil
            levels.append(VQLevel(blocks: resBlocks, attention: attnBlocks, upsample: up))
        }
        self.levels = levels
        output = VQOutput(norm: try read.groupNorm("decoder.norm_out", blockIn), conv: try read.conv("decoder.conv_out", blockIn, c.outChannels, 3))
    }

    /// Decodes a `grid x grid` token grid (raster order) to `[outChannels][size][size]` floats.
    public func decode(tokens: [Int], grid: Int) throws -> [Float] {
        try decode(tokens: tokens, rows: grid, columns: grid)
    }

    /// Decodes a `rows x columns` token grid (raster order) to `[outChannels][rows * f][columns * f]` floats.
    /// Every block is per pixel or a 3x3 convolution over (height, width), and the middle attention attends
    /// over all `rows * columns` positions, so nothing assumes a square.
    public func decode(tokens: [Int], rows: Int, columns: Int) throws -> [Float] {
        try vqCheckGrid(tokens, rows: rows, columns: columns)
        let e = config.codebookEmbedDim
        var (height, width) = (rows, columns)
        var h = postQuant(plain: try vqLookup(tokens, codebook: codebook, size: config.codebookSize, embedDim: e), h: height, w: width)
        h = convIn(plain: h, h: height, w: width)
        h = mid(h, h: height, w: width)                 // [channels][height][width] from here on
        for level in levels { level(&h, height: &height, width: &width) }
        return output(&h, h: height, w: width)
    }
}
