import Kernels

// The building blocks every VQ image decoder here is assembled from: LlamaGen's (VQDecoder), Chameleon's and
// Emu3's (TextModel). All are VQGAN-style decoders (ResnetBlocks, pixel self-attention, nearest 2x upsampling
// + 3x3 conv, GroupNorm(32, eps 1e-6)); they differ in the normalisation (Emu3: GroupNorm modulated by the
// quantized latents) and in the attention projections (1x1 convs vs linear layers, one head vs several), which
// the types below abstract. Activations are channel-major `[channels][height][width]` FloatBuffers, as
// `Kernels.Conv2D` wants them. At 256 px one activation is tens of MB, so the blocks drop each buffer as soon
// as the next step no longer needs it (`inout` inputs are consumed).

/// Reads one decoder tensor by name, checking its shape: a safetensors file, a sharded checkpoint or a test's
/// generator all fit behind this.
public typealias VQTensorSource = (_ name: String, _ shape: [Int]) throws -> [Float]

/// A convolution (kernel 1 or 3, stride 1, zero padding kernel / 2) packed for `Kernels.Conv2D`.
package struct VQConv: Sendable {
    package let op: Conv2D
    package var inC: Int { op.inChannels }
    package var outC: Int { op.outChannels }

    package init(op: Conv2D) { self.op = op }

    /// `conv(xPadded) (+ skip)` at `h x w`; `xp` is padded (`ImageOps.pad` or a norm's padded output).
    package func callAsFunction(padded xp: FloatBuffer, h: Int, w: Int, skip: FloatBuffer? = nil) -> FloatBuffer {
        op(padded: xp, height: h, width: w, skip: skip)
    }

    /// The convolution of a plain (unpadded) activation.
    package func callAsFunction(plain x: FloatBuffer, h: Int, w: Int, skip: FloatBuffer? = nil) -> FloatBuffer {
        op(padded: ImageOps.pad(x, channels: inC, height: h, width: w), height: h, width: w, skip: skip)
    }

    /// Multiply-add FLOPs (2 per weight per output pixel) at `h x w`.
    package func flops(h: Int, w: Int) -> Double { 2.0 * Double(inC * outC * op.kernel * op.kernel * h * w) }

    /// Bytes of the packed weights and the bias.
    package var bytes: Int { op.weightBytes + outC * 4 }
}

/// The quantized latents `[channels][rows][columns]` at token resolution that Emu3's spatial norms are
/// conditioned on, kept padded so each norm's two 1x1 convolutions read them directly.
package struct VQCondition {
    package let padded: FloatBuffer
    package let channels: Int, rows: Int, columns: Int

    package init(_ x: FloatBuffer, channels: Int, rows: Int, columns: Int) {
        padded = ImageOps.pad(x, channels: channels, height: rows, width: columns)
        self.channels = channels; self.rows = rows; self.columns = columns
    }
}

/// A normalisation in front of a convolution or an attention block.
package protocol VQNorm: Sendable {
    /// Normalises `x [channels][h][w]` (then swish when asked), plain or padded for a convolution.
    func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool, padded: Bool,
                        condition: VQCondition?) -> FloatBuffer
    /// Bytes of its parameters.
    var bytes: Int { get }
}

/// GroupNorm(32 groups, eps 1e-6, affine), as every VQGAN-style decoder uses it.
package struct VQGroupNorm: VQNorm {
    package let gamma: [Float], beta: [Float]

    package init(gamma: [Float], beta: [Float]) { self.gamma = gamma; self.beta = beta }

    package func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool, padded: Bool,
                                condition: VQCondition? = nil) -> FloatBuffer {
        ImageOps.groupNorm(x, channels: channels, height: h, width: w, groups: 32, eps: 1e-6, gamma: gamma, beta: beta,
                           swish: swish, padded: padded)
    }

    package var bytes: Int { (gamma.count + beta.count) * 4 }
}

