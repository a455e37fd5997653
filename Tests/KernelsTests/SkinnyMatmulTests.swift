import Testing
@testable import Kernels

/// The skinny product against a naive triple loop: every row count 1...17, odd shapes that hit
/// every tile remainder (outputs not a multiple of 4, inputs not a multiple of 8), every path.
@Suite(.serialized) struct SkinnyMatmulTests {
    static let shapes: [(out: Int, inF: Int)] = [(1, 1), (3, 7), (5, 8), (13, 29), (37, 100), (64, 768), (130, 67), (257, 264)]

    func check(storage: WeightStorage, path: MatmulPath, rowsList: [Int] = Array(1...17), shapes: [(out: Int, inF: Int)] = shapes) {
        var rng = TestRandom(seed: 42)
        for (out, inF) in shapes {
            let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: rng.floats(out * inF, scale: 0.05), storage: storage)
            for rows in rowsList {
                let xs = rng.floats(rows * inF)
                let x = FloatBuffer(xs)
                let y = FloatBuffer(count: rows * out, value: .nan)
                w.apply(x, rows: rows, into: y, path: path)
                // The reference uses the stored weights (f16-rounded for .f16, the dequantized
                // q * scale for .int8) and, for .int8, the query rows rounded per group as the
                // product rounds them: kernel error only.
                let xr = storage == .int8 ? SkinnyMatmul.int8RoundedActivations(xs, rows: rows, inF: inF) : xs
                let ref = Naive.matmul(x: xr, rows: rows, w: w.value(row:column:), out: out, inF: inF)
                let err = worstError(y.array(), ref.y, scale: ref.scale, floor: 1e-12)
                #expect(err < 1e-5, "\(storage) \(path) rows \(rows) shape \(out)x\(inF): relative error \(err)")
            }
        }
    }

    @Test func f32KernelMatchesNaive() { check(storage: .f32, path: .kernel) }
    @Test func f16KernelMatchesNaive() { check(storage: .f16, path: .kernel) }
    @Test func int8KernelMatchesNaive() { check(storage: .int8, path: .kernel) }
    @Test func int8KernelMatchesNaiveAcrossGroupTails() {
        // Inputs around the 32-weight groups: one short group, whole groups, a group plus a ragged tail.
        check(storage: .int8, path: .kernel, rowsList: [1, 2, 3, 4, 5, 9],
              shapes: [(9, 31), (9, 32), (9, 33), (7, 40), (6, 63), (5, 64), (11, 65), (4, 96), (10, 97), (12, 520)])
    }
    @Test func f32BlasMatchesNaive() { check(storage: .f32, path: .blas) }
    @Test func int8BlasMatchesNaive() { check(storage: .int8, path: .blas, rowsList: [1, 2, 7, 16]) }
    @Test func f16BlasMatchesNaive() { check(storage: .f16, path: .blas) }
    @Test func automaticMatchesNaiveAtLargeBatches() {
        check(storage: .f32, path: .automatic, rowsList: [1, 8, 33, 64], shapes: [(37, 100), (260, 72)])
        check(storage: .f16, path: .automatic, rowsList: [1, 8, 33, 64], shapes: [(37, 100), (260, 72)])
        check(storage: .int8, path: .automatic, rowsList: [1, 8, 33, 64], shapes: [(37, 100), (260, 72)])
    }

    /// A row's result is bit-for-bit the same whatever else is in the call: alone, or at any place
    /// among up to 17 rows, at any thread count. The decoder relies on it: an image must not depend on
    /// which other requests shared its passes (a ZipAR pass of a busy worker has many rows).
    @Test func aRowsResultDoesNotDependOnTheOtherRows() {
        var rng = TestRandom(seed: 11)
        let saved = KernelRuntime.threads
        defer { KernelRuntime.threads = saved }
        for storage in [WeightStorage.f32, .f16, .int8] {
            for (out, inF) in [(37, 100), (260, 264), (1029, 96)] {
                let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: rng.floats(out * inF, scale: 0.05), storage: storage)
                let xs = rng.floats(17 * inF)
                KernelRuntime.threads = 1
                var alone: [[Float]] = []
                for r in 0..<17 {
                    let y = FloatBuffer(count: out, value: .nan)
                    w.apply(FloatBuffer(Array(xs[(r * inF)..<((r + 1) * inF)])), rows: 1, into: y, path: .kernel)
                    alone.append(y.array())
                }
                for threads in [1, 2, 3] {
                    KernelRuntime.threads = threads
                    for rows in [2, 3, 4, 5, 8, 9, 16, 17] {
                        let y = FloatBuffer(count: rows * out, value: .nan)
                        w.apply(FloatBuffer(Array(xs[0..<(rows * inF)])), rows: rows, into: y, path: .kernel)
                        let got = y.array()
                        for r in 0..<rows {
                            let same = Array(got[(r * out)..<((r + 1) * out)]).elementsEqual(alone[r]) { $0.bitPattern == $1.bitPattern }
                            #expect(same, "\(storage) \(out)x\(inF): row \(r) of \(rows) (\(threads) threads) differs from the row alone")
                        }
                    }
                }
            }
        }
    }

    /// One query row runs in tiles of 1 or 2 rows or the general tile's height, whichever one_query_plan.c
    /// timed fastest here: every output the same bits at each height, every storage, ragged shapes.
    @Test func oneQueryTileHeightsGiveTheSameBits() {
        var rng = TestRandom(seed: 9)
        for storage in [WeightStorage.f32, .f16, .int8] {
            let saved = KernelRuntime.swapOneQueryHeight(storage, 0)
            defer { KernelRuntime.swapOneQueryHeight(storage, saved) }
            for (out, inF) in [(37, 100), (260, 264), (13, 784), (50, 2051), (1029, 96)] {
                let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: rng.floats(out * inF, scale: 0.05), storage: storage)
                let x = FloatBuffer(rng.floats(inF))
                var ys: [[Float]] = []
                for height in [0, 1, 2] {
                    KernelRuntime.swapOneQueryHeight(storage, height)
                    let y = FloatBuffer(count: out, value: .nan)
                    w.apply(x, rows: 1, into: y, path: .kernel)
                    ys.append(y.array())
                }
                for h in 1...2 {
                    let same = ys[h].elementsEqual(ys[0]) { $0.bitPattern == $1.bitPattern }
                    #expect(same, "\(storage) \(out)x\(inF): \(h)-row tiles differ from the general tile's")
                }
            }
        }
    }

    /// AVX-VNNI's int8 products (vpdpbusd) sum the same exact products as plain AVX2's (vpmaddubsw +
    /// vpmaddwd): every output bit for bit, one query (its own loop) and several, ragged group tails.
    /// Runs where the kernels dispatch to AVX2 on a CPU with AVX-VNNI (scripts/test.sh runs the kernel
    /// tests at ZK_ISA=avx2 and avx2-vnni on such machines).
    @Test(.enabled(if: KernelRuntime.dispatchedInstructionSet == "avx2" && KernelRuntime.supportsAVXVNNI))
    func avxVNNIInt8ProductsEqualPlainAVX2s() {
        var rng = TestRandom(seed: 5)
        let saved = KernelRuntime.setAVXVNNI(true)
        defer { KernelRuntime.setAVXVNNI(saved) }
        for (out, inF) in [(37, 100), (260, 264), (13, 784), (50, 2051), (9, 31)] {
            let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: rng.floats(out * inF, scale: 0.05), storage: .int8)
            for rows in [1, 2, 3, 5, 8, 17] {
                let x = FloatBuffer(rng.floats(rows * inF))
                var ys: [[Float]] = []
                for vnni in [false, true] {
                    KernelRuntime.setAVXVNNI(vnni)
                    let y = FloatBuffer(count: rows * out, value: .nan)
                    w.apply(x, rows: rows, into: y, path: .kernel)
                    ys.append(y.array())
                }
                #expect(KernelRuntime.int8Kernel == "avx2-vnni")
                let same = ys[0].elementsEqual(ys[1]) { $0.bitPattern == $1.bitPattern }
                #expect(same, "\(out)x\(inF), \(rows) rows: AVX-VNNI and plain AVX2 differ")
            }
        }
    }

    @Test func scalarFallbackMatchesNaive() {
        KernelRuntime.forceScalar(true)
        defer { KernelRuntime.forceScalar(false) }
        #expect(KernelRuntime.instructionSet == "scalar")
        check(storage: .f32, path: .kernel, rowsList: [1, 2, 5, 9], shapes: [(13, 29), (64, 768)])
        check(storage: .f16, path: .kernel, rowsList: [1, 2, 5, 9], shapes: [(13, 29), (64, 768)])
        check(storage: .int8, path: .kernel, rowsList: [1, 2, 5, 9], shapes: [(13, 29), (9, 33), (64, 768)])
    }

    @Test(arguments: [1, 2, 3])
    func anyThreadCountGivesTheSameResult(threads: Int) {
        let saved = KernelRuntime.threads
        KernelRuntime.threads = threads
        defer { KernelRuntime.threads = saved }
        check(storage: .f32, path: .kernel, rowsList: [1, 7, 16], shapes: [(1029, 96)])
        check(storage: .f16, path: .kernel, rowsList: [1, 7, 16], shapes: [(1029, 96)])
        check(storage: .int8, path: .kernel, rowsList: [1, 7, 16], shapes: [(1029, 96)])
    }

    @Test func offsetsReadAndWriteTheRightRows() {
        var rng = TestRandom(seed: 7)
        let out = 11, inF = 19, rows = 3
        let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: rng.floats(out * inF))
        let xs = rng.floats((rows + 2) * inF)
        let x = FloatBuffer(xs)
        let y = FloatBuffer(count: (rows + 3) * out, value: 123)
        w.apply(x, rows: rows, into: y, xOffset: 2 * inF, yOffset: out)
        let ref = Naive.matmul(x: Array(xs[(2 * inF)...]), rows: rows, w: w.value(row:column:), out: out, inF: inF)
        #expect(worstError(y.array(offset: out, count: rows * out), ref.y, scale: ref.scale) < 1e-5)
        #expect(y.array(offset: 0, count: out).allSatisfy { $0 == 123 })
        #expect(y.array(offset: (rows + 1) * out).allSatisfy { $0 == 123 })
    }

    /// f16 storage against the exact f32 weights: one rounding of each weight (2^-11 relative),
    /// so the error stays below 2^-11 of sum |x w|.
    @Test func f16StorageStaysWithinHalfPrecisionOfF32() {
        var rng = TestRandom(seed: 9)
        let out = 96, inF = 768, rows = 8
        let values = rng.floats(out * inF, scale: 0.05)
        let exact = WeightMatrix(outFeatures: out, inFeatures: inF, values: values, storage: .f32)
        let half = WeightMatrix(outFeatures: out, inFeatures: inF, values: values, storage: .f16)
        let xs = rng.floats(rows * inF)
        let y = FloatBuffer(count: rows * out)
        half.apply(FloatBuffer(xs), rows: rows, into: y)
        let ref = Naive.matmul(x: xs, rows: rows, w: exact.value(row:column:), out: out, inF: inF)
        let err = worstError(y.array(), ref.y, scale: ref.scale, floor: 1e-12)
        #expect(err < 1.0 / 2048, "f16 relative error \(err)")
        #expect(half.byteCount * 2 == exact.byteCount)
    }

    /// The quantization itself: per row, groups of 32 with scale max|w| / 127, values rounded to nearest,
    /// so every dequantized weight is within half a step (scale / 2) of the exact one, the group's
    /// largest weight comes back (to f32 rounding), and an all-zero group stays zero.
    @Test func int8QuantizationRoundsToNearestPerGroup() {
        var rng = TestRandom(seed: 13)
        let out = 5, inF = 75   // groups of 32, 32 and 11
        var values = rng.floats(out * inF, scale: 0.05)
        for k in 32..<64 { values[2 * inF + k] = 0 }     // row 2, group 1: all zero
        values[3 * inF + 70] = 3                           // an outlier only widens its own group
        let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: values, storage: .int8)
        #expect(w.groupsPerRow == 3)
        #expect(w.byteCount == out * inF + out * 3 * 4)
        for o in 0..<out {
            for g in 0..<3 {
                let ks = (g * 32)..<min(g * 32 + 32, inF)
                let m = ks.map { abs(values[o * inF + $0]) }.max()!
                let scale = m / 127
                for k in ks {
                    let exact = values[o * inF + k], got = w.value(row: o, column: k)
                    #expect(abs(got - exact) <= scale * 0.5 * (1 + 1e-5) + 1e-12, "row \(o) col \(k): \(got) vs \(exact)")
                    if abs(exact) == m { #expect(abs(got - exact) <= m * 1e-6) }
                }
            }
        }
        #expect((32..<64).allSatisfy { w.value(row: 2, column: $0) == 0 })
        // The outlier's neighbours in other groups keep their fine steps.
        #expect(abs(w.value(row: 3, column: 10) - values[3 * inF + 10]) <= 0.05 / 127 * 0.5 * 1.001)
    }

    /// int8 storage against the exact f32 weights and activations. Each weight is off by at most half
    /// its group's step (max|w_group| / 254), each activation by half of its own group's step
    /// (max|x_group| / 254), so every output is within sum_k (|x_k| step_w(k) + |w'_k| step_x(k)) / 2 of
    /// the exact product (checked per output below; w' the stored weight). The errors are independent
    /// and mostly cancel: relative to sum |x w| the worst output measured 1.0e-3 here (uniform values);
    /// asserted below 3e-3.
    @Test func int8StorageStaysWithinQuantizationErrorOfF32() {
        var rng = TestRandom(seed: 9)
        let out = 96, inF = 768, rows = 8
        let values = rng.floats(out * inF, scale: 0.05)
        let exact = WeightMatrix(outFeatures: out, inFeatures: inF, values: values, storage: .f32)
        let q = WeightMatrix(outFeatures: out, inFeatures: inF, values: values, storage: .int8)
        let xs = rng.floats(rows * inF)
        let y = FloatBuffer(count: rows * out)
        q.apply(FloatBuffer(xs), rows: rows, into: y)
        let ref = Naive.matmul(x: xs, rows: rows, w: exact.value(row:column:), out: out, inF: inF)
        let err = worstError(y.array(), ref.y, scale: ref.scale, floor: 1e-12)
        print("int8 storage: worst error relative to sum |x w| = \(err)")
        #expect(err < 3e-3, "int8 relative error \(err)")
        func groupMaxima(_ a: [Float], _ n: Int) -> [Double] {   // max |a| of every group of 32 of n rows
            (0..<(n * inF / 32)).map { i in Double(a[(i * 32)..<(i * 32 + 32)].map { abs($0) }.max()!) }
        }
        let wMax = groupMaxima(values, out), xMax = groupMaxima(xs, rows)
        let ya = y.array()
        for r in 0..<rows {
            for o in 0..<out {
                var bound = 0.0
                for k in 0..<inF {
                    bound += Double(abs(xs[r * inF + k])) * wMax[(o * inF + k) / 32] / 254
                    bound += Double(abs(q.value(row: o, column: k))) * xMax[(r * inF + k) / 32] / 254
                }
                #expect(abs(Double(ya[r * out + o]) - ref.y[r * out + o]) <= bound * 1.0001 + 1e-6)
            }
        }
        #expect(q.byteCount * 32 == exact.byteCount * 9)   // 1.125 bytes a weight against 4
    }

    /// The query side of an int8 product: per row, groups of 32 rounded to max|x| / 127 steps (an
    /// outlier coarsens only its own group), and a NaN or infinity reaches the outputs instead of
    /// vanishing into a zero quantized value.
    @Test func int8ActivationsAreRoundedPerGroupAndNonFiniteValuesPropagate() {
        var rng = TestRandom(seed: 21)
        let inF = 70
        var xs = rng.floats(2 * inF)
        xs[40] = 50                                         // row 0, group 1
        let r = SkinnyMatmul.int8RoundedActivations(xs, rows: 2, inF: inF)
        for row in 0..<2 {
            for k in 0..<inF {
                let g = k / 32, ks = (g * 32)..<min(g * 32 + 32, inF)
                let step = ks.map { abs(xs[row * inF + $0]) }.max()! / 127
                #expect(abs(r[row * inF + k] - xs[row * inF + k]) <= step * 0.5 * 1.0001 + 1e-12)
            }
        }
        #expect(abs(r[3] - xs[3]) <= 1.0 / 254 * 1.0001)     // group 0 keeps its fine step
        let w = WeightMatrix(outFeatures: 3, inFeatures: inF, values: rng.floats(3 * inF), storage: .int8)
        for bad in [Float.nan, .infinity] {
            var x = rng.floats(inF)
            x[33] = bad
            let y = FloatBuffer(count: 3, value: 0)
            w.apply(FloatBuffer(x), rows: 1, into: y, path: .kernel)
            #expect(y.array().allSatisfy { !$0.isFinite }, "\(bad) in the input must not give finite outputs")
        }
    }

    /// The vector quantizer (whole groups) and the scalar one (short groups, `ZK_ISA=scalar`) give the same
    /// bytes: the scalar path's results must not drift from the vector path's by more than the tiles' sums.
    @Test func int8ActivationQuantizerIsTheSameScalarAndVector() {
        var rng = TestRandom(seed: 23)
        let rows = 3, inF = 200
        var xs = rng.floats(rows * inF)
        xs[7] = 0.5; xs[8] = -0.5; xs[40] = 1e-30                // halves and a tiny value
        for k in 64..<96 { xs[inF + k] = 0 }                      // an all-zero group
        let vector = SkinnyMatmul.int8RoundedActivations(xs, rows: rows, inF: inF)
        KernelRuntime.forceScalar(true)
        let scalar = SkinnyMatmul.int8RoundedActivations(xs, rows: rows, inF: inF)
        KernelRuntime.forceScalar(false)
        #expect(vector.elementsEqual(scalar) { $0.bitPattern == $1.bitPattern })
        #expect((64..<96).allSatisfy { vector[inF + $0] == 0 })
    }

    @Test func concurrentCallersAllGetCorrectResults() async {
        var rng = TestRandom(seed: 11)
        let out = 517, inF = 133
        let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: rng.floats(out * inF))
        let inputs = (0..<8).map { _ in rng.floats(4 * inF) }
        let errors = await withTaskGroup(of: Double.self) { group in
            for xs in inputs {
                group.addTask {
                    let y = FloatBuffer(count: 4 * out)
                    var worst = 0.0
                    let ref = Naive.matmul(x: xs, rows: 4, w: w.value(row:column:), out: out, inF: inF)
                    for _ in 0..<20 {
                        w.apply(FloatBuffer(xs), rows: 4, into: y)
                        worst = max(worst, worstError(y.array(), ref.y, scale: ref.scale, floor: 1e-12))
                    }
                    return worst
                }
            }
            return await group.reduce(0) { max($0, $1) }
        }
        #expect(errors < 1e-5)
    }

    @Test func zeroRowsDoNothing() {
        let w = WeightMatrix(outFeatures: 4, inFeatures: 4, values: [Float](repeating: 1, count: 16))
        let y = FloatBuffer(count: 4, value: 5)
        w.apply(FloatBuffer(count: 4), rows: 0, into: y)
        #expect(y.array() == [5, 5, 5, 5])
    }
}
