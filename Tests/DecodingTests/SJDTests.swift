import Foundation
import Testing
import JobCore
import Model
@testable import Decoding

/// Speculative Jacobi decoding: `sjd:K` and `zipar-sjd:S,K` (docs/decoding.md).
@Suite struct SJDAcceptanceTests {
    @Test func acceptanceIsMinOfOneAndTheRatio() {
        let old: [Float] = [0.5, 0.25, 0.25, 0]
        let new: [Float] = [0.25, 0.5, 0.125, 0.125]
        #expect(Sampler.acceptance(draft: 0, proposal: old, target: new) == 0.5)
        #expect(Sampler.acceptance(draft: 1, proposal: old, target: new) == 1)
        #expect(Sampler.acceptance(draft: 2, proposal: old, target: new) == 0.5)
        // max(0, new - old) = [0, 0.25, 0, 0.125] -> [0, 2/3, 0, 1/3]
        let r = Sampler.residual(proposal: old, target: new)
        #expect(abs(r[1] - 2 / 3) < 1e-6 && abs(r[3] - 1 / 3) < 1e-6 && r[0] == 0 && r[2] == 0)
    }

    /// A draft from `old` that is accepted or resampled, over many seeds, is distributed as `new`: the rule
    /// keeps the output exact whatever the proposal (the fresh-draft proposal of a window included).
    static let pairs: [(old: [Float], new: [Float])] = [
        ([0.7, 0.2, 0.1, 0], [0.1, 0.2, 0.3, 0.4]),
        ([0.25, 0.25, 0.25, 0.25], [0.6, 0.0, 0.3, 0.1]),   // a uniform proposal
        ([0, 0, 1, 0], [0.05, 0.05, 0.8, 0.1]),             // a one-hot proposal (a greedy neighbour)
    ]

    @Test(arguments: 0..<3)
    func acceptedOrResampledTokenFollowsTheTarget(pair: Int) {
        let (old, new) = Self.pairs[pair]
        var counts = [Int](repeating: 0, count: new.count)
        var accepted = 0
        let n = 40_000
        for seed in 0..<UInt64(n) {
            let x = Sampler.draw(old, uniform: CounterRNG.uniform(seed: seed, token: 7, purpose: .draft, round: 2))
            let v = Sampler.verify(draft: x, proposal: old, target: new,
                                   acceptUniform: CounterRNG.uniform(seed: seed, token: 7, purpose: .accept, round: 2),
                                   resampleUniform: CounterRNG.uniform(seed: seed, token: 7, purpose: .resample, round: 2))
            counts[v.token] += 1
            if v.accepted { accepted += 1 }
        }
        for i in new.indices { #expect(abs(Double(counts[i]) / Double(n) - Double(new[i])) < 0.01) }
        // Acceptance rate is 1 - total variation(old, new).
        let tv = zip(old, new).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / 2
        #expect(abs(Double(accepted) / Double(n) - (1 - tv)) < 0.01)
    }

    @Test func policiesParseAndValidate() throws {
        #expect(try WindowPolicy(parsing: "sjd:4") == .sjd(jacobiWindow: 4))
        #expect(try WindowPolicy(parsing: "ZipAR-SJD:8,4") == .ziparSJD(window: 8, jacobiWindow: 4))
        #expect(try WindowPolicy(parsing: "zipar-sjd:8/4") == .ziparSJD(window: 8, jacobiWindow: 4))
        #expect(WindowPolicy.ziparSJD(window: 8, jacobiWindow: 4).description == "zipar-sjd:8,4")
        #expect(WindowPolicy.sjd(jacobiWindow: 2).description == "sjd:2")
        for bad in ["sjd", "sjd:0", "sjd:x", "zipar-sjd:8", "zipar-sjd:0,4", "zipar-sjd:8,0", "zipar-sjd:8,4,2", "zipar-sjd:8,"] {
            #expect(throws: PolicyError.self) { try WindowPolicy(parsing: bad) }
        }
        #expect(try WindowPolicy(parsing: " zipar-sjd:4,2 ").description == "zipar-sjd:4,2")
        #expect(throws: PolicyError.self) { try WindowPolicy(parsing: "sjd:4+official") }
        let limits = ModelLimits(grid: 16, numClasses: 10, supportsGuidance: true)
        try JobParameters(policy: .sjd(jacobiWindow: 16)).validate(for: limits)
        try JobParameters(policy: .ziparSJD(window: 16, jacobiWindow: 1)).validate(for: limits)
        for bad: WindowPolicy in [.sjd(jacobiWindow: 17), .sjd(jacobiWindow: 0), .ziparSJD(window: 17, jacobiWindow: 2),
                                  .ziparSJD(window: 4, jacobiWindow: 17)] {
            #expect(throws: ParameterError.self) { try JobParameters(policy: bad).validate(for: limits) }
        }
        // The key table reads and writes the new policies like the others.
        let p = try JobParameters(values: ["policy": .text("zipar-sjd:6,3")])
        #expect(p.policy == .ziparSJD(window: 6, jacobiWindow: 3) && p.policyText == "zipar-sjd:6,3")
        #expect(JobParameters.field(key: "policy")!.help.contains("zipar-sjd:S,K"))
    }
}

/// A RequestDecoder driven by a made-up model (no engine): logits are a function of the query's position
/// and input token only, which is enough to know the exact joint distribution of an ntp decode.
struct ToyModel {
    let vocab: Int
    let grid: Int
    func logits(position: Int, input: DecoderQuery.Input) -> [Float] {
        let x: Int
        switch input {
        case .classLabel: x = vocab
        case .token(let t): x = t
        }
        return (0..<vocab).map { v in Float(((v + 1) * (x + 2) * 7 + position * (v + 3)) % 11) * 0.35 }
    }
    func probs(position: Int, input: DecoderQuery.Input) -> [Float] {
        Sampler.probabilities(logits: logits(position: position, input: input), params: SamplingParams())
    }