/// A ResnetBlock: `x + conv2(act(norm2(conv1(act(norm1(x))))))`, the skip through a 1x1 conv when the width
/// changes. Dropout sits between norm2 and conv2 in training only, so inference has none.
package struct VQResBlock<Norm: VQNorm>: Sendable {
    package let norm1: Norm, conv1: VQConv, norm2: Norm, conv2: VQConv, shortcut: VQConv?

    package init(norm1: Norm, conv1: VQConv, norm2: Norm, conv2: VQConv, shortcut: VQConv?) {
        self.norm1 = norm1; self.conv1 = conv1; self.norm2 = norm2; self.conv2 = conv2; self.shortcut = shortcut
    }

    package func callAsFunction(_ x: FloatBuffer, h: Int, w: Int, condition: VQCondition? = nil) -> FloatBuffer {
        var y = conv1(padded: norm1(x, channels: conv1.inC, h: h, w: w, swish: true, padded: true, condition: condition), h: h, w: w)
        let b = norm2(y, channels: conv1.outC, h: h, w: w, swish: true, padded: true, condition: condition)
        y = FloatBuffer(count: 0)                                 // conv1's output is not needed past norm2
        let skip = shortcut.map { $0(plain: x, h: h, w: w) } ?? x
        return conv2(padded: b, h: h, w: w, skip: skip)          // + residual, fused into the store
    }

    package func flops(h: Int, w: Int) -> Double {
        conv1.flops(h: h, w: w) + conv2.flops(h: h, w: w) + (shortcut?.flops(h: h, w: w) ?? 0)
    }

    package var bytes: Int { norm1.bytes + norm2.bytes + conv1.bytes + conv2.bytes + (shortcut?.bytes ?? 0) }
}

/// Self-attention across all pixels of the image with a residual: `x + out(attn(q, k, v))`, q, k, v and out
/// being per-pixel linear maps (1x1 convolutions or linear layers: the same arithmetic) of `norm(x)`.
/// Heads split the channels into `heads` consecutive groups, each scaled by 1/sqrt(channels per head).
package struct VQAttention<Norm: VQNorm>: Sendable {
    package let norm: Norm, q: VQConv, k: VQConv, v: VQConv, out: VQConv
    package let heads: Int

    package init(norm: Norm, q: VQConv, k: VQConv, v: VQConv, out: VQConv, heads: Int = 1) {
        self.norm = norm; self.q = q; self.k = k; self.v = v; self.out = out; self.heads = heads
    }

    package func callAsFunction(_ x: FloatBuffer, h: Int, w: Int, condition: VQCondition? = nil) -> FloatBuffer {
        let c = q.inC, n = h * w, d = c / heads
        let hn = norm(x, channels: c, h: h, w: w, swish: false, padded: true, condition: condition)
        let qs = q(padded: hn, h: h, w: w), ks = k(padded: hn, h: h, w: w), vs = v(padded: hn, h: h, w: w)
        var attended = [Float]()
        attended.reserveCapacity(c * n)
        for head in 0..<heads {        // channel-major: head `head` owns rows head*d ..< (head+1)*d
            let at = head * d * n
            attended += ImageOps.pixelAttention(q: qs.array(offset: at, count: d * n), k: ks.array(offset: at, count: d * n),
                                                v: vs.array(offset: at, count: d * n), channels: d, pixels: n)
        }
        return out(plain: FloatBuffer(attended), h: h, w: w, skip: x)
    }

    /// The four projections plus the two products of an n-pixel attention (QK^T and AV).
    package func flops(h: Int, w: Int) -> Double {
        let n = Double(h * w)
        return [q, k, v, out].reduce(0) { $0 + $1.flops(h: h, w: w) } + 4.0 * Double(q.inC) * n * n
    }

    package var bytes: Int { norm.bytes + q.bytes + k.bytes + v.bytes + out.bytes }
}

/// Nearest 2x upsampling, then a 3x3 convolution.
package struct VQUpsample: Sendable {
    package let conv: VQConv

    package init(conv: VQConv) { self.conv = conv }

    /// `x [channels][h][w]` -> `[channels][2h][2w]`; `x` is consumed (released before the convolution runs).
    package func callAsFunction(_ x: inout FloatBuffer, h: Int, w: Int) -> FloatBuffer {
        let xp = ImageOps.pad(x, channels: conv.inC, height: h, width: w, upsample: true)
        x = FloatBuffer(count: 0)
        return conv(padded: xp, h: 2 * h, w: 2 * w)
    }
}

