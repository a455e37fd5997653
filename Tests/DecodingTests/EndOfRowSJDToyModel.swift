import Foundation
import Testing
import JobCore
import Model
@testable import Decoding

/// A made-up text model on the end-of-row layout, driven straight through a `RequestDecoder` (no engine),
/// for the speculative Jacobi policies (issue #25). Its logits depend on a query's position, its input and
/// what the KV cache holds at the slot just before it, so the query that predicts x(i,0) (at EOL(i-1),
/// input EOL) really reads x(i-1,W-1): a window that forgot to write that draft, or wrote a stale one,
/// would draw from the wrong distribution. The cache is simulated as the engine runs a pass: every query
/// writes its slot first, then each reads the slots at or before its own that are filled and not hidden.
struct EndOfRowToyModel {
    let grid: Int
    let codebook: Int
    static let imageOffset = 20, eol = 5, suffix = [6, 7]
    static let prompt = [1, 12, 3, 4]   // [BOS] caption [SOI] [IMG]

    var layout: ImageLayout {
        ImageLayout(rows: grid, columns: grid, prefixLength: Self.prompt.count, imageTokenOffset: Self.imageOffset,
                    codebookSize: codebook, endOfRow: .init(token: Self.eol, suffix: Self.suffix))
    }

    var setup: DecodingSetup {
        DecodingSetup(layout: layout, cond: Self.prompt.map { .token($0) }, uncond: Self.prompt.map { .token($0) },
                      limits: .textModel(grid: grid))
    }

    /// Logits over the image codes; `previous` is the id at the slot before the query (nil: unfilled or hidden).
    func logits(position: Int, input: Int, previous: Int?) -> [Float] {
        let prev = previous ?? 1
        return (0..<codebook).map { v in
            Float(((v + 1) * (input + 2) * 7 + position * (v + 3) + (prev + 5) * (v + 2) * 3) % 11) * 0.35
        }
    }

    func probs(position: Int, input: Int, previous: Int?) -> [Float] {
        Sampler.probabilities(logits: logits(position: position, input: input, previous: previous), params: SamplingParams())
    }

    /// Exact probability of a grid under ntp: the query predicting token t sits just before it and reads the
    /// whole sequence before it (prompt, image ids, end-of-row tokens).
    func ntpProbability(_ codes: [Int]) -> Double {
        let sequence = Self.prompt + layout.imageSequence(codes: codes)
        var p = 1.0
        for t in 0..<codes.count {
            let q = layout.position(ofToken: t) - 1
            p *= Double(probs(position: q, input: sequence[q], previous: sequence[q - 1])[codes[t]])
        }
        return p
    }

    struct Run {
        var decoder: RequestDecoder
        var plans: [[PlannedQuery]]
        /// The cache at the end: position -> id last written there.
        var cache: [Int: Int]
        /// With `forcing`: the probability of the forced grid under the policy's own contexts.
        var probability: Double
    }

    /// Decodes one request. `forcing`: teacher-force these codes (every sampled query draws them for sure,
    /// the product of their probabilities is returned): the exact probability of a grid under a policy whose
    /// schedule does not depend on the tokens (ntp, zipar:S). `check`: the structural checks of `expectExact`.
    func decode(_ policy: String, seed: UInt64, forcing: [Int]? = nil, check: Bool = false) throws -> Run {
        var p = JobParameters(policy: try WindowPolicy(parsing: policy), seed: seed)
        p.prompt = "toy"
        let d = try RequestDecoder(request: GenerationRequest(id: "toy", parameters: p), setup: setup)
        var cache: [Int: Int] = [:]
        var plans: [[PlannedQuery]] = []
        var probability = 1.0
        while !d.isFinished {
            let plan = d.plan()
            precondition(!plan.isEmpty, "the decoder stalled")
            plans.append(plan)
            for q in plan { cache[q.position] = q.input.tokenValue! }
            if check { try expectExact(plan, d, cache) }
            let cond: [[Float]?] = plan.map { q in
                guard q.wantsLogits else { return nil }
                let hidden = q.hidden.contains { $0.contains(q.position - 1) }
                let l = logits(position: q.position, input: q.input.tokenValue!, previous: hidden ? nil : cache[q.position - 1])
                guard let forcing, case .decode(let t) = q.action else { return l }
                probability *= Double(Sampler.probabilities(logits: l, params: SamplingParams())[forcing[t]])
                return (0..<codebook).map { $0 == forcing[t] ? 1000 : 0 }
            }
            d.apply(plan, cond: cond, uncond: plan.map { _ in nil })
        }
        return Run(decoder: d, plans: plans, cache: cache, probability: probability)
    }

    struct Stale: Error, CustomStringConvertible {
        var position: Int, what: String
        var description: String { "position \(position): \(what)" }
    }

    /// No window query reads a guess it should not: every end-of-row slot before it holds EOL; in its own lane
    /// every image slot before it holds the final token or the draft this very pass writes there; in the rows
    /// above (zipar-sjd) final tokens are written and the other slots are hidden or unfilled. And an end-of-row
    /// position is only ever fed EOL, never a draft, never asked for a draft's logits.
    func expectExact(_ plan: [PlannedQuery], _ d: RequestDecoder, _ cache: [Int: Int]) throws {
        let W = grid, L = layout
        let rowLanes = d.jacobi?.rowLanes ?? false
        for q in plan {
            if case .endOfRow? = L.slot(at: q.position), q.input.tokenValue != Self.eol {
                throw Stale(position: q.position, what: "an end-of-row slot fed \(String(describing: q.input))")
            }
            if case .draftFeed(let t, _) = q.action, t % W != W - 1 || q.wantsLogits {
                throw Stale(position: q.position, what: "a draft write for token \(t), not a row's last")
            }
            guard case .jacobi(let t, _) = q.action else { continue }
            if q.position != L.position(ofToken: t) - 1 { throw Stale(position: q.position, what: "query for \(t) misplaced") }
            for r in 0..<(t / W) where cache[L.endOfRowPosition(row: r)!] != Self.eol {
                throw Stale(position: L.endOfRowPosition(row: r)!, what: "EOL(\(r)) not written")
            }
            let laneStart = rowLanes ? (t / W) * W : 0
            for u in 0..<t {
                let slot = L.position(ofToken: u)
                let fedNow = plan.first { $0.position == slot }?.input.tokenValue
                let final = d.tokens[u] >= 0 ? L.vocabularyID(code: d.tokens[u]) : nil
                if u >= laneStart {
                    // The lane: finals below the window, this pass's drafts inside it.
                    guard let expected = fedNow ?? final, cache[slot] == expected else {
                        throw Stale(position: slot, what: "lane slot of token \(u) for query \(t)")
                    }
                } else if let final {
                    // A row's newest last token is written by a `.feed` in this very pass at the latest.
                    if cache[slot] != final { throw Stale(position: slot, what: "final \(u) not written") }
                } else if cache[slot] != nil && !q.hidden.contains(where: { $0.contains(slot) }) {
                    throw Stale(position: slot, what: "a guess of token \(u) visible to \(t)")
                }
            }
        }
    }

    /// Every grid of the codebook (codebook^(grid^2) of them).
    var allGrids: [[Int]] {
        var out: [[Int]] = [[]]
        for _ in 0..<(grid * grid) { out = out.flatMap { g in (0..<codebook).map { g + [$0] } } }
        return out
    }
}
