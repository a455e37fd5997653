import Foundation
import Testing
@testable import Kernels

/// The VQ decoder's direct convolution, GroupNorm and padding against naive loops (in Double).
@Suite(.serialized) struct ConvTests {
    /// nn.Conv2d (stride 1, zero padding k/2) + bias + skip, and sum |x w| per output (the error scale).
    static func naiveConv(_ x: [Float], c: Int, h: Int, w: Int, weight: [Float], bias: [Float]?, o: Int, k: Int,
                          skip: [Float]?) -> (y: [Double], scale: [Double]) {
        var y = [Double](repeating: 0, count: o * h * w), s = y
        let pad = k / 2
        for oc in 0..<o {
            for oy in 0..<h {
                for ox in 0..<w {
                    var acc = Double(bias?[oc] ?? 0), mag = abs(acc)
                    for ic in 0..<c {
                        for ky in 0..<k {
                            let iy = oy + ky - pad
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<k {
                                let ix = ox + kx - pad
                                if ix < 0 || ix >= w { continue }
                                let p = Double(weight[((oc * c + ic) * k + ky) * k + kx]) * Double(x[(ic * h + iy) * w + ix])
                                acc += p; mag += abs(p)
                            }
                        }
                    }
                    let i = (oc * h + oy) * w + ox
                    if let skip { acc += Double(skip[i]); mag += abs(Double(skip[i])) }
                    y[i] = acc; s[i] = mag
                }
            }
        }
        return (y, s)
    }