/// The middle of a decoder, at token resolution: ResnetBlock, attention (absent in some configs), ResnetBlock.
package struct VQMiddle<Norm: VQNorm>: Sendable {
    package let first: VQResBlock<Norm>, attention: VQAttention<Norm>?, second: VQResBlock<Norm>

    package init(_ first: VQResBlock<Norm>, _ attention: VQAttention<Norm>?, _ second: VQResBlock<Norm>) {
        self.first = first; self.attention = attention; self.second = second
    }

    package func callAsFunction(_ x: FloatBuffer, h: Int, w: Int, condition: VQCondition? = nil) -> FloatBuffer {
        var y = first(x, h: h, w: w, condition: condition)
        if let attention { y = attention(y, h: h, w: w, condition: condition) }
        return second(y, h: h, w: w, condition: condition)
    }

    package func flops(h: Int, w: Int) -> Double {
        first.flops(h: h, w: w) + (attention?.flops(h: h, w: w) ?? 0) + second.flops(h: h, w: w)
    }

    package var bytes: Int { first.bytes + (attention?.bytes ?? 0) + second.bytes }
}

/// One resolution of a decoder's upward path: ResnetBlocks, each followed by an attention block where the
/// level has them, then the nearest 2x upsample to the next level (none at the last).
package struct VQLevel<Norm: VQNorm>: Sendable {
    package let blocks: [VQResBlock<Norm>]
    package let attention: [VQAttention<Norm>]     // empty, or one after each block
    package let upsample: VQUpsample?

    package init(blocks: [VQResBlock<Norm>], attention: [VQAttention<Norm>], upsample: VQUpsample?) {
        precondition(attention.isEmpty || attention.count == blocks.count)
        self.blocks = blocks; self.attention = attention; self.upsample = upsample
    }

    /// Runs the level on `x` (`[channels][height][width]`, consumed); doubles `height` and `width` when it upsamples.
    package func callAsFunction(_ x: inout FloatBuffer, height: inout Int, width: inout Int, condition: VQCondition? = nil) {
        for (j, block) in blocks.enumerated() {
            x = block(x, h: height, w: width, condition: condition)
            if j < attention.count { x = attention[j](x, h: height, w: width, condition: condition) }
        }
        if let upsample {
            x = upsample(&x, h: height, w: width)
            height *= 2; width *= 2
        }
    }

    /// FLOPs at `h x w`, the upsample's conv at the doubled size.
    package func flops(h: Int, w: Int) -> Double {
        blocks.reduce(0) { $0 + $1.flops(h: h, w: w) } + attention.reduce(0) { $0 + $1.flops(h: h, w: w) }
            + (upsample?.conv.flops(h: 2 * h, w: 2 * w) ?? 0)
    }

    package var bytes: Int {
        blocks.reduce(0) { $0 + $1.bytes } + attention.reduce(0) { $0 + $1.bytes } + (upsample?.conv.bytes ?? 0)
    }
}

/// The decoder's tail: GroupNorm + swish, then the conv to pixels. `x` is consumed.
package struct VQOutput<Norm: VQNorm>: Sendable {
    package let norm: Norm, conv: VQConv

    package init(norm: Norm, conv: VQConv) { self.norm = norm; self.conv = conv }

    package func callAsFunction(_ x: inout FloatBuffer, h: Int, w: Int, condition: VQCondition? = nil) -> [Float] {
        let xp = norm(x, channels: conv.inC, h: h, w: w, swish: true, padded: true, condition: condition)
        x = FloatBuffer(count: 0)
        return conv(padded: xp, h: h, w: w).array(count: conv.outC * h * w)
    }
}

