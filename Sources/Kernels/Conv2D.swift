import CKernels
import Foundation

/// A 2-D convolution (kernel 1 or 3, stride 1, zero padding kernel / 2, as `nn.Conv2d`) with its
/// weights packed for the algorithm that computes it: the direct kernel (`zk_conv2d`, no im2col copy),
/// Winograd F(2x2, 3x3) or F(4x4, 3x3) (`zk_conv2d_winograd`), or one OpenBLAS sgemm per tap.
/// With `.automatic` (the default) the algorithm is asked of `ConvPlanner.shared` per call shape, so
/// it is the one measured fastest on this machine for this layer at this image size; the weights are
/// repacked for it on first use (see `packing(for:)`).
///
/// Activations are channel-major `[channels][height][width]` `FloatBuffer`s; the input of `apply` is
/// *padded* (`ImageOps.paddedCount`): written by `ImageOps.pad` or `ImageOps.groupNorm(padded:)`.
public final class Conv2D: @unchecked Sendable {
    /// `.automatic` asks `ConvPlanner.shared` for each call shape; the others fix the algorithm.
    public enum Algorithm: Sendable, Equatable {
        case automatic, direct, winograd2x2, winograd4x4, gemm

        init(_ a: ConvAlgorithm) {
            switch a {
            case .direct: self = .direct
            case .winograd2x2: self = .winograd2x2
            case .winograd4x4: self = .winograd4x4
            case .gemm: self = .gemm
            }
        }
        var fixed: ConvAlgorithm? {
            switch self {
            case .automatic: return nil
            case .direct: return .direct
            case .winograd2x2: return .winograd2x2
            case .winograd4x4: return .winograd4x4
            case .gemm: return .gemm
            }
        }
    }

    public let inChannels: Int, outChannels: Int, kernel: Int
    /// The algorithm asked for at init (`.automatic`: the planner's choice per call shape).
    public let requested: Algorithm
    let bias: [Float]?
    private let lock = NSLock()
    /// The packing in use: one at a time, so a layer's weights are held once (the planner's Winograd
    /// packings are 16/9 or 4 times the direct one; keeping the direct packing beside them too would
    /// cost the VQ-16 decoder ~50 MB more at 256 px).
    private var held: (algorithm: ConvAlgorithm, weights: PackedConvWeights)

    /// `weight` is OIHW `[outChannels][inChannels][kernel][kernel]`; `bias` has `outChannels` values.
    /// Winograd needs a 3x3 kernel.
    public init(weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int, kernel: Int,
                algorithm: Algorithm = .automatic) {
        precondition(kernel == 1 || kernel == 3, "Conv2D supports 1x1 and 3x3 kernels, not \(kernel)")
        precondition(weight.count == outChannels * inChannels * kernel * kernel, "conv weight shape mismatch")
        precondition(bias == nil || bias!.count == outChannels, "conv bias shape mismatch")
        precondition(kernel == 3 || (algorithm != .winograd2x2 && algorithm != .winograd4x4), "Winograd needs a 3x3 kernel")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel; self.bias = bias
        requested = algorithm
        let first = algorithm.fixed ?? .direct
        held = (first, PackedConvWeights.pack(first, oihw: weight, out: outChannels, in: inChannels, kernel: kernel))
    }

    /// The algorithm a call at `height x width` asks for (see `packing(for:)` for what runs).
    public func algorithm(height: Int, width: Int) -> ConvAlgorithm {
        requested.fixed ?? ConvPlanner.shared.algorithm(for: ConvShape(inChannels: inChannels, outChannels: outChannels,
                                                                         kernel: kernel, height: height, width: width))
    }

    /// Bytes of the packed weights held now.
    public var weightBytes: Int { lock.withLock { held.weights.bytes } }

    /// The packing for `a`, repacked from the held one when that is the direct or GEMM packing (both
    /// plain permutations of the weights). A Winograd packing cannot be turned back into the weights
    /// exactly, so a layer once repacked for Winograd keeps it for every call shape: the output stays
    /// within the same error bound, only the speed of a call at another size may be off its plan.
    private func packing(for a: ConvAlgorithm) -> (algorithm: ConvAlgorithm, weights: PackedConvWeights) {
        lock.withLock {
            if held.algorithm == a { return held }
            let oihw: [Float]
            switch held.algorithm {
            case .direct: oihw = held.weights.unpackDirect(out: outChannels, in: inChannels, kernel: kernel)
            case .gemm: oihw = held.weights.unpackGemm(out: outChannels, in: inChannels, kernel: kernel)
            case .winograd2x2, .winograd4x4: return held
            }
            held = (a, PackedConvWeights.pack(a, oihw: oihw, out: outChannels, in: inChannels, kernel: kernel))
            return held
        }
    }

