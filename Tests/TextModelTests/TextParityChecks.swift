import Foundation
import Kernels
import Model
import Testing
@testable import TextModel

/// The parity checks both families run against their fixture (tools/fixtures/make_text_model_fixtures.py).
struct TextParityChecks {
    /// f32 Swift against f32 PyTorch: same math, different summation order (measured: under 2e-6,
    /// logits of magnitude up to 2.4).
    static let tolerance: Float = 2e-5

    let folder: String
    let model: TextTransformer
    let reference: TextModelFixtures.Reference
    /// nil: the engine's default (like the weights: f16 weights get f16 caches, which round K and V).
    let cacheStorage: WeightStorage?

    init(folder: String, directory: String? = nil, storage: WeightStorage? = nil, cacheStorage: WeightStorage? = nil) throws {
        self.folder = folder
        self.cacheStorage = cacheStorage
        model = try TextTransformer(directory: directory ?? TextModelFixtures.path(folder), storage: storage)
        reference = try TextModelFixtures.reference(folder)
    }

    func engine(maxQueries: Int = 32) -> DecoderEngine {
        model.engine(maxQueries: maxQueries, maxSequences: 3, cacheStorage: cacheStorage)
    }

    /// Every position in one pass (a prompt prefill) against the reference. Returns max |error|.
    @discardableResult
    func prefillMatches(label: String = "prefill") throws -> Float {
        let got = try engine().prefillLogits(tokens: reference.tokens)
        let err = TextModelFixtures.maxAbsDiff(got, reference.logits)
        print("\(folder) \(label): max |logit error| = \(err) over \(got.count) positions x \(got.first?.count ?? 0)")
        #expect(err <= Self.tolerance, "\(folder) \(label): max |logit error| \(err)")
        return err
    }

    /// One token per pass through the KV cache: the reference, and the one-pass prefill up to rounding.
    func incrementalMatches() throws {
        let e = engine()
        let stepwise = try e.prefillLogits(tokens: reference.tokens, chunk: 1)
        let oneShot = try e.prefillLogits(tokens: reference.tokens)
        let err = TextModelFixtures.maxAbsDiff(stepwise, reference.logits)
        let drift = TextModelFixtures.maxAbsDiff(stepwise, oneShot)
        print("\(folder) one token per pass: max |logit error| = \(err), vs one-pass prefill \(drift)")
        #expect(err <= Self.tolerance)
        #expect(drift <= 1e-5)
    }

    /// ZipAR-like slot filling: the later half of the sequence is written first (without logits: it sees
    /// an incomplete prefix), then the first half in one shuffled pass next to another sequence's queries,
    /// then the later half is written again in shuffled passes. Attention is causal by position, not by
    /// the order slots were filled, so every logit must still match the sequential reference.
    func outOfOrderMatches() throws {
        let e = engine()
        let tokens = reference.tokens, n = tokens.count, split = n / 2
        let seq = try e.openSequence(), other = try e.openSequence()
        defer { e.closeSequence(seq); e.closeSequence(other) }
        var got = [[Float]?](repeating: nil, count: n)
        func run(_ positions: [Int], wantsLogits: Bool, otherPositions: [Int] = []) {
            var queries = positions.map { DecoderQuery(sequence: seq, position: $0, input: .token(tokens[$0]), wantsLogits: wantsLogits) }
            // The other sequence's queries interleave with ours; its logits are not checked, its slots must not leak.
            for (k, p) in otherPositions.enumerated() {
                queries.insert(DecoderQuery(sequence: other, position: p, input: .token(tokens[n - 1 - p]), wantsLogits: true),
                               at: min(2 * k + 1, queries.count))
            }
            let logits = e.forward(queries)
            for i in 0..<logits.count where queries[logits.queryRows[i]].sequence == seq {
                got[queries[logits.queryRows[i]].position] = logits.row(i)
            }
        }
        run(Array((split..<n).reversed()), wantsLogits: false)
        #expect(e.isFilled(seq, position: n - 1) && !e.isFilled(seq, position: 0))
        var firstHalf = Array(0..<split)
        firstHalf.swapAt(0, split - 1)
        firstHalf.swapAt(1, split / 2)
        run(firstHalf, wantsLogits: true, otherPositions: [2, 0, 1])
        let laterHalf = Array(split..<n)
        run(Array(laterHalf.prefix(3).reversed()), wantsLogits: true)
        var generator = FixedShuffle()
        run(Array(laterHalf.dropFirst(3).shuffled(using: &generator)), wantsLogits: true)
        let rows = got.compactMap { $0 }
        #expect(rows.count == n)
        let err = TextModelFixtures.maxAbsDiff(rows, reference.logits)
        print("\(folder) out-of-order passes: max |logit error| = \(err)")
        #expect(err <= Self.tolerance)
    }
}

/// A deterministic shuffle for the out-of-order test (xorshift64).
struct FixedShuffle: RandomNumberGenerator {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}