/// Reads the decoders' layers from a `VQTensorSource`, every name under `prefix`.
package struct VQLayerReader {
    package let prefix: String
    package let tensor: VQTensorSource

    package init(prefix: String, tensor: @escaping VQTensorSource) { self.prefix = prefix; self.tensor = tensor }

    package func floats(_ name: String, _ shape: [Int]) throws -> [Float] { try tensor(prefix + name, shape) }

    /// `name.weight [outC][inC][k][k]` and `name.bias [outC]`.
    package func conv(_ name: String, _ inC: Int, _ outC: Int, _ k: Int) throws -> VQConv {
        try packed(weight: floats(name + ".weight", [outC, inC, k, k]), bias: floats(name + ".bias", [outC]),
                   inC: inC, outC: outC, kernel: k)
    }

    /// A linear layer `name.weight [outC][inC]`, `name.bias`, applied to every pixel: a 1x1 convolution.
    package func linear(_ name: String, _ inC: Int, _ outC: Int) throws -> VQConv {
        try packed(weight: floats(name + ".weight", [outC, inC]), bias: floats(name + ".bias", [outC]),
                   inC: inC, outC: outC, kernel: 1)
    }

    package func groupNorm(_ name: String, _ channels: Int) throws -> VQGroupNorm {
        VQGroupNorm(gamma: try floats(name + ".weight", [channels]), beta: try floats(name + ".bias", [channels]))
    }

    /// A ResnetBlock whose convs are `conv1`, `conv2` and (when the width changes) `shortcutName`.
    package func resBlock<Norm: VQNorm>(_ name: String, _ inC: Int, _ outC: Int, shortcutName: String = "nin_shortcut",
                                        norm: (String, Int) throws -> Norm) throws -> VQResBlock<Norm> {
        VQResBlock(norm1: try norm(name + ".norm1", inC), conv1: try conv(name + ".conv1", inC, outC, 3),
                   norm2: try norm(name + ".norm2", outC), conv2: try conv(name + ".conv2", outC, outC, 3),
                   shortcut: inC == outC ? nil : try conv(name + "." + shortcutName, inC, outC, 1))
    }

    package func packed(weight: [Float], bias: [Float], inC: Int, outC: Int, kernel: Int) -> VQConv {
        VQConv(op: Conv2D(weight: weight, bias: bias, inChannels: inC, outChannels: outC, kernel: kernel))
    }
}

extension VQLayerReader {
    /// A safetensors file as a tensor source (any float dtype, widened to f32).
    package static func source(_ file: SafeTensorsFile) -> VQTensorSource {
        { name, shape in try file.floats(name, shape: shape) }
    }
}

/// The codebook rows of `tokens` laid out channel-major: `[embedDim][tokens.count]`.
package func vqLookup(_ tokens: [Int], codebook: [Float], size: Int, embedDim e: Int) throws -> FloatBuffer {
    let n = tokens.count
    var z = [Float](repeating: 0, count: e * n)
    for (p, t) in tokens.enumerated() {
        guard t >= 0 && t < size else {
            throw ModelError.badInput("token \(t) at index \(p) is outside the codebook of \(size)")
        }
        for i in 0..<e { z[i * n + p] = codebook[t * e + i] }
    }
    return FloatBuffer(z)
}

/// Checks that `tokens` fills a `rows x columns` grid.
package func vqCheckGrid(_ tokens: [Int], rows: Int, columns: Int) throws {
    guard rows > 0, columns > 0, tokens.count == rows * columns else {
        throw ModelError.badInput("expected \(rows * columns) tokens for a \(rows)x\(columns) grid, got \(tokens.count)")
    }
}

/// Rows of a codebook scaled to unit length (F.normalize, eps 1e-12), as LlamaGen's `codebook_l2_norm` asks.
package func vqNormalizedRows(_ table: [Float], rows: Int, width e: Int) -> [Float] {
    var table = table
    for r in 0..<rows {
        var ss: Float = 0
        for i in 0..<e { ss += table[r * e + i] * table[r * e + i] }
        let inv = 1 / max(ss.squareRoot(), 1e-12)
        for i in 0..<e { table[r * e + i] *= inv }
    }
    return table
}