    var config: GPTConfig { GPTConfig(dim: 16, nLayer: 1, nHead: 1, vocabSize: vocab, numClasses: 2, grid: grid) }

    /// Decodes one request, checking on the way that no query ever sees a stale draft: every slot below a
    /// window query in its lane holds the final token (or the draft this pass feeds there), and in the rows
    /// above every final token is written and every other slot but the last is hidden.
    func decode(_ policy: WindowPolicy, seed: UInt64, check: Bool = false) throws -> (RequestDecoder, [[PlannedQuery]]) {
        let d = try RequestDecoder(request: GenerationRequest(id: "toy", classLabel: 1, policy: policy, seed: seed),
                                   config: config, nullClass: 2)
        var written: [Int: Int] = [:]   // position -> token last written there
        var plans: [[PlannedQuery]] = []
        while !d.isFinished {
            let p = d.plan()
            precondition(!p.isEmpty)
            plans.append(p)
            for q in p { if case .token(let t) = q.input { written[q.position] = t } }
            if check { try expectNoStaleContext(p, d, written) }
            d.apply(p, cond: p.map { $0.wantsLogits ? logits(position: $0.position, input: $0.input) : nil },
                    uncond: p.map { _ in nil })
        }
        return (d, plans)
    }

    struct Stale: Error { var position: Int }

    func expectNoStaleContext(_ plan: [PlannedQuery], _ d: RequestDecoder, _ written: [Int: Int]) throws {
        let rowLanes = d.jacobi?.rowLanes ?? false
        // A started row never waits: its newest final token is fed by its own next window.
        for i in 0..<grid where rowLanes && d.rowCount[i] > 0 && d.rowCount[i] < grid {
            let head = d.clsTokenNum + i * grid + d.rowCount[i] - 1
            if !plan.contains(where: { $0.position == head }) { throw Stale(position: head) }
        }
        for q in plan {
            if rowLanes {
                guard case .jacobi(let t, _) = q.action else { continue }
                let row = t / grid
                for r in 0..<row { for col in 0..<(grid - 1) {
                    let u = r * grid + col, slot = d.clsTokenNum + u
                    if d.tokens[u] >= 0 {
                        if written[slot] != d.tokens[u] { throw Stale(position: slot) }
                    } else if written[slot] != nil && !q.hidden.contains(where: { $0.contains(slot) }) {
                        throw Stale(position: slot)
                    }
                } }
            }
            guard case .jacobi(let t, _) = q.action else { continue }
            let first = rowLanes ? (t / grid) * grid : 0     // the lane's first token
            for u in first..<t {
                let slot = d.clsTokenNum + u
                guard slot < q.position else { break }
                // Below the window every slot holds its final token; inside, this pass's draft.
                let fed = plan.first { $0.position == slot }
                let expected = fed.flatMap { $0.input.tokenValue } ?? d.tokens[u]
                if d.tokens[u] < 0 && fed == nil { throw Stale(position: slot) }
                if written[slot] != expected { throw Stale(position: slot) }
            }
        }
    }

