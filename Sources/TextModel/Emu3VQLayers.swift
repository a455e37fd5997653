import Kernels
import Model

// The layers only Emu3's VQ decoder has: the spatially conditioned norm, and the temporal (video) layers
// reduced to what they compute for a single image.

/// Emu3's SpatialNorm: `GroupNorm(x) * conv_y(q) + conv_b(q)`, `q` the quantized latents stretched (nearest)
/// to `x`'s resolution. conv_y and conv_b are 1x1, so they are applied at token resolution and stretched
/// afterwards: per pixel the same arithmetic, on far fewer pixels.
struct Emu3SpatialNorm: VQNorm {
    let norm: VQGroupNorm, convY: VQConv, convB: VQConv

    func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool, padded: Bool,
                        condition: VQCondition?) -> FloatBuffer {
        guard let q = condition else { preconditionFailure("Emu3's spatial norm needs the quantized latents") }
        // Every level's side is the token grid's times a power of two, the same factor on both axes.
        let factor = h / q.rows
        precondition(factor * q.rows == h && factor * q.columns == w, "activation \(h)x\(w) is no multiple of the \(q.rows)x\(q.columns) grid")
        let normalised = norm(x, channels: channels, h: h, w: w, swish: false, padded: false)
        let y = ImageOps.modulate(normalised, channels: channels, height: h, width: w,
                                  scale: convY(padded: q.padded, h: q.rows, w: q.columns),
                                  shift: convB(padded: q.padded, h: q.rows, w: q.columns), factor: factor, swish: swish)
        return padded ? ImageOps.pad(y, channels: channels, height: h, width: w) : y
    }

    var bytes: Int { norm.bytes + convY.bytes + convB.bytes }
}

extension VQLayerReader {
    func spatialNorm(_ name: String, channels: Int, conditionChannels e: Int) throws -> Emu3SpatialNorm {
        Emu3SpatialNorm(norm: try groupNorm(name + ".norm_layer", channels),
                        convY: try conv(name + ".conv_y", e, channels, 1), convB: try conv(name + ".conv_b", e, channels, 1))
    }
}

// MARK: - Temporal layers, frame 0
//
// Emu3's VQ model is a video tokenizer: `decode` runs the latents through 3-D convolutions over
// (time, height, width) and upsamples time by `temporal_downsample_factor`, then decodes every frame with the
// 2-D decoder. An image is a clip of one latent frame, and `decode` returns frame 0 of the result. Every
// temporal convolution (kernel 3 in time) pads two zero frames in front and none behind (causal), and the
// temporal upsampling repeats frames (nearest), so output frame 0 depends on input frame 0 only, through the
// last temporal tap of each kernel: `conv3d(frames)[0] = conv2d with weight[:, :, 2]` of frame 0. BatchNorm3d
// in inference mode is a fixed per-channel affine map. Decoding frame 0 alone is therefore exact for images,
// and the later frames (which do differ: they mix frame 0 into more taps) are never computed.

/// The spatial 3x3 (or 1x1) kernel of the last temporal tap of a `[out][in][3][k][k]` 3-D convolution.
func lastTemporalTap(_ weight: [Float], outC: Int, inC: Int, kernel k: Int) -> [Float] {
    let taps = 3, plane = k * k
    var w = [Float](repeating: 0, count: outC * inC * plane)
    for o in 0..<outC {
        for i in 0..<inC {
            let src = ((o * inC + i) * taps + (taps - 1)) * plane
            let dst = (o * inC + i) * plane
            for p in 0..<plane { w[dst + p] = weight[src + p] }
        }
    }
    return w
}

/// BatchNorm3d in inference mode, folded into `x * scale + shift` per channel the way PyTorch folds it
/// (`scale = weight / sqrt(running_var + eps)`, `shift = bias - running_mean * scale`).
struct Emu3BatchNorm: Sendable {
    let scale: [Float], shift: [Float]

    func callAsFunction(_ x: FloatBuffer, channels: Int, h: Int, w: Int, swish: Bool) -> FloatBuffer {
        ImageOps.channelAffine(x, channels: channels, height: h, width: w, scale: scale, shift: shift, swish: swish)
    }
}

/// A TemporalResnetBlock on frame 0: BatchNorm, swish, causal 3x3x3 conv, twice, plus the input. Its width
/// never changes (latent_channels in and out), so there is no shortcut conv.
struct Emu3TemporalResBlock: Sendable {
    let norm1: Emu3BatchNorm, conv1: VQConv, norm2: Emu3BatchNorm, conv2: VQConv

    func callAsFunction(_ x: FloatBuffer, h: Int, w: Int) -> FloatBuffer {
        let c = conv1.inC
        let y = conv1(plain: norm1(x, channels: c, h: h, w: w, swish: true), h: h, w: w)
        return conv2(plain: norm2(y, channels: c, h: h, w: w, swish: true), h: h, w: w, skip: x)
    }
}

/// A TemporalUpsample followed by the decoder's swish, on frame 0: the nearest repeat in time leaves frame 0
/// as it was, and the causal conv sees it through its last tap only.
struct Emu3TemporalUpsample: Sendable {
    let conv: VQConv

    func callAsFunction(_ x: FloatBuffer, h: Int, w: Int) -> FloatBuffer {
        let y = conv(plain: x, h: h, w: w)
        ImageOps.swishInPlace(y, count: conv.outC * h * w)
        return y
    }
}

extension VQLayerReader {
    /// An `Emu3VQVAEConv3d` (`name.conv.weight [out][in][3][k][k]`) as the 2-D conv it is on frame 0.
    func causalConv3d(_ name: String, _ inC: Int, _ outC: Int, _ k: Int) throws -> VQConv {
        let weight = try floats(name + ".conv.weight", [outC, inC, 3, k, k])
        return packed(weight: lastTemporalTap(weight, outC: outC, inC: inC, kernel: k),
                      bias: try floats(name + ".conv.bias", [outC]), inC: inC, outC: outC, kernel: k)
    }

    func batchNorm(_ name: String, _ channels: Int, eps: Float = 1e-5) throws -> Emu3BatchNorm {
        let weight = try floats(name + ".weight", [channels]), bias = try floats(name + ".bias", [channels])
        let mean = try floats(name + ".running_mean", [channels]), variance = try floats(name + ".running_var", [channels])
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            scale[c] = weight[c] * (1 / (variance[c] + eps).squareRoot())
            shift[c] = bias[c] - mean[c] * scale[c]
        }
        return Emu3BatchNorm(scale: scale, shift: shift)
    }

    func temporalResBlock(_ name: String, _ channels: Int) throws -> Emu3TemporalResBlock {
        Emu3TemporalResBlock(norm1: try batchNorm(name + ".norm1", channels), conv1: try causalConv3d(name + ".conv1", channels, channels, 3),
                             norm2: try batchNorm(name + ".norm2", channels), conv2: try causalConv3d(name + ".conv2", channels, channels, 3))
    }
}
