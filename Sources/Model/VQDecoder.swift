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
    private let postQuant: Conv
    private let convIn: Conv
    private let mid: (ResBlock, AttnBlock, ResBlock)
    private let levels: [Level]
    private let normOut: Norm
    private let convOut: Conv

    struct Conv: Sendable {
        let weight: [Float]     // [outC][inC][kernel][kernel]
        let bias: [Float]?      // [outC]
        let inC: Int, outC: Int, kernel: Int
        func callAsFunction(_ x: [Float], h: Int, w: Int) -> [Float] {
            ImageOps.conv2d(x, channels: inC, height: h, width: w, weight: weight, bias: bias, outChannels: outC, kernel: kernel)
        }
    }
    struct Norm: Sendable {
        let gamma: [Float], beta: [Float]   // [channels] each
        func callAsFunction(_ x: [Float], channels: Int, pixels: Int, swish: Bool) -> [Float] {
            ImageOps.groupNorm(x, channels: channels, pixels: pixels, groups: 32, eps: 1e-6, gamma: gamma, beta: beta, swish: swish)
        }
    }
    struct ResBlock: Sendable {
        let norm1: Norm, conv1: Conv, norm2: Norm, conv2: Conv, shortcut: Conv?
        func callAsFunction(_ x: [Float], h: Int, w: Int) -> [Float] {
            var y = norm1(x, channels: conv1.inC, pixels: h * w, swish: true)
            y = conv1(y, h: h, w: w)
            y = norm2(y, channels: conv1.outC, pixels: h * w, swish: true)
            y = conv2(y, h: h, w: w)
            let skip = shortcut.map { $0(x, h: h, w: w) } ?? x
            for i in y.indices { y[i] += skip[i] }
            return y
        }
    }
    struct AttnBlock: Sendable {
        let norm: Norm, q: Conv, k: Conv, v: Conv, proj: Conv
        func callAsFunction(_ x: [Float], h: Int, w: Int) -> [Float] {
            let c = q.inC, n = h * w
            let hn = norm(x, channels: c, pixels: n, swish: false)
            let a = ImageOps.pixelAttention(q: q(hn, h: h, w: w), k: k(hn, h: h, w: w), v: v(hn, h: h, w: w),
                                            channels: c, pixels: n)
            var y = proj(a, h: h, w: w)
            for i in y.indices { y[i] += x[i] }
            return y
        }
    }
    struct Level: Sendable {
        let res: [ResBlock], attn: [AttnBlock], upsample: Conv?
    }

    public init(file f: SafeTensorsFile, config c: VQConfig) throws {
        config = c
        func conv(_ name: String, _ inC: Int, _ outC: Int, _ k: Int) throws -> Conv {
            Conv(weight: try f.floats(name + ".weight", shape: [outC, inC, k, k]),
                 bias: try f.floats(name + ".bias", shape: [outC]), inC: inC, outC: outC, kernel: k)
        }
        func norm(_ name: String, _ ch: Int) throws -> Norm {
            Norm(gamma: try f.floats(name + ".weight", shape: [ch]), beta: try f.floats(name + ".bias", shape: [ch]))
        }
        func res(_ name: String, _ inC: Int, _ outC: Int) throws -> ResBlock {
            ResBlock(norm1: try norm(name + ".norm1", inC), conv1: try conv(name + ".conv1", inC, outC, 3),
                     norm2: try norm(name + ".norm2", outC), conv2: try conv(name + ".conv2", outC, outC, 3),
                     shortcut: inC == outC ? nil : try conv(name + ".nin_shortcut", inC, outC, 1))
        }
        func attn(_ name: String, _ ch: Int) throws -> AttnBlock {
            AttnBlock(norm: try norm(name + ".norm", ch), q: try conv(name + ".q", ch, ch, 1),
                      k: try conv(name + ".k", ch, ch, 1), v: try conv(name + ".v", ch, ch, 1),
                      proj: try conv(name + ".proj_out", ch, ch, 1))
        }

        var table = try f.floats("quantize.embedding.weight", shape: [c.codebookSize, c.codebookEmbedDim])
        if c.codebookL2Norm {
            let e = c.codebookEmbedDim
            for r in 0..<c.codebookSize {
                var ss: Float = 0
                for i in 0..<e { ss += table[r * e + i] * table[r * e + i] }
                let inv = 1 / max(ss.squareRoot(), 1e-12)   // F.normalize's eps
                for i in 0..<e { table[r * e + i] *= inv }
            }
        }
        codebook = table
        postQuant = try conv("post_quant_conv", c.codebookEmbedDim, c.zChannels, 1)
        let deepest = c.ch * c.chMult[c.chMult.count - 1]
        convIn = try conv("decoder.conv_in", c.zChannels, deepest, 3)
        mid = (try res("decoder.mid.0", deepest, deepest), try attn("decoder.mid.1", deepest),
               try res("decoder.mid.2", deepest, deepest))
        var blockIn = deepest
        var levels: [Level] = []
        for (index, level) in (0..<c.chMult.count).reversed().enumerated() {
            let blockOut = c.ch * c.chMult[level]
            var resBlocks: [ResBlock] = [], attnBlocks: [AttnBlock] = []
            for j in 0...c.numResBlocks {
                resBlocks.append(try res("decoder.conv_blocks.\(index).res.\(j)", blockIn, blockOut))
                blockIn = blockOut
                if level == c.chMult.count - 1 {
                    attnBlocks.append(try attn("decoder.conv_blocks.\(index).attn.\(j)", blockIn))
                }
            }
            let up = level != 0 ? try conv("decoder.conv_blocks.\(index).upsample.conv", blockIn, blockIn, 3) : nil
            levels.append(Level(res: resBlocks, attn: attnBlocks, upsample: up))
        }
        self.levels = levels
        normOut = try norm("decoder.norm_out", blockIn)
        convOut = try conv("decoder.conv_out", blockIn, c.outChannels, 3)
    }

    /// Decodes a `grid x grid` token grid (raster order) to `[outChannels][size][size]` floats.
    public func decode(tokens: [Int], grid: Int) throws -> [Float] {
        guard tokens.count == grid * grid else {
            throw ModelError.badInput("expected \(grid * grid) tokens for a \(grid)x\(grid) grid, got \(tokens.count)")
        }
        let e = config.codebookEmbedDim, n = grid * grid
        var z = [Float](repeating: 0, count: e * n)     // [embedDim][grid][grid]: channel-major
        for (p, t) in tokens.enumerated() {
            guard t >= 0 && t < config.codebookSize else {
                throw ModelError.badInput("token \(t) at index \(p) is outside the codebook of \(config.codebookSize)")
            }
            for i in 0..<e { z[i * n + p] = codebook[t * e + i] }
        }
        var side = grid
        var h = postQuant(z, h: side, w: side)          // [channels][side][side] from here on
        h = convIn(h, h: side, w: side)
        h = mid.0(h, h: side, w: side)
        h = mid.1(h, h: side, w: side)
        h = mid.2(h, h: side, w: side)
        for level in levels {
            for (j, block) in level.res.enumerated() {
                h = block(h, h: side, w: side)
                if j < level.attn.count { h = level.attn[j](h, h: side, w: side) }
            }
            if let up = level.upsample {
                h = ImageOps.upsample2x(h, channels: up.inC, height: side, width: side)
                side *= 2
                h = up(h, h: side, w: side)
            }
        }
        h = normOut(h, channels: convOut.inC, pixels: side * side, swish: true)
        return convOut(h, h: side, w: side)
    }
}