    /// Exact probability of a token grid under ntp (raster, each token from the previous one).
    func ntpProbability(_ tokens: [Int]) -> Double {
        var p = Double(probs(position: 0, input: .classLabel(1))[tokens[0]])
        for t in 1..<tokens.count { p *= Double(probs(position: t, input: .token(tokens[t - 1]))[tokens[t]]) }
        return p
    }
}

@Suite struct SJDExactnessTests {
    /// The whole pipeline (fresh drafts, verification, re-drafts, the sliding window) samples the ntp
    /// distribution: over many seeds, the empirical joint of a 2x2 grid matches the exact one.
    @Test(arguments: [2, 3, 4])
    func sjdSamplesTheNTPJointDistribution(window: Int) throws {
        let toy = ToyModel(vocab: 3, grid: 2)
        var counts: [[Int]: Int] = [:]
        var drafts = 0, accepted = 0
        let n = 40_000
        for seed in 0..<UInt64(n) {
            let (d, _) = try toy.decode(.sjd(jacobiWindow: window), seed: seed, check: seed < 200)
            counts[d.tokens, default: 0] += 1
            drafts += d.stats.drafts; accepted += d.stats.accepted
        }
        var tv = 0.0, total = 0.0
        for a in 0..<3 { for b in 0..<3 { for c in 0..<3 { for e in 0..<3 {
            let g = [a, b, c, e]
            let p = toy.ntpProbability(g)
            total += p
            tv += abs(Double(counts[g] ?? 0) / Double(n) - p)
        } } } }
        #expect(abs(total - 1) < 1e-5)
        #expect(tv / 2 < 0.03, "total variation \(tv / 2) between sjd:\(window) and ntp")
        #expect(drafts > 0 && accepted > 0 && accepted < drafts)
    }

    @Test(arguments: [WindowPolicy.sjd(jacobiWindow: 3), .sjd(jacobiWindow: 8), .ziparSJD(window: 2, jacobiWindow: 3),
                      .ziparSJD(window: 1, jacobiWindow: 4)])
    func windowsNeverReadAStaleDraft(policy: WindowPolicy) throws {
        let toy = ToyModel(vocab: 5, grid: 6)
        for seed in 0..<UInt64(30) {
            let (d, plans) = try toy.decode(policy, seed: seed, check: true)
            #expect(!d.tokens.contains(-1))
            #expect(d.jacobi?.drafts.isEmpty == true)
            #expect(d.placeholderRows.isEmpty)
            for p in plans { #expect(Set(p.map(\.position)).count == p.count) }
            if case .ziparSJD(let s, _) = policy {
                // No query runs past the window rule: x(i,j) needs min(j + S, W) final tokens above, and
                // each token is final only after the tokens above it that it needed.
                for i in 1..<6 { for j in 0..<6 {
                    let needed = min(j + s, 6)
                    #expect(d.decodeStep[i * 6 + j] > d.decodeStep[(i - 1) * 6 + needed - 1])
                } }
            }
        }
    }
}

@Suite struct SJDSchedulerTests {
    static let m = Tiny.model(grid: 8, seed: 2)
    static let m16 = Tiny.model(grid: 16)

    func run(_ m: GPTModel, _ policy: WindowPolicy, classLabel: Int = 3, seed: UInt64 = 5,
             sampling: SamplingParams = SamplingParams()) throws -> GenerationResult {
        try Tiny.run(m, GenerationRequest(id: "x", classLabel: classLabel, policy: policy, sampling: sampling, seed: seed))
    }

