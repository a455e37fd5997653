import CKernels

/// Convolution as OpenBLAS matrix products, without an im2col copy. On the padded layout (see
/// `zk_conv_plane`) output position q = oy * (W + 2) + ox reads tap t at q + offset(t), so each tap is
/// one product `[out][in] x X[:, q + offset(t) ...]` with the row stride of a padded plane, and the
/// nine (or one) products accumulate into a block of positions; the two junk columns per row are
/// dropped when the block is copied out with bias and skip. A planner candidate: where OpenBLAS's
/// kernels beat ours on a machine, the plan says so.
enum ConvGemm {
    /// Positions per block: the accumulator block (`out x positions` floats) stays near L2-sized.
    static func blockPositions(outChannels: Int, total: Int) -> Int {
        let target = max(256, (1 << 19) / max(outChannels, 1))
        return min(total, (target + 15) / 16 * 16)
    }

    static func run(xp: UnsafePointer<Float>, inChannels: Int, height: Int, width: Int, kernel: Int,
                    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
                    skip: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let rowStride = width + 2, plane = Int(zk_conv_plane(Int32(height), Int32(width)))
        let total = height * rowStride
        let block = blockPositions(outChannels: outChannels, total: total)
        let taps = kernel * kernel
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: outChannels * block)
        defer { acc.deallocate() }
        var start = 0
        while start < total {
            let n = min(block, total - start)
            for t in 0..<taps {
                let offset = kernel == 3 ? (t / 3) * rowStride + t % 3 : rowStride + 1
                zk_sgemm(0, 0, Int32(outChannels), Int32(n), Int32(inChannels), 1,
                         weights + t * outChannels * inChannels, Int32(inChannels),
                         xp + start + offset, Int32(plane), t == 0 ? 0 : 1, acc, Int32(n))
            }
            copyOut(acc, positions: start..<(start + n), rowStride: rowStride, height: height, width: width,
                    bias: bias, outChannels: outChannels, skip: skip, y: y)
            start += n
        }
    }

    /// Block rows -> `y [out][height][width]` (+ bias, + skip), skipping the padding columns.
    private static func copyOut(_ acc: UnsafeMutablePointer<Float>, positions: Range<Int>, rowStride: Int, height: Int,
                                width: Int, bias: UnsafePointer<Float>?, outChannels: Int, skip: UnsafePointer<Float>?,
                                y: UnsafeMutablePointer<Float>) {
        let n = positions.count, hw = height * width
        for o in 0..<outChannels {
            let b = bias?[o] ?? 0
            let row = acc + o * n, out = y + o * hw, sk = skip.map { $0 + o * hw }
            var q = positions.lowerBound
            while q < positions.upperBound {
                let oy = q / rowStride, ox = q % rowStride
                let runEnd = min(positions.upperBound, oy * rowStride + width)   // the row's real columns
                if ox < width {
                    let dst = oy * width + ox, count = runEnd - q, src = row + (q - positions.lowerBound)
                    if let sk {
                        for i in 0..<count { out[dst + i] = src[i] + b + sk[dst + i] }
                    } else {
                        for i in 0..<count { out[dst + i] = src[i] + b }
                    }
                    q = runEnd
                } else {
                    q = (oy + 1) * rowStride
                }
            }
        }
    }
}
