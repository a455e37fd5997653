import CKernels

/// A 2-D convolution (kernel 1 or 3, stride 1, zero padding kernel / 2, as `nn.Conv2d`) with its
/// weights packed once, either for the direct-convolution kernel (`zk_conv2d`: AVX-512VL / AVX2 /
/// scalar, chosen at run time; no im2col copy, no BLAS) or, for 3x3 layers with many channels, for
/// Winograd F(2x2, 3x3) or F(4x4, 3x3) (`zk_conv2d_winograd`: 2.25x or 4x fewer multiplies on the
/// same register tile).
///
/// Activations are channel-major `[channels][height][width]` `FloatBuffer`s; the input of `apply` is
/// *padded* (`ImageOps.paddedCount`): written by `ImageOps.pad` or `ImageOps.groupNorm(padded:)`.
public final class Conv2D: @unchecked Sendable {
    /// How the convolution is computed. `.automatic` takes Winograd where `zk_winograd_choice` says
    /// it was measured to win (3x3, AVX-512, 32 ... 256 x 256 channels: F(2x2) unless `ZK_WINOGRAD`
    /// says 4, or 0 for off) and the direct kernel elsewhere. `.winograd2x2` / `.winograd4x4` name the
    /// output tile: F(2x2, 3x3) rounds like the direct kernel; F(4x4, 3x3) needs 44% fewer products
    /// than F(2x2) but rounds ~10x worse, so it is opt-in.
    public enum Algorithm: Sendable { case automatic, direct, winograd2x2, winograd4x4 }

    public let inChannels: Int, outChannels: Int, kernel: Int
    /// The algorithm chosen at init (never `.automatic`).
    public let algorithm: Algorithm
    let packed: UnsafeMutablePointer<Float>
    let packedBytes: Int
    let winogradTile: Int32     // 0: direct
    let bias: [Float]?

    /// `weight` is OIHW `[outChannels][inChannels][kernel][kernel]`; `bias` has `outChannels` values.
    /// Winograd needs a 3x3 kernel.
    public init(weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int, kernel: Int,
                algorithm: Algorithm = .automatic) {
        precondition(kernel == 1 || kernel == 3, "Conv2D supports 1x1 and 3x3 kernels, not \(kernel)")
        precondition(weight.count == outChannels * inChannels * kernel * kernel, "conv weight shape mismatch")
        precondition(bias == nil || bias!.count == outChannels, "conv bias shape mismatch")
        precondition(kernel == 3 || algorithm == .automatic || algorithm == .direct, "Winograd needs a 3x3 kernel")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel; self.bias = bias
        var tile: Int32 = 0
        switch algorithm {
        case .automatic: tile = kernel == 3 ? zk_winograd_choice(Int32(outChannels), Int32(inChannels)) : 0
        case .direct: tile = 0
        case .winograd2x2: tile = 2
        case .winograd4x4: tile = 4
        }
        winogradTile = tile
        self.algorithm = tile == 2 ? .winograd2x2 : tile == 4 ? .winograd4x4 : .direct
        let n = tile != 0 ? zk_winograd_packed_count(tile, Int32(outChannels), Int32(inChannels))
                          : zk_conv_packed_count(Int32(outChannels), Int32(inChannels), Int32(kernel))
        packedBytes = max(n, 1) * MemoryLayout<Float>.size
        guard let raw = zk_alloc(packedBytes) else { fatalError("out of memory packing a \(outChannels)x\(inChannels) conv") }
        packed = raw.bindMemory(to: Float.self, capacity: max(n, 1))
        weight.withUnsafeBufferPointer {
            if tile != 0 { zk_winograd_pack(tile, $0.baseAddress, Int32(outChannels), Int32(inChannels), packed) }
            else { zk_conv_pack($0.baseAddress, Int32(outChannels), Int32(inChannels), Int32(kernel), packed) }
        }
    }

    deinit { zk_free(packed, packedBytes) }

    /// Bytes of the packed weights (the last block of 8 output channels is zero-padded; Winograd's
    /// transformed weights are 16/9 (2x2) or 4 (4x4) times the direct packing).
    public var weightBytes: Int { packedBytes }

    /// `y [outChannels][height][width] = conv(xPadded) + bias (+ skip)`; `skip` is `[outChannels][height][width]`.
    public func apply(padded xp: FloatBuffer, height: Int, width: Int, skip: FloatBuffer? = nil, into y: FloatBuffer) {
        precondition(xp.count >= ImageOps.paddedCount(channels: inChannels, height: height, width: width), "conv input too small")
        precondition(y.count >= outChannels * height * width, "conv output too small")
        precondition(skip == nil || skip!.count >= outChannels * height * width, "conv skip too small")
        let run = { (b: UnsafePointer<Float>?) in
            let s = skip.map { UnsafePointer($0.base) }
            if self.winogradTile != 0 {
                zk_conv2d_winograd(self.winogradTile, xp.base, Int32(self.inChannels), Int32(height), Int32(width), self.packed, b,
                                   Int32(self.outChannels), s, y.base)
            } else {
                zk_conv2d(xp.base, Int32(self.inChannels), Int32(height), Int32(width), Int32(self.kernel), self.packed, b,
                          Int32(self.outChannels), s, y.base)
            }
        }
        if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
    }

    /// Convenience: `apply` on a fresh output buffer.
    public func callAsFunction(padded xp: FloatBuffer, height: Int, width: Int, skip: FloatBuffer? = nil) -> FloatBuffer {
        let y = FloatBuffer(uninitialized: outChannels * height * width)
        apply(padded: xp, height: height, width: width, skip: skip, into: y)
        return y
    }
}

extension ImageOps {
    /// Floats of a padded `[channels][height][width]` activation (a zero border and some slack per channel).
    public static func paddedCount(channels: Int, height: Int, width: Int) -> Int {
        channels * Int(zk_conv_plane(Int32(height), Int32(width)))
    }

    /// The padded copy of `x [channels][height][width]` for `Conv2D.apply`; `upsample` doubles both
    /// sides on the way (nearest, `F.interpolate(scale_factor=2)`), so the result is the padded
    /// `[channels][2 height][2 width]`.
    public static func pad(_ x: FloatBuffer, channels: Int, height: Int, width: Int, upsample: Bool = false) -> FloatBuffer {
        precondition(x.count >= channels * height * width, "pad input too small")
        let f = upsample ? 2 : 1
        let y = FloatBuffer(uninitialized: paddedCount(channels: channels, height: height * f, width: width * f))
        zk_conv_pad(x.base, Int32(channels), Int32(height), Int32(width), Int32(f), y.base)
        return y
    }

    /// GroupNorm (`groups` groups, affine, eps) and optional swish of `x [channels][height][width]`,
    /// into a fresh buffer: plain `[channels][height][width]`, or padded for `Conv2D.apply`.
    public static func groupNorm(_ x: FloatBuffer, channels: Int, height: Int, width: Int, groups: Int = 32, eps: Float = 1e-6,
                                 gamma: [Float], beta: [Float], swish: Bool, padded: Bool) -> FloatBuffer {
        precondition(channels % groups == 0, "channels \(channels) not divisible into \(groups) groups")
        precondition(x.count >= channels * height * width && gamma.count == channels && beta.count == channels)
        let y = FloatBuffer(uninitialized: padded ? paddedCount(channels: channels, height: height, width: width)
                                                  : channels * height * width)
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                zk_group_norm(x.base, Int32(channels), Int32(height), Int32(width), Int32(groups), eps,
                              g.baseAddress, b.baseAddress, swish ? 1 : 0, padded ? 1 : 0, y.base)
            }
        }
        return y
    }
}