    /// The worst error of `Conv2D` (with `algorithm`) against `naiveConv`, relative to sum |x w| per output.
    @discardableResult
    func check(c: Int, o: Int, h: Int, w: Int, k: Int, upsample: Bool = false, skip: Bool = false, bias: Bool = true,
               algorithm: Conv2D.Algorithm = .automatic, bound: Double = 1e-5) -> Double {
        var rng = TestRandom(seed: UInt64(c * 1000 + o * 10 + h + k))
        let ih = upsample ? h / 2 : h, iw = upsample ? w / 2 : w
        let x = rng.floats(c * ih * iw)
        let weight = rng.floats(o * c * k * k, scale: 0.3), b = bias ? rng.floats(o) : nil
        let s = skip ? rng.floats(o * h * w) : nil
        // The reference sees the upsampled input.
        var xr = x
        if upsample {
            xr = [Float](repeating: 0, count: c * h * w)
            for ch in 0..<c { for y in 0..<h { for xx in 0..<w { xr[(ch * h + y) * w + xx] = x[(ch * ih + y / 2) * iw + xx / 2] } } }
        }
        let ref = Self.naiveConv(xr, c: c, h: h, w: w, weight: weight, bias: b, o: o, k: k, skip: s)
        let conv = Conv2D(weight: weight, bias: b, inChannels: c, outChannels: o, kernel: k, algorithm: algorithm)
        if algorithm != .automatic { #expect(conv.requested == algorithm) }
        let xp = ImageOps.pad(FloatBuffer(x), channels: c, height: ih, width: iw, upsample: upsample)
        let y = conv(padded: xp, height: h, width: w, skip: s.map { FloatBuffer($0) })
        var worst = 0.0
        for i in 0..<(o * h * w) { worst = max(worst, abs(Double(y[i]) - ref.y[i]) / max(ref.scale[i], 1e-3)) }
        #expect(worst < bound, "conv \(c)->\(o) \(k)x\(k) \(conv.algorithm(height: h, width: w)) at \(h)x\(w)\(upsample ? " up" : "")\(skip ? " skip" : ""): relative error \(worst)")
        return worst
    }

    @Test func threeByThreeMatchesNaive() {
        for (c, o, h, w) in [(1, 1, 1, 1), (3, 5, 7, 7), (8, 8, 16, 16), (13, 17, 5, 9), (32, 24, 20, 20), (64, 3, 12, 12), (16, 40, 2, 31)] {
            check(c: c, o: o, h: h, w: w, k: 3)
        }
    }

    @Test func oneByOneSkipUpsampleAndNoBias() {
        for (c, o, h, w) in [(3, 5, 7, 7), (32, 9, 16, 16), (8, 64, 4, 4)] { check(c: c, o: o, h: h, w: w, k: 1, skip: true) }
        check(c: 16, o: 16, h: 16, w: 16, k: 3, upsample: true)
        check(c: 5, o: 11, h: 10, w: 6, k: 3, upsample: true, skip: true, bias: false)
    }

    @Test func everyPathAndThreadCount() {
        let saved = KernelRuntime.threads
        defer { KernelRuntime.threads = saved; KernelRuntime.forceScalar(false) }
        for threads in [1, 2, 3] {
            KernelRuntime.threads = threads
            check(c: 24, o: 20, h: 33, w: 18, k: 3, skip: true)
        }
        KernelRuntime.forceScalar(true)
        check(c: 24, o: 20, h: 13, w: 18, k: 3, skip: true)
        check(c: 7, o: 9, h: 5, w: 5, k: 1)
    }

    /// Winograd F(2x2, 3x3) and F(4x4, 3x3) against the naive loops and against the direct kernel on
    /// the same data: heights and widths that are not multiples of the tile (partial last tile rows
    /// and columns), tile rows that are not multiples of the 16-tile vectors (runs of tiles split
    /// across rows inside a chunk), channel counts that are not multiples of 8 or 16, a partial last
    /// chunk, with and without bias, skip and upsampling. Bound: 1e-5 of sum |x w| per output, the
    /// direct kernel's, for both tiles (measured: direct and 2x2 ~2e-7, 4x4 ~1e-6).
    @Test(arguments: [Conv2D.Algorithm.winograd2x2, .winograd4x4])
    func winogradMatchesNaiveAndDirect(_ algorithm: Conv2D.Algorithm) {
        let shapes = [(32, 32, 1, 1), (33, 40, 7, 9), (40, 35, 13, 5), (48, 17, 16, 16), (37, 64, 31, 30),
                      (64, 64, 3, 70), (35, 33, 45, 37), (32, 32, 6, 66)]
        var worst = (direct: 0.0, winograd: 0.0)
        for (i, (c, o, h, w)) in shapes.enumerated() {
            let skip = i % 2 == 1, bias = i != 2
            worst.direct = max(worst.direct, check(c: c, o: o, h: h, w: w, k: 3, skip: skip, bias: bias, algorithm: .direct))
            worst.winograd = max(worst.winograd, check(c: c, o: o, h: h, w: w, k: 3, skip: skip, bias: bias, algorithm: algorithm))
        }
        worst.winograd = max(worst.winograd, check(c: 32, o: 40, h: 18, w: 26, k: 3, upsample: true, skip: true, algorithm: algorithm))
        print("3x3 conv, worst relative error against the naive loops: direct \(worst.direct), \(algorithm) \(worst.winograd)")
        // Same data through both kernels: outputs agree to float rounding (4x4: ten times looser).
        var rng = TestRandom(seed: 7)
        let (c, o, h, w) = (45, 38, 19, 23)
        let x = FloatBuffer(rng.floats(c * h * w)), weight = rng.floats(o * c * 9, scale: 0.3), b = rng.floats(o)
        let skip = FloatBuffer(rng.floats(o * h * w))
        let xp = ImageOps.pad(x, channels: c, height: h, width: w)
        let direct = Conv2D(weight: weight, bias: b, inChannels: c, outChannels: o, kernel: 3, algorithm: .direct)
        let winograd = Conv2D(weight: weight, bias: b, inChannels: c, outChannels: o, kernel: 3, algorithm: algorithm)
        let yd = direct(padded: xp, height: h, width: w, skip: skip), yw = winograd(padded: xp, height: h, width: w, skip: skip)
        var diff: Float = 0, mag: Float = 0
        for i in 0..<(o * h * w) { diff = max(diff, abs(yd[i] - yw[i])); mag = max(mag, abs(yd[i])) }
        let bound: Float = algorithm == .winograd2x2 ? 2e-6 : 2e-5
        #expect(diff <= bound * mag, "\(algorithm) vs direct: max |diff| \(diff), max |y| \(mag)")
        print("\(algorithm) vs direct on \(c)->\(o) at \(h)x\(w): max |diff| \(diff) of max |y| \(mag)")
    }

    @Test(arguments: [Conv2D.Algorithm.winograd2x2, .winograd4x4])
    func winogradEveryPathAndThreadCount(_ algorithm: Conv2D.Algorithm) {
        let saved = KernelRuntime.threads
        defer { KernelRuntime.threads = saved; KernelRuntime.forceScalar(false) }
        for threads in [1, 2, 3] {
            KernelRuntime.threads = threads
            check(c: 40, o: 72, h: 33, w: 37, k: 3, skip: true, algorithm: algorithm)
        }
        KernelRuntime.forceScalar(true)    // portable transforms and the scalar register tile
        check(c: 40, o: 36, h: 13, w: 19, k: 3, skip: true, algorithm: algorithm)
        check(c: 33, o: 41, h: 8, w: 40, k: 3, algorithm: algorithm)
    }

    /// The shifted-GEMM algorithm (one OpenBLAS product per tap on the padded input): 1x1 and 3x3, with
    /// and without bias and skip, upsampled input, and maps larger than one block of positions so the
    /// copy-out splits rows across blocks.
    @Test func gemmMatchesNaive() {
        for (c, o, h, w, k) in [(3, 5, 7, 7, 3), (32, 9, 16, 16, 1), (17, 40, 21, 35, 3), (8, 520, 30, 41, 3), (24, 8, 5, 3, 1)] {
            check(c: c, o: o, h: h, w: w, k: k, skip: k == 3, bias: c != 17, algorithm: .gemm)
        }
        check(c: 16, o: 24, h: 20, w: 14, k: 3, upsample: true, skip: true, algorithm: .gemm)
        #expect(ConvGemm.blockPositions(outChannels: 520, total: 31 * 43) < 31 * 43, "the large case must span blocks")
    }

    @Test func groupNormMatchesNaive() {
        var rng = TestRandom(seed: 42)
        let c = 64, h = 9, w = 13, groups = 32, hw = h * w
        let x = rng.floats(c * hw, scale: 3).map { $0 + 0.7 }
        let gamma = rng.floats(c), beta = rng.floats(c)
        for swish in [false, true] {
            for padded in [false, true] {
                let y = ImageOps.groupNorm(FloatBuffer(x), channels: c, height: h, width: w, groups: groups, eps: 1e-6,
                                           gamma: gamma, beta: beta, swish: swish, padded: padded)
                let plane = padded ? ImageOps.paddedCount(channels: 1, height: h, width: w) : hw
                var worst = 0.0
                let per = c / groups
                for g in 0..<groups {
                    let vals = (g * per * hw..<(g + 1) * per * hw).map { Double(x[$0]) }
                    let mean = vals.reduce(0, +) / Double(vals.count)
                    let v = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
                    for ch in (g * per)..<((g + 1) * per) {
                        for p in 0..<hw {
                            var r = (Double(x[ch * hw + p]) - mean) / (v + 1e-6).squareRoot() * Double(gamma[ch]) + Double(beta[ch])
                            if swish { r = r / (1 + exp(-r)) }
                            let at = padded ? ch * plane + (p / w + 1) * (w + 2) + p % w + 1 : ch * hw + p
                            worst = max(worst, abs(Double(y[at]) - r))
                        }
                    }
                }
                #expect(worst < 2e-5, "groupNorm swish \(swish) padded \(padded): \(worst)")
                if padded {   // the border is zero
                    #expect(y[0] == 0 && y[w + 1] == 0 && y[(h + 1) * (w + 2)] == 0)
                }
            }
        }
    }
}

/// The hot paths must not run on a fallback: the kernels on less than the CPU supports (unless
/// ZK_ISA asks for it), or OpenBLAS on a pre-AVX2 core ("Prescott") on an AVX2 CPU.
@Suite struct RuntimeDetectionTests {
    @Test func kernelsUseTheBestInstructionSet() {
        guard ProcessInfo.processInfo.environment["ZK_ISA"] == nil else { return }
        let order = ["scalar": 0, "avx2": 1, "avx512": 2]
        #expect(order[KernelRuntime.dispatchedInstructionSet, default: 0] >= order[KernelRuntime.supportedInstructionSet, default: 0],
                "kernels run \(KernelRuntime.dispatchedInstructionSet) on a CPU with \(KernelRuntime.supportedInstructionSet)")
    }

    @Test func blasRunsAModernCore() {
        // An operator-pinned OPENBLAS_CORETYPE is respected by design (see blas_core.c): nothing to check then.
        let pinned = KernelRuntime.blasCoreFixedFrom == nil ? ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] : nil
        guard pinned == nil else { print("OPENBLAS_CORETYPE=\(pinned!) set by the environment: \(KernelRuntime.describe())"); return }
        #expect(KernelRuntime.blasCoreIsModern, "\(KernelRuntime.describe())")
        #expect(!KernelRuntime.blasCore.isEmpty)
        print(KernelRuntime.describe())
    }
}
