import Kernels
import Model

// Building blocks shared by the Emu3 and Chameleon VQ image decoders. Both are VQGAN-style decoders
// (ResnetBlocks, pixel self-attention, nearest 2x upsampling + 3x3 conv, GroupNorm(32, eps 1e-6)); they differ
// in the normalisation (Chameleon: GroupNorm; Emu3: GroupNorm modulated by the quantized latents) and in the
// attention projections (1x1 convs vs linear layers, one head vs several), which the types below abstract.
// Activations are channel-major `[channels][height][width]` FloatBuffers, as `Kernels.Conv2D` wants them.

/// Reads one decoder tensor by name, checking its shape: a safetensors file, a sharded checkpoint or a test's
/// generator all fit behind this.
public typealias VQTensorSource = (_ name: String, _ shape: [Int]) throws -> [Float]

/// A convolution (kernel 1 or 3, stride 1, zero padding kernel / 2) packed for `Kernels.Conv2D`.
struct VQConv: Sendable {
    let op: Conv2D
    var inC: Int { op.inChannels }
    var outC: Int { op.outChannels }

    /// `conv(xPadded) (+ skip)` at `h x w`; `xp` is padded (`ImageOps.pad` or a norm's padded output).
    func callAsFunction(padded xp: FloatBuffer, h: Int, w: Int, skip: FloatBuffer? = nil) -> FloatBuffer {
        op(padded: xp, height: h, width: w, skip: skip)
    }

    /// The convolution of a plain (unpadded) activation.
    func callAsFunction(plain x: FloatBuffer, h: Int, w: Int, skip: FloatBuffer? = nil) -> FloatBuffer {
        op(padded: ImageOps.pad(x, channels: inC, height: h, width: w), height: h, width: w, skip: skip)
    }
}

/// The quantized latents `[channels][rows][columns]` at token resolution that Emu3's spatial norms are
/// conditioned on, kept padded so each norm's two 1x1 convolutions read them directly.
struct VQCondition {
    let padded: FloatBuffer
    let channels: Int, rows: Int, columns: Int

    init(_ x: FloatBuffer, channels: Int, rows: Int, columns: Int) {
        padded = ImageOps.pad(x, channels: channels, height: rows, width: columns)
        self.channels = channels; self.rows = rows; self.columns = columns
    }
}

/// A normalisation in front of a convolution or an attention block.
protocol VQNorm: Sendable {
    /// Normalises `x [channels][h][w]` (then swish when asked), plain or padded for a convolution.
    func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool, padded: Bool,
                        condition: VQCondition?) -> FloatBuffer
}

/// GroupNorm(32 groups, eps 1e-6, affine), as every VQGAN-style decoder uses it.
struct VQGroupNorm: VQNorm {
    let gamma: [Float], beta: [Float]

    func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool, padded: Bool,
                        condition: VQCondition? = nil) -> FloatBuffer {
        ImageOps.groupNorm(x, channels: channels, height: h, width: w, groups: 32, eps: 1e-6, gamma: gamma, beta: beta,
                           swish: swish, padded: padded)
    }
}

/// A ResnetBlock: `x + conv2(act(norm2(conv1(act(norm1(x))))))`, the skip through a 1x1 conv when the width
/// changes. Dropout sits between norm2 and conv2 in training only, so inference has none.
struct VQResBlock<Norm: VQNorm>: Sendable {
    let norm1: Norm, conv1: VQConv, norm2: Norm, conv2: VQConv, shortcut: VQConv?

    func callAsFunction(_ x: FloatBuffer, h: Int, w: Int, condition: VQCondition?) -> FloatBuffer {
        let a = norm1(x, channels: conv1.inC, h: h, w: w, swish: true, padded: true, condition: condition)
        let y = conv1(padded: a, h: h, w: w)
        let b = norm2(y, channels: conv1.outC, h: h, w: w, swish: true, padded: true, condition: condition)
        let skip = shortcut.map { $0(plain: x, h: h, w: w) } ?? x
        return conv2(padded: b, h: h, w: w, skip: skip)          // + residual, fused into the store
    }
}

/// Self-attention across all pixels of the image with a residual: `x + out(attn(q, k, v))`, q, k, v and out
/// being per-pixel linear maps (1x1 convolutions or linear layers: the same arithmetic) of `norm(x)`.
/// Heads split the channels into `heads` consecutive groups, each scaled by 1/sqrt(channels per head).
struct VQAttention<Norm: VQNorm>: Sendable {
    let norm: Norm, q: VQConv, k: VQConv, v: VQConv, out: VQConv
    let heads: Int

    func callAsFunction(_ x: FloatBuffer, h: Int, w: Int, condition: VQCondition?) -> FloatBuffer {
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
}

/// Nearest 2x upsampling, then a 3x3 convolution.
struct VQUpsample: Sendable {
    let conv: VQConv

    /// `x [channels][h][w]` -> `[channels][2h][2w]`.
    func callAsFunction(_ x: FloatBuffer, h: Int, w: Int) -> FloatBuffer {
        let xp = ImageOps.pad(x, channels: conv.inC, height: h, width: w, upsample: true)
        return conv(padded: xp, h: 2 * h, w: 2 * w)
    }
}

/// Reads the decoders' layers from a `VQTensorSource`, every name under `prefix`.
struct VQLayerReader {
    let prefix: String
    let tensor: VQTensorSource

    func floats(_ name: String, _ shape: [Int]) throws -> [Float] { try tensor(prefix + name, shape) }

    /// `name.weight [outC][inC][k][k]` and `name.bias [outC]`.
    func conv(_ name: String, _ inC: Int, _ outC: Int, _ k: Int) throws -> VQConv {
        try packed(weight: floats(name + ".weight", [outC, inC, k, k]), bias: floats(name + ".bias", [outC]),
                   inC: inC, outC: outC, kernel: k)
    }

    /// A linear layer `name.weight [outC][inC]`, `name.bias`, applied to every pixel: a 1x1 convolution.
    func linear(_ name: String, _ inC: Int, _ outC: Int) throws -> VQConv {
        try packed(weight: floats(name + ".weight", [outC, inC]), bias: floats(name + ".bias", [outC]),
                   inC: inC, outC: outC, kernel: 1)
    }

    func groupNorm(_ name: String, _ channels: Int) throws -> VQGroupNorm {
        VQGroupNorm(gamma: try floats(name + ".weight", [channels]), beta: try floats(name + ".bias", [channels]))
    }

    func packed(weight: [Float], bias: [Float], inC: Int, outC: Int, kernel: Int) -> VQConv {
        VQConv(op: Conv2D(weight: weight, bias: bias, inChannels: inC, outChannels: outC, kernel: kernel))
    }
}

extension VQLayerReader {
    /// A safetensors file as a tensor source (any float dtype, widened to f32).
    static func source(_ file: SafeTensorsFile) -> VQTensorSource {
        { name, shape in try file.floats(name, shape: shape) }
    }
}

/// The codebook rows of `tokens` laid out channel-major: `[embedDim][tokens.count]`.
func vqLookup(_ tokens: [Int], codebook: [Float], size: Int, embedDim e: Int) throws -> FloatBuffer {
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
func vqCheckGrid(_ tokens: [Int], rows: Int, columns: Int) throws {
    guard rows > 0, columns > 0, tokens.count == rows * columns else {
        throw ModelError.badInput("expected \(rows * columns) tokens for a \(rows)x\(columns) grid, got \(tokens.count)")
    }
}