    /// `y [outChannels][height][width] = conv(xPadded) + bias (+ skip)`; `skip` is `[outChannels][height][width]`.
    public func apply(padded xp: FloatBuffer, height: Int, width: Int, skip: FloatBuffer? = nil, into y: FloatBuffer) {
        precondition(xp.count >= ImageOps.paddedCount(channels: inChannels, height: height, width: width), "conv input too small")
        precondition(y.count >= outChannels * height * width, "conv output too small")
        precondition(skip == nil || skip!.count >= outChannels * height * width, "conv skip too small")
        let (a, w) = packing(for: algorithm(height: height, width: width))
        let run = { (b: UnsafePointer<Float>?) in
            let s = skip.map { UnsafePointer($0.base) }
            switch a {
            case .direct:
                zk_conv2d(xp.base, Int32(self.inChannels), Int32(height), Int32(width), Int32(self.kernel), w.pointer, b,
                          Int32(self.outChannels), s, y.base)
            case .winograd2x2, .winograd4x4:
                zk_conv2d_winograd(a == .winograd2x2 ? 2 : 4, xp.base, Int32(self.inChannels), Int32(height), Int32(width),
                                   w.pointer, b, Int32(self.outChannels), s, y.base)
            case .gemm:
                ConvGemm.run(xp: xp.base, inChannels: self.inChannels, height: height, width: width, kernel: self.kernel,
                             weights: w.pointer, bias: b, outChannels: self.outChannels, skip: s, y: y.base)
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

/// Convolution weights packed for one algorithm, in memory from `zk_alloc`.
final class PackedConvWeights: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let bytes: Int

    private init(count: Int) {
        bytes = max(count, 1) * MemoryLayout<Float>.size
        guard let raw = zk_alloc(bytes) else { fatalError("out of memory packing convolution weights (\(bytes) bytes)") }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }
    deinit { zk_free(pointer, bytes) }

    /// Floats of the packing of `a` for an `out x in` layer.
    private static func count(_ a: ConvAlgorithm, out: Int, in inC: Int, kernel: Int) -> Int {
        let (o, i, k) = (Int32(out), Int32(inC), Int32(kernel))
        switch a {
        case .direct: return zk_conv_packed_count(o, i, k)
        case .winograd2x2: return zk_winograd_packed_count(2, o, i)
        case .winograd4x4: return zk_winograd_packed_count(4, o, i)
        case .gemm: return kernel * kernel * out * inC
        }
    }

    /// Bytes of the packing of `a` for an `out x in` layer (what `pack` allocates).
    static func bytes(_ a: ConvAlgorithm, out: Int, in inC: Int, kernel: Int) -> Int {
        max(count(a, out: out, in: inC, kernel: kernel), 1) * MemoryLayout<Float>.size
    }

    static func pack(_ a: ConvAlgorithm, oihw w: [Float], out: Int, in inC: Int, kernel: Int) -> PackedConvWeights {
        let (o, i, k) = (Int32(out), Int32(inC), Int32(kernel))
        let p = PackedConvWeights(count: count(a, out: out, in: inC, kernel: kernel))
        switch a {
        case .direct:
            w.withUnsafeBufferPointer { zk_conv_pack($0.baseAddress, o, i, k, p.pointer) }
        case .winograd2x2, .winograd4x4:
            w.withUnsafeBufferPointer { zk_winograd_pack(a == .winograd2x2 ? 2 : 4, $0.baseAddress, o, i, p.pointer) }
        case .gemm:
            // [tap][out][in]: one row-major matrix per tap for sgemm.
            let taps = kernel * kernel
            for t in 0..<taps {
                for oc in 0..<out {
                    for c in 0..<inC { p.pointer[(t * out + oc) * inC + c] = w[(oc * inC + c) * taps + t] }
                }
            }
        }
        return p
    }

    /// OIHW weights back from the GEMM packing (`[taps][out][in]`).
    func unpackGemm(out: Int, in inC: Int, kernel: Int) -> [Float] {
        let taps = kernel * kernel
        var w = [Float](repeating: 0, count: out * inC * taps)
        for t in 0..<taps {
            for oc in 0..<out {
                for c in 0..<inC { w[(oc * inC + c) * taps + t] = pointer[(t * out + oc) * inC + c] }
            }
        }
        return w
    }

    /// OIHW weights back from the direct packing (`[out/8][in][taps][8]`, see `zk_conv_pack`).
    func unpackDirect(out: Int, in inC: Int, kernel: Int) -> [Float] {
        let taps = kernel * kernel
        var w = [Float](repeating: 0, count: out * inC * taps)
        for oc in 0..<out {
            let (b, j) = (oc / 8, oc % 8)
            for c in 0..<inC {
                for t in 0..<taps { w[(oc * inC + c) * taps + t] = pointer[((b * inC + c) * taps + t) * 8 + j] }
            }
        }
        return w
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
