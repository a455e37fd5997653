import Foundation
import Testing
@testable import Kernels

@Suite struct VectorOpsTests {
    @Test(arguments: [1, 7, 8, 64, 768, 1001])
    func rmsNormMatchesNaive(width: Int) {
        var rng = TestRandom(seed: UInt64(width))
        let rows = 3
        let xs = rng.floats(rows * width, scale: 3), ws = rng.floats(width)
        let y = FloatBuffer(count: rows * width)
        VectorOps.rmsNorm(FloatBuffer(xs), rows: rows, width: width, weight: FloatBuffer(ws), eps: 1e-5, into: y)
        var want = [Double]()
        for r in 0..<rows {
            let row = xs[(r * width)..<((r + 1) * width)].map(Double.init)
            let inv = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-5).squareRoot()
            for i in 0..<width { want.append(row[i] * inv * Double(ws[i])) }
        }
        #expect(worstError(y.array(), want, floor: 1e-3) < 1e-5)
    }

    @Test func rotateMatchesNaive() {
        var rng = TestRandom(seed: 3)
        let heads = 3, hd = 8, offset = 5
        let xs = rng.floats(offset + heads * hd)
        let table = rng.floats(2 + hd)      // table starts at offset 2
        let x = FloatBuffer(xs)
        VectorOps.rotate(x, offset: offset, heads: heads, headDim: hd, table: FloatBuffer(table), tableOffset: 2)
        var want = xs.map(Double.init)
        for h in 0..<heads {
            for m in 0..<(hd / 2) {
                let c = Double(table[2 + 2 * m]), s = Double(table[2 + 2 * m + 1])
                let i = offset + h * hd + 2 * m
                let a = Double(xs[i]), b = Double(xs[i + 1])
                want[i] = a * c - b * s
                want[i + 1] = b * c + a * s
            }
        }
        #expect(worstError(x.array(), want, floor: 1e-3) < 1e-6)
    }

    @Test(arguments: [1, 5, 8, 9, 100, 16384])
    func softmaxMatchesNaive(count: Int) {
        var rng = TestRandom(seed: UInt64(count) + 1)
        var xs = rng.floats(count, scale: 20)
        if count > 4 { xs[1] = -.infinity; xs[3] = -.infinity }
        let x = FloatBuffer(count: count + 2, value: 9)
        x.copy(from: xs, offset: 1)
        VectorOps.softmax(x, offset: 1, count: count)
        #expect(worstError(x.array(offset: 1, count: count), Naive.softmax(xs), floor: 1e-6) < 2e-5)
        #expect(x[0] == 9 && x[count + 1] == 9)
        #expect(abs(x.array(offset: 1, count: count).reduce(0, +) - 1) < 1e-4)
        if count > 4 { #expect(x[2] == 0 && x[4] == 0) }
    }

    @Test(arguments: [false, true]) func siluGateMatchesNaive(inPlace: Bool) {
        var rng = TestRandom(seed: 4)
        let rows = 3, n = 1003
        let a = rng.floats(rows * n, scale: 12), b = rng.floats(rows * n)
        // Rows as a stacked gate|up product lays them out: each row's gate values, then its up values.
        var values: [Float] = []
        for r in 0..<rows {
            values += a[r * n ..< (r + 1) * n]
            values += b[r * n ..< (r + 1) * n]
        }
        let stacked = FloatBuffer(values)
        let out = inPlace ? stacked : FloatBuffer(count: rows * n)
        VectorOps.siluGate(stacked, rows: rows, hidden: n, into: out)
        let want = (0..<rows * n).map { Double(a[$0]) / (1 + Foundation.exp(-Double(a[$0]))) * Double(b[$0]) }
        #expect(worstError(out.array(offset: 0, count: rows * n), want, floor: 1e-4) < 1e-5)
    }

    @Test func addIsElementwise() {
        let x = FloatBuffer([1, 2, 3, 4, 5, 6, 7, 8, 9])
        VectorOps.add(FloatBuffer([1, 1, 1, 1, 1, 1, 1, 1, 1]), into: x, count: 8)
        #expect(x.array() == [2, 3, 4, 5, 6, 7, 8, 9, 9])
    }

    @Test func vectorExpIsAccurate() {
        var xs: [Float] = stride(from: -87.0, through: 88.0, by: 0.173).map { Float($0) }
        xs += [0, -0, 1, -1, 1e-8, -1e-8]
        let y = FloatBuffer(count: xs.count)
        VectorOps.exp(FloatBuffer(xs), into: y, count: xs.count)
        let want = xs.map { Foundation.exp(Double($0)) }
        #expect(worstError(y.array(), want, floor: 1e-37) < 5e-7)
        let small = FloatBuffer([-.infinity, -100, -88, -1000, -.infinity, -90, -95, -200, -87.5])
        VectorOps.exp(small, into: small, count: small.count)
        #expect(small.array().allSatisfy { $0 == 0 })
    }
}

@Suite struct RuntimeTests {
    @Test func reportsThreadsAndInstructionSet() {
        #expect(KernelRuntime.threads >= 1)
        #expect(["avx512", "avx2", "scalar"].contains(KernelRuntime.instructionSet))
    }

    @Test func bandwidthProbeMeasuresSomething() {
        let bps = KernelRuntime.readBandwidth(megabytes: 16, repeats: 2)
        #expect(bps > 1e8)
    }

    /// The image ops run their sgemms split over the kernel threads (all three transpose cases).
    @Test func convAndPixelAttentionMatchNaive() {
        var rng = TestRandom(seed: 12)
        let c = 5, h = 6, w = 7, oc = 9, hw = h * w
        let x = rng.floats(c * hw), k3 = rng.floats(oc * c * 9), bias = rng.floats(oc)
        let y = ImageOps.conv2d(x, channels: c, height: h, width: w, weight: k3, bias: bias, outChannels: oc, kernel: 3)
        var want = [Double](repeating: 0, count: oc * hw)
        for o in 0..<oc { for oy in 0..<h { for ox in 0..<w {
            var s = Double(bias[o])
            for ch in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy + ky - 1, ix = ox + kx - 1
                if iy >= 0 && iy < h && ix >= 0 && ix < w { s += Double(k3[((o * c + ch) * 3 + ky) * 3 + kx]) * Double(x[ch * hw + iy * w + ix]) }
            } } }
            want[o * hw + oy * w + ox] = s
        } } }
        #expect(worstError(y, want, floor: 1) < 1e-5)   // sums of 45 products: absolute error

        let n = 70, ch = 6
        let q = rng.floats(ch * n), kk = rng.floats(ch * n), v = rng.floats(ch * n)
        let out = ImageOps.pixelAttention(q: q, k: kk, v: v, channels: ch, pixels: n)
        var wantA = [Double](repeating: 0, count: ch * n)
        for j in 0..<n {
            var scores = [Double](repeating: 0, count: n)
            for i in 0..<n { for cc in 0..<ch { scores[i] += Double(q[cc * n + j]) * Double(kk[cc * n + i]) } }
            let m = scores.max()!
            let e = scores.map { Foundation.exp(($0 - m) / Double(ch).squareRoot()) }
            let sum = e.reduce(0, +)
            for cc in 0..<ch { for i in 0..<n { wantA[cc * n + j] += e[i] / sum * Double(v[cc * n + i]) } }
        }
        #expect(worstError(out, wantA, floor: 1e-2) < 1e-5)
    }
}
