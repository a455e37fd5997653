import CKernels
import Testing
@testable import Kernels

/// Batched attention over KV caches against a naive softmax, masked and unmasked, f32 and f16.
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
        Case(heads: 12, kvHeads: 12, headDim: 64, last: 256),  // GPT-B, long enough to split over threads
        Case(heads: 16, kvHeads: 4, headDim: 64, last: 300),
    ]

    /// One sequence's data in the raster layout the naive reference reads: [position][kvHead][headDim].
    struct Sequence {
        var keys: [Float], values: [Float], filled: [Bool]?
    }

    static func sequence(_ c: Case, positions: Int, filled: [Bool]?, rng: inout TestRandom) -> Sequence {
        let stride = c.kvHeads * c.headDim
        var k = rng.floats(positions * stride), v = rng.floats(positions * stride)
        // Unfilled slots hold zeros, like the engine's fresh cache.
        if let filled {
            for p in 0..<positions where !filled[p] {
                for i in 0..<stride { k[p * stride + i] = 0; v[p * stride + i] = 0 }
            }
        }
        return Sequence(keys: k, values: v, filled: filled)
    }

    /// Stores a sequence in layer `layer` of a fresh cache (other layers stay zero).
    static func cache(_ c: Case, _ s: Sequence, positions: Int, layer: Int, storage: WeightStorage) -> KVCache {
        let cache = KVCache(layers: 2, kvHeads: c.kvHeads, headDim: c.headDim, positions: positions, storage: storage)
        let stride = c.kvHeads * c.headDim
        let k = FloatBuffer(s.keys), v = FloatBuffer(s.values)
        for p in 0..<positions where s.filled?[p] ?? true {
            cache.store(layer: layer, position: p, keys: k, keyOffset: p * stride, values: v, valueOffset: p * stride)
            cache.setFilled(p)
        }
        return cache
    }

    /// What an f16 cache holds: every value rounded to a half.
    static func rounded(_ s: Sequence) -> Sequence {
        func r(_ x: [Float]) -> [Float] { x.map { Float(Float16($0)) } }
        return Sequence(keys: r(s.keys), values: r(s.values), filled: s.filled)
    }

    /// Runs `count` queries, one per sequence (different lengths), in one batched call on layer 1.
    func run(_ c: Case, filled: [Bool]?, mask: Bool, seed: UInt64, storage: WeightStorage = .f32,
             count: Int = 3) -> [(got: [Float], want: [Double])] {
        var rng = TestRandom(seed: seed)
        let positions = c.last + 5
        let width = c.heads * c.headDim
        let lasts = (0..<count).map { max(0, c.last - 2 * $0) }
        let seqs = (0..<count).map { _ in Self.sequence(c, positions: positions, filled: filled, rng: &rng) }
        let caches = seqs.map { Self.cache(c, $0, positions: positions, layer: 1, storage: storage) }
        let queries = (0..<count).map { _ in rng.floats(width, scale: 2) }
        // q rows sit at an offset inside a wider row, like the engine's qkv scratch.
        let qStride = width + 9, qOffset = 7, outStride = width + 3
        let q = FloatBuffer(count: count * qStride + qOffset)
        for i in 0..<count { q.copy(from: queries[i], offset: i * qStride + qOffset) }
        let out = FloatBuffer(count: count * outStride, value: .nan)
        let attention = BatchedAttention(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                         positions: positions, maxQueries: 4)
        for i in 0..<count { attention.setQuery(i, cache: caches[i], last: lasts[i]) }
        attention.run(count: count, layer: 1, q: q, qStride: qStride, qOffset: qOffset, into: out,
                      outStride: outStride, maskUnfilled: mask)
        return (0..<count).map { i in
            let s = storage == .f16 ? Self.rounded(seqs[i]) : seqs[i]
            let want = Naive.attention(q: queries[i], keys: s.keys, values: s.values, last: lasts[i], filled: filled,
                                       mask: mask, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
            return (out.array(offset: i * outStride, count: width), want)
        }
    }

    static func flags(_ n: Int, seed: UInt64) -> [Bool] {
        var rng = TestRandom(seed: seed)
        var f = (0..<n).map { _ in rng.float() > -0.3 }
        f[0] = true
        return f
    }

    func worst(_ results: [(got: [Float], want: [Double])]) -> Double {
        results.map { worstError($0.got, $0.want, floor: 1e-3) }.max() ?? 0
    }

    @Test(arguments: cases) func allFilled(_ c: Case) {
        #expect(worst(run(c, filled: nil, mask: true, seed: 1)) < 1e-4)
    }

    @Test(arguments: cases) func maskedSkipsUnfilledSlots(_ c: Case) {
        #expect(worst(run(c, filled: Self.flags(c.last + 5, seed: 2), mask: true, seed: 3)) < 1e-4)
    }

    @Test(arguments: cases) func referenceModeScoresUnfilledSlotsAsZeros(_ c: Case) {
        let filled = Self.flags(c.last + 5, seed: 4)
        let r = run(c, filled: filled, mask: false, seed: 5, count: 1)
        #expect(worst(r) < 1e-4)
        if c.last > 3, filled.prefix(c.last + 1).contains(false) {
            // And it really differs from the masked result.
            let masked = run(c, filled: filled, mask: true, seed: 5, count: 1)
            #expect(worstError(masked[0].got, r[0].want, floor: 1e-3) > 1e-3)
        }
    }

    /// An f16 cache gives what exact attention over the half-rounded keys and values gives.
    @Test(arguments: cases) func halfCacheMatchesRoundedReference(_ c: Case) {
        #expect(worst(run(c, filled: Self.flags(c.last + 5, seed: 6), mask: true, seed: 7, storage: .f16)) < 1e-4)
    }

    @Test func nothingFilledGivesZeros() {
        let c = Case(heads: 2, kvHeads: 2, headDim: 8, last: 3)
        let r = run(c, filled: [Bool](repeating: false, count: 8), mask: true, seed: 6)
        #expect(r.allSatisfy { $0.got.allSatisfy { $0 == 0 } })
    }

    @Test(arguments: [WeightStorage.f32, .f16]) func scalarFallbackMatches(_ storage: WeightStorage) {
        let c = Case(heads: 4, kvHeads: 2, headDim: 40, last: 17)
        KernelRuntime.forceScalar(true)
        let r = run(c, filled: Self.flags(c.last + 5, seed: 8), mask: true, seed: 9, storage: storage)
        KernelRuntime.forceScalar(false)
        #expect(worst(r) < 1e-4)
    }

    /// The scalar float-to-half rounding matches Swift's Float16 (round to nearest even) everywhere:
    /// normals, ties, subnormals, overflow to infinity.
    @Test func halfRoundingMatchesFloat16() {
        var rng = TestRandom(seed: 11)
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, .infinity, -.infinity,
                               Float(bitPattern: 0x3380_0000), Float(bitPattern: 0x3300_0000), Float(bitPattern: 0x3300_0001),
                               6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9, 1.0009765625, 1.00048828125, 1.00146484375]
        for e in -30...17 {
            for _ in 0..<40 { values.append(rng.float() * Float(sign: .plus, exponent: e, significand: 1)) }
        }
        for v in values {
            #expect(zk_half_bits(v) == Float16(v).bitPattern, "\(v)")
        }
        #expect(zk_half_bits(.nan) & 0x7c00 == 0x7c00 && zk_half_bits(.nan) & 0x3ff != 0)
    }

    @Test func cacheKeepsLayersPositionsAndFlagsApart() {
        let cache = KVCache(layers: 3, kvHeads: 2, headDim: 4, positions: 5, storage: .f16)
        let k = FloatBuffer((0..<8).map { Float($0) + 0.5 }), v = FloatBuffer((0..<8).map { -Float($0) })
        cache.store(layer: 2, position: 3, keys: k, keyOffset: 0, values: v, valueOffset: 0)
        cache.setFilled(3)
        #expect(cache.value(layer: 2, position: 3, kvHead: 1, index: 2, key: true) == 6.5)
        #expect(cache.value(layer: 2, position: 3, kvHead: 1, index: 2, key: false) == -6)
        #expect(cache.value(layer: 1, position: 3, kvHead: 1, index: 2, key: true) == 0)
        #expect(cache.isFilled(3) && !cache.isFilled(2))
        #expect(cache.byteCount == 2 * 3 * 2 * 5 * 4 * 2)
        cache.reset()
        #expect(!cache.isFilled(3) && cache.value(layer: 2, position: 3, kvHead: 1, index: 2, key: true) == 0)
    }
}
