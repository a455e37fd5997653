import CKernels
import Foundation

/// Kernels of the VQ decoder: convolutions, group norm, upsampling and spatial self-attention,
/// on one image at a time in channel-major layout `[channels][height][width]`.
/// The decoder runs once per finished image, so these favour clarity over zero allocation.
public enum ImageOps {
    /// 2-D convolution, stride 1, zero padding `kernel / 2` (3x3 -> 1, 1x1 -> 0), as `nn.Conv2d`.
    /// `weight` is `[outChannels][inChannels][kernel][kernel]`, `bias` has `outChannels` values.
    public static func conv2d(_ x: [Float], channels: Int, height: Int, width: Int,
                              weight: [Float], bias: [Float]?, outChannels: Int, kernel: Int) -> [Float] {
        let hw = height * width
        precondition(x.count == channels * hw, "conv input has \(x.count) values, expected \(channels * hw)")
        precondition(weight.count == outChannels * channels * kernel * kernel, "conv weight shape mismatch")
        var y = [Float](repeating: 0, count: outChannels * hw)     // [outChannels][height][width]
        if let bias {
            precondition(bias.count == outChannels)
            for o in 0..<outChannels { for i in 0..<hw { y[o * hw + i] = bias[o] } }
        }
        let k2 = kernel * kernel
        let patch: [Float]
        if kernel == 1 {
            patch = x
        } else {
            // im2col: one row per (channel, ky, kx), one column per output pixel:
            // [channels][kernel][kernel][height][width], so the convolution is one sgemm.
            let pad = kernel / 2
            var cols = [Float](repeating: 0, count: channels * k2 * hw)
            cols.withUnsafeMutableBufferPointer { c in
                x.withUnsafeBufferPointer { xs in
                    for ch in 0..<channels {
                        for ky in 0..<kernel {
                            for kx in 0..<kernel {
                                let row = c.baseAddress! + ((ch * kernel + ky) * kernel + kx) * hw
                                for oy in 0..<height {
                                    let iy = oy + ky - pad
                                    guard iy >= 0 && iy < height else { continue }
                                    let src = xs.baseAddress! + ch * hw + iy * width
                                    for ox in 0..<width {
                                        let ix = ox + kx - pad
                                        if ix >= 0 && ix < width { row[oy * width + ox] = src[ix] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            patch = cols
        }
        y.withUnsafeMutableBufferPointer { yp in
            weight.withUnsafeBufferPointer { wp in
                patch.withUnsafeBufferPointer { pp in
                    zk_sgemm(0, 0, Int32(outChannels), Int32(hw),
                                Int32(channels * k2), 1, wp.baseAddress, Int32(channels * k2),
                                pp.baseAddress, Int32(hw), 1, yp.baseAddress, Int32(hw))
                }
            }
        }
        return y
    }

    /// GroupNorm (`groups` groups, affine), optionally followed by swish `x * sigmoid(x)`.
    public static func groupNorm(_ x: [Float], channels: Int, pixels: Int, groups: Int, eps: Float,
                                 gamma: [Float], beta: [Float], swish: Bool) -> [Float] {
        precondition(channels % groups == 0, "channels \(channels) not divisible into \(groups) groups")
        var y = [Float](repeating: 0, count: x.count)    // [channels][pixels], like x
        let per = channels / groups
        for g in 0..<groups {
            let start = g * per * pixels, n = per * pixels
            var mean: Double = 0
            for i in start..<(start + n) { mean += Double(x[i]) }
            mean /= Double(n)
            var variance: Double = 0
            for i in start..<(start + n) { let d = Double(x[i]) - mean; variance += d * d }
            variance /= Double(n)
            let inv = Float(1 / (variance + Double(eps)).squareRoot())
            let m = Float(mean)
            for c in (g * per)..<((g + 1) * per) {
                let a = gamma[c] * inv, b = beta[c] - m * gamma[c] * inv
                for i in (c * pixels)..<((c + 1) * pixels) {
                    var v = x[i] * a + b
                    if swish { v = v / (1 + expf(-v)) }
                    y[i] = v
                }
            }
        }
        return y
    }

    /// Nearest-neighbour 2x upsampling (`F.interpolate(scale_factor=2, mode="nearest")`).
    public static func upsample2x(_ x: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        let ow = width * 2, oh = height * 2
        var y = [Float](repeating: 0, count: channels * oh * ow)   // [channels][2 height][2 width]
        for c in 0..<channels {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    y[(c * oh + oy) * ow + ox] = x[(c * height + oy / 2) * width + ox / 2]
                }
            }
        }
        return y
    }

    /// Single-head self-attention across pixels: `out[:, j] = sum_i v[:, i] softmax_i(q_j . k_i / sqrt(C))`.
    /// q, k, v are `[channels][pixels]`.
    public static func pixelAttention(q: [Float], k: [Float], v: [Float], channels: Int, pixels: Int) -> [Float] {
        let n = pixels
        var w = [Float](repeating: 0, count: n * n)   // w[j][i] = q_j . k_i
        var out = [Float](repeating: 0, count: channels * n)      // [channels][pixels]
        w.withUnsafeMutableBufferPointer { wp in
            q.withUnsafeBufferPointer { qp in
                k.withUnsafeBufferPointer { kp in
                    zk_sgemm(1, 0, Int32(n), Int32(n), Int32(channels),
                                1 / Float(channels).squareRoot(), qp.baseAddress, Int32(n),
                                kp.baseAddress, Int32(n), 0, wp.baseAddress, Int32(n))
                }
            }
            for j in 0..<n { VectorOps.softmax(wp.baseAddress! + j * n, n) }
            out.withUnsafeMutableBufferPointer { op in
                v.withUnsafeBufferPointer { vp in
                    // out[c][j] = sum_i v[c][i] * w[j][i]
                    zk_sgemm(0, 1, Int32(channels), Int32(n), Int32(n),
                                1, vp.baseAddress, Int32(n), wp.baseAddress, Int32(n), 0,
                                op.baseAddress, Int32(n))
                }
            }
        }
        return out
    }
}
