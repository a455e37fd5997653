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

    /// A convolution with its weights packed for the direct-convolution kernel (`Kernels.Conv2D`).
    struct Conv: Sendable {
        let op: Conv2D
        var inC: Int { op.inChannels }
        var outC: Int { op.outChannels }
        /// `conv(xPadded) (+ skip)` at `h x w`.
        func callAsFunction(padded xp: FloatBuffer, h: Int, w: Int, skip: FloatBuffer? = nil) -> FloatBuffer {
            op(padded: xp, height: h, width: w, skip: skip)
        }
    }
    struct Norm: Sendable {
        let gamma: [Float], beta: [Float]   // [channels] each
        /// GroupNorm(32, eps 1e-6) (+ swish) of `x [channels][h][w]`, padded for a convolution or plain.
        func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool, padded: Bool) -> FloatBuffer {
            ImageOps.groupNorm(x, channels: channels, height: h, width: w, groups: 32, eps: 1e-6, gamma: gamma, beta: beta,
                               swish: swish, padded: padded)
        }
    }
    struct ResBlock: Sendable {
        let norm1: Norm, conv1: Conv, norm2: Norm, conv2: Conv, shortcut: Conv?
        func callAsFunction(_ x: FloatBuffer, h: Int, w: Int) -> FloatBuffer {
            // Each step frees what the next no longer needs: at 256 px an activation is 34 MB.
            var y = conv1(padded: norm1(x, channels: conv1.inC, h: h, w: w, swish: true, padded: true), h: h, w: w)
            let yp = norm2(y, channels: conv1.outC, h: h, w: w, swish: true, padded: true)
            y = FloatBuffer(count: 0)
            let skip = shortcut.map { $0(padded: ImageOps.pad(x, channels: $0.inC, height: h, width: w), h: h, w: w) } ?? x
            return conv2(padded: yp, h: h, w: w, skip: skip)      // + residual, fused into the store
        }
    }
    struct AttnBlock: Sendable {
        let norm: Norm, q: Conv, k: Conv, v: Conv, proj: Conv
        func callAsFunction(_ x: FloatBuffer, h: Int, w: Int) -> FloatBuffer {
            let c = q.inC, n = h * w
            let hn = norm(x, channels: c, h: h, w: w, swish: false, padded: true)
            let a = ImageOps.pixelAttention(q: q(padded: hn, h: h, w: w).array(count: c * n),
                                            k: k(padded: hn, h: h, w: w).array(count: c * n),
                                            v: v(padded: hn, h: h, w: w).array(count: c * n), channels: c, pixels: n)
            let ap = ImageOps.pad(FloatBuffer(a), channels: c, height: h, width: w)
            return proj(padded: ap, h: h, w: w, skip: x)
        }
    }
    struct Level: Sendable {
        let res: [ResBlock], attn: [AttnBlock], upsample: Conv?
    }

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
        var total = 0.0, side = grid
        func conv(_ c: Conv) { total += 2.0 * Double(c.op.inChannels * c.op.outChannels * c.op.kernel * c.op.kernel * side * side) }
        func res(_ r: ResBlock) { conv(r.conv1); conv(r.conv2); if let s = r.shortcut { conv(s) } }
        func attn(_ a: AttnBlock) {
            [a.q, a.k, a.v, a.proj].forEach(conv)
            total += 4.0 * Double(a.q.inC * side * side * side * side)
        }
        conv(postQuant); conv(convIn); res(mid.0); attn(mid.1); res(mid.2)
        for l in levels {
            for (j, r) in l.res.enumerated() { res(r); if j < l.attn.count { attn(l.attn[j]) } }
            if let u = l.upsample { side *= 2; conv(u) }
        }
        conv(convOut)
        return total
    }

    /// Bytes of the decoder's weights in memory (packed convolutions, norms, codebook).
    public var weightBytes: Int {
        var convs: [Conv] = [postQuant, convIn, convOut]
        var norms: [Norm] = [normOut]
        func add(_ r: ResBlock) { convs += [r.conv1, r.conv2] + (r.shortcut.map { [$0] } ?? []); norms += [r.norm1, r.norm2] }
        func add(_ a: AttnBlock) { convs += [a.q, a.k, a.v, a.proj]; norms.append(a.norm) }
        add(mid.0); add(mid.1); add(mid.2)
        for l in levels { l.res.forEach(add); l.attn.forEach(add); if let u = l.upsample { convs.append(u) } }
        return convs.reduce(0) { $0 + $1.op.weightBytes + $1.outC * 4 } + norms.reduce(0) { $0 + $1.gamma.count * 8 }
            + codebook.count * 4
    }

    init(config c: VQConfig, tensor: (String, [Int]) throws -> [Float]) throws {
        config = c
        func conv(_ name: String, _ inC: Int, _ outC: Int, _ k: Int) throws -> Conv {
            Conv(op: Conv2D(weight: try tensor(name + ".weight", [outC, inC, k, k]), bias: try tensor(name + ".bias", [outC]),
                            inChannels: inC, outChannels: outC, kernel: k))
        }
        func norm(_ name: String, _ ch: Int) throws -> Norm {
            Norm(gamma: try tensor(name + ".weight", [ch]), beta: try tensor(name + ".bias", [ch]))
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

        var table = try tensor("quantize.embedding.weight", [c.codebookSize, c.codebookEmbedDim])
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
        var h = postQuant(padded: ImageOps.pad(FloatBuffer(z), channels: e, height: side, width: side), h: side, w: side)
        h = convIn(padded: ImageOps.pad(h, channels: convIn.inC, height: side, width: side), h: side, w: side)
        h = mid.0(h, h: side, w: side)                  // [channels][side][side] from here on
        h = mid.1(h, h: side, w: side)
        h = mid.2(h, h: side, w: side)
        for level in levels {
            for (j, block) in level.res.enumerated() {
                h = block(h, h: side, w: side)
                if j < level.attn.count { h = level.attn[j](h, h: side, w: side) }
            }
            if let up = level.upsample {
                // nearest 2x upsampling written straight into the padded input of the conv
                let hp = ImageOps.pad(h, channels: up.inC, height: side, width: side, upsample: true)
                h = FloatBuffer(count: 0)
                side *= 2
                h = up(padded: hp, h: side, w: side)
            }
        }
        let hp = normOut(h, channels: convOut.inC, h: side, w: side, swish: true, padded: true)
        h = FloatBuffer(count: 0)
        return convOut(padded: hp, h: side, w: side).array(count: convOut.outC * side * side)
    }
}