    @Test(arguments: [SamplingParams(), SamplingParams(temperature: 0.7, cfgScale: 2), SamplingParams(topK: 8, cfgScale: 3, cfgInterval: 20)])
    func windowOfOneIsNTPTokenForToken(sampling: SamplingParams) throws {
        for (c, seed) in [(0, UInt64(1)), (4, 9), (7, 123)] {
            let ntp = try run(Self.m, .ntp, classLabel: c, seed: seed, sampling: sampling)
            let sjd = try run(Self.m, .sjd(jacobiWindow: 1), classLabel: c, seed: seed, sampling: sampling)
            #expect(sjd.tokens == ntp.tokens)
            #expect(sjd.decodeStep == ntp.decodeStep)
            #expect(sjd.stats.passes == 64 && sjd.stats.queries == ntp.stats.queries)
            #expect(sjd.stats.drafts == 0)
        }
    }

    @Test(arguments: [(4, 76), (8, 136), (1, 31), (16, 256)])
    func ziparSJDWithWindowOneIsZipar(s: Int, passes: Int) throws {
        let zipar = try run(Self.m16, .zipar(window: s), sampling: SamplingParams(cfgScale: 2))
        let zs = try run(Self.m16, .ziparSJD(window: s, jacobiWindow: 1), sampling: SamplingParams(cfgScale: 2))
        #expect(zs.stats.passes == passes && zipar.stats.passes == passes)
        #expect(zs.tokens == zipar.tokens && zs.decodeStep == zipar.decodeStep)
        #expect(zs.stats.queries == zipar.stats.queries && zs.stats.rowWindows == zipar.stats.rowWindows)
    }

    @Test func widerWindowsNeverTakeMorePasses() throws {
        for seed: UInt64 in [1, 2, 3] {
            for k in [2, 4, 8] {
                let sjd = try run(Self.m16, .sjd(jacobiWindow: k), seed: seed)
                #expect(sjd.stats.passes <= 256 && sjd.stats.tokens == 256 && !sjd.tokens.contains(-1))
                #expect(sjd.stats.accepted <= sjd.stats.drafts)
                for s in [4, 8] {
                    let zs = try run(Self.m16, .ziparSJD(window: s, jacobiWindow: k), seed: seed)
                    #expect(zs.stats.passes <= 15 * s + 16)
                    #expect(!zs.tokens.contains(-1))
                }
            }
        }
    }

    @Test func sameSeedSameTokensWhateverSharesTheBatch() throws {
        let targets = [
            GenerationRequest(id: "t1", classLabel: 2, policy: .sjd(jacobiWindow: 4), sampling: SamplingParams(temperature: 0.8), seed: 9),
            GenerationRequest(id: "t2", classLabel: 5, policy: .ziparSJD(window: 3, jacobiWindow: 3),
                              sampling: SamplingParams(cfgScale: 2), seed: 42),
        ]
        for target in targets {
            let alone = try Tiny.run(Self.m, target)
            let others = [
                GenerationRequest(id: "o1", classLabel: 0, policy: .ntp, seed: 1),
                GenerationRequest(id: "o2", classLabel: 7, policy: .adaptive(minWindow: 2), sampling: SamplingParams(cfgScale: 3), seed: 2),
                GenerationRequest(id: "o3", classLabel: 2, policy: .sjd(jacobiWindow: 6), seed: 9),
                GenerationRequest(id: "o4", classLabel: 5, policy: .ziparSJD(window: 2, jacobiWindow: 5), sampling: SamplingParams(cfgScale: 2), seed: 42),
            ]
            for order in [others + [target], [target] + others, [others[2], target, others[0], others[3], others[1]]] {
                for requests in [5, 2] {
                    let got = try Tiny.scheduler(Self.m, requests: requests).run(order).first { $0.id == target.id }!
                    #expect(got.tokens == alone.tokens)
                    #expect(got.decodeStep == alone.decodeStep)
                    #expect(got.stats.passes == alone.stats.passes && got.stats.queries == alone.stats.queries)
                    #expect(got.stats.drafts == alone.stats.drafts && got.stats.accepted == alone.stats.accepted)
                }
            }
        }
    }

