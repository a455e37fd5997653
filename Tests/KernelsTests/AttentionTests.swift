import Testing
@testable import Kernels

/// Attention over a raster-indexed KV cache against a naive softmax, masked and unmasked.
@Suite struct AttentionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var heads: Int, kvHeads: Int, headDim: Int, last: Int
        var testDescription: String { "h\(heads)/kv\(kvHeads) d\(headDim) last \(last)" }
    }
    static let cases = [
        Case(heads: 1, kvHeads: 1, headDim: 4, last: 0),
        Case(heads: 2, kvHeads: 1, headDim: 12, last: 5),      // GQA, tail lanes only
        Case(heads: 4, kvHeads: 2, headDim: 40, last: 17),     // 32-lane block + 8 lanes
        Case(heads: 3, kvHeads: 3, headDim: 66, last: 33),     // 64 + scalar tail
        Case(heads: 12, kvHeads: 12, headDim: 64, last: 256),  // GPT-B, long enough to split heads
        Case(heads: 16, kvHeads: 4, headDim: 64, last: 300),
    ]

    func run(_ c: Case, filled: [Bool]?, mask: Bool, seed: UInt64) -> (got: [Float], want: [Double]) {
        var rng = TestRandom(seed: seed)
        let positions = c.last + 5
        let stride = c.kvHeads * c.headDim
        let qv = rng.floats(c.heads * c.headDim, scale: 2)
        var kv = rng.floats(positions * stride), vv = rng.floats(positions * stride)
        // Unfilled slots hold zeros, like the engine's fresh cache.
        if let filled {
            for p in 0..<positions where p < filled.count && !filled[p] {
                for i in 0..<stride { kv[p * stride + i] = 0; vv[p * stride + i] = 0 }
            }
        }
        let attention = CachedAttention(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, maxPositions: positions)
        let out = FloatBuffer(count: c.heads * c.headDim + 3, value: .nan)
        // q sits at an offset inside a bigger buffer, like one row of the engine's qkv scratch.
        let q = FloatBuffer(count: 7 + qv.count)
        q.copy(from: qv, offset: 7)
        attention.run(q: q, qOffset: 7, keys: FloatBuffer(kv), values: FloatBuffer(vv), last: c.last,
                      filled: filled, maskUnfilled: mask, into: out, outOffset: 3)
        let want = Naive.attention(q: qv, keys: kv, values: vv, last: c.last, filled: filled, mask: mask,
                                   heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
        return (out.array(offset: 3), want)
    }

    static func flags(_ n: Int, seed: UInt64) -> [Bool] {
        var rng = TestRandom(seed: seed)
        var f = (0..<n).map { _ in rng.float() > -0.3 }
        f[0] = true
        return f
    }

    @Test(arguments: cases) func allFilled(_ c: Case) {
        let r = run(c, filled: nil, mask: true, seed: 1)
        #expect(worstError(r.got, r.want, floor: 1e-3) < 1e-4)
    }

    @Test(arguments: cases) func maskedSkipsUnfilledSlots(_ c: Case) {
        let r = run(c, filled: Self.flags(c.last + 5, seed: 2), mask: true, seed: 3)
        #expect(worstError(r.got, r.want, floor: 1e-3) < 1e-4)
    }

    @Test(arguments: cases) func referenceModeScoresUnfilledSlotsAsZeros(_ c: Case) {
        let filled = Self.flags(c.last + 5, seed: 4)
        let r = run(c, filled: filled, mask: false, seed: 5)
        #expect(worstError(r.got, r.want, floor: 1e-3) < 1e-4)
        if c.last > 3, filled.prefix(c.last + 1).contains(false) {
            // And it really differs from the masked result.
            let masked = run(c, filled: filled, mask: true, seed: 5)
            #expect(worstError(masked.got, r.want, floor: 1e-3) > 1e-3)
        }
    }

    @Test func nothingFilledGivesZeros() {
        let c = Case(heads: 2, kvHeads: 2, headDim: 8, last: 3)
        let r = run(c, filled: [false, false, false, false, false, false, false, false, false], mask: true, seed: 6)
        #expect(r.got.allSatisfy { $0 == 0 })
    }

    @Test func scalarFallbackMatches() {
        // Scalar and vector paths give the same answers (checked under the same bound).
        let c = Case(heads: 4, kvHeads: 2, headDim: 40, last: 17)
        KernelRuntime.forceScalar(true)
        let r = run(c, filled: Self.flags(c.last + 5, seed: 8), mask: true, seed: 9)
        KernelRuntime.forceScalar(false)
        #expect(worstError(r.got, r.want, floor: 1e-3) < 1e-4)
    }
}
