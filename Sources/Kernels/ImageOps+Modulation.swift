import Foundation

/// Per-channel and per-pixel affine maps of channel-major `[channels][height][width]` activations, for the
/// text-to-image families' VQ decoders: BatchNorm in inference mode (a fixed scale and shift per channel) and
/// spatially conditioned normalisation (a scale and shift map computed from the quantized latents at token
/// resolution and stretched, nearest, to the activation's resolution). Plain Swift loops: these touch each
/// value once, next to convolutions that touch it hundreds of times.
extension ImageOps {
    /// `y[c][p] = x[c][p] * scale[c] + shift[c]`, then swish `y * sigmoid(y)` when asked; a fresh plain buffer.
    public static func channelAffine(_ x: FloatBuffer, channels: Int, height: Int, width: Int,
                                     scale: [Float], shift: [Float], swish: Bool) -> FloatBuffer {
        let n = height * width
        precondition(x.count >= channels * n && scale.count == channels && shift.count == channels,
                     "channelAffine: shapes do not match")
        let y = FloatBuffer(uninitialized: channels * n)
        for c in 0..<channels {
            let a = scale[c], b = shift[c]
            let src = x.base + c * n, dst = y.base + c * n
            for i in 0..<n { dst[i] = activate(src[i] * a + b, swish) }
        }
        return y
    }

    /// `y[c][i][j] = x[c][i][j] * scale[c][i / factor][j / factor] + shift[c][i / factor][j / factor]`, then
    /// swish when asked; `scale` and `shift` are `[channels][height / factor][width / factor]`. Reading the
    /// maps at `i / factor` is nearest upsampling by an integer factor, fused into the multiply-add.
    public static func modulate(_ x: FloatBuffer, channels: Int, height: Int, width: Int,
                                scale: FloatBuffer, shift: FloatBuffer, factor: Int, swish: Bool) -> FloatBuffer {
        precondition(factor >= 1 && height % factor == 0 && width % factor == 0, "modulate: factor \(factor) does not divide \(height)x\(width)")
        let mh = height / factor, mw = width / factor
        precondition(x.count >= channels * height * width && scale.count >= channels * mh * mw && shift.count >= channels * mh * mw,
                     "modulate: shapes do not match")
        let y = FloatBuffer(uninitialized: channels * height * width)
        for c in 0..<channels {
            for i in 0..<height {
                let row = c * height * width + i * width
                let mapRow = c * mh * mw + (i / factor) * mw
                let src = x.base + row, dst = y.base + row
                let a = scale.base + mapRow, b = shift.base + mapRow
                for j in 0..<width { dst[j] = activate(src[j] * a[j / factor] + b[j / factor], swish) }
            }
        }
        return y
    }

    /// Swish `x * sigmoid(x)` in place over the first `count` values.
    public static func swishInPlace(_ x: FloatBuffer, count: Int) {
        precondition(count >= 0 && count <= x.count)
        for i in 0..<count { x.base[i] = activate(x.base[i], true) }
    }

    @inline(__always)
    private static func activate(_ v: Float, _ swish: Bool) -> Float {
        swish ? v * (1 / (1 + expf(-v))) : v      // as torch: x * sigmoid(x)
    }
}