    /// Greedy Jacobi iteration is exact: the same tokens as ntp, whatever the window.
    @Test func greedyWindowsGiveTheNTPTokens() throws {
        let greedy = SamplingParams(temperature: 0)
        for seed: UInt64 in [1, 7] {
            let ntp = try run(Self.m16, .ntp, seed: seed, sampling: greedy)
            for k in [2, 4, 8] {
                let sjd = try run(Self.m16, .sjd(jacobiWindow: k), seed: seed, sampling: greedy)
                #expect(sjd.tokens == ntp.tokens)
                #expect(sjd.stats.passes <= ntp.stats.passes)
            }
        }
    }

    /// With a model whose next token hardly depends on the context, drafts drawn from the neighbour's
    /// distribution are right, and a window of K decodes close to K tokens a pass.
    @Test func aConfidentModelTakesFewerPasses() throws {
        let m = Tiny.confident(grid: 16)
        let greedy = SamplingParams(temperature: 0)
        let ntp = try run(m, .ntp, sampling: greedy)
        let zipar = try run(m, .zipar(window: 4), sampling: greedy)
        for k in [2, 4] {
            let sjd = try run(m, .sjd(jacobiWindow: k), sampling: greedy)
            #expect(sjd.tokens == ntp.tokens)
            #expect(sjd.stats.passes < ntp.stats.passes * 3 / (2 * k) + 2)   // at least 2/3 of the ideal K-fold gain
            let zs = try run(m, .ziparSJD(window: 4, jacobiWindow: k), sampling: greedy)
            #expect(zs.stats.passes < zipar.stats.passes)
            #expect(zs.stats.accepted > 0)
        }
        // Sampling too (temperature 1): the distributions barely move, so most drafts pass the test.
        let sampled = try run(m, .sjd(jacobiWindow: 4))
        #expect(sampled.stats.passes < 256 / 2)
        #expect(Double(sampled.stats.accepted) > 0.5 * Double(sampled.stats.drafts))
    }
}

extension Tiny {
    /// A tiny model whose token embeddings are nearly one vector: every position predicts nearly the same
    /// distribution, as a confident real model does inside a flat region of an image.
    static func confident(grid: Int) -> GPTModel {
        let c = model(grid: grid, seed: 4).config, d = c.dim
        let weights = DecoderWeights.randomLlamaGen(c, seed: 4) { e in
            var e = e
            for v in 1..<c.vocabSize {
                for k in 0..<d { e[v * d + k] = e[k] + 0.02 * (e[v * d + k] - e[k]) }
            }
            return e
        }
        return GPTModel(config: c, weights: weights)
    }
}

/// The engine side of zipar-sjd: a hidden slot reads as if it had never been written.
@Suite struct HiddenSlotTests {
    @Test func hiddenSlotsAreSkippedLikeUnfilledOnes() throws {
        let m = Tiny.model(grid: 4, seed: 5)
        let e = m.engine(maxQueries: 8, maxSequences: 2, attentionMode: .masked)
        let withDrafts = try e.openSequence(), without = try e.openSequence()
        let prefix: [DecoderQuery.Input] = [.classLabel(1), .token(3), .token(7)]
        _ = e.forward(prefix.enumerated().flatMap { k, input in
            [DecoderQuery(sequence: withDrafts, position: k, input: input, wantsLogits: false),
             DecoderQuery(sequence: without, position: k, input: input, wantsLogits: false)]
        })
        // Drafts at positions 3 and 4 in one sequence only.
        _ = e.forward([DecoderQuery(sequence: withDrafts, position: 3, input: .token(11), wantsLogits: false),
                       DecoderQuery(sequence: withDrafts, position: 4, input: .token(12), wantsLogits: false)])
        let hidden = e.forward([DecoderQuery(sequence: withDrafts, position: 5, input: .token(9), hidden: [3..<5]),
                                DecoderQuery(sequence: without, position: 5, input: .token(9))])
        let (a, b) = (hidden.row(0), hidden.row(1))   // copies: logits live until the next pass
        #expect(a == b)
        let seen = e.forward([DecoderQuery(sequence: withDrafts, position: 5, input: .token(9))])
        #expect(seen.row(0) != b)
    }
}
