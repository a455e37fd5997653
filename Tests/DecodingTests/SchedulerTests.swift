import Testing
import JobCore
import Model
@testable import Decoding

/// Tiny random-weight models: fast enough to decode whole 24x24 grids in a test.
enum Tiny {
    static func model(grid: Int, seed: UInt64 = 1) -> GPTModel {
        let c = GPTConfig(dim: 64, nLayer: 2, nHead: 4, nKVHead: 2, vocabSize: 64, numClasses: 10, grid: grid,
                          multipleOf: 32)
        return GPTModel(config: c, weights: .randomLlamaGen(c, seed: seed))
    }
    static func scheduler(_ m: GPTModel, mode: AttentionMode = .masked, requests: Int = 8, queries: Int = 128) -> BatchScheduler {
        let e = DecoderTokenEngine(gpt: m, batch: requests, maxQueries: queries, attentionMode: mode)
        return BatchScheduler(engine: e, limits: SchedulerLimits(maxRequestsInFlight: requests, maxQueriesPerPass: queries))
    }
    static func run(_ m: GPTModel, _ r: GenerationRequest, mode: AttentionMode = .masked) throws -> GenerationResult {
        try scheduler(m, mode: mode).run([r])[0]
    }
    /// Low temperature makes tokens sensitive to small logit differences.
    static let sharp = SamplingParams(temperature: 0.05)
}

@Suite struct PassCountTests {
    static let m16 = Tiny.model(grid: 16)
    static let m24 = Tiny.model(grid: 24)

    func passes(_ m: GPTModel, _ policy: WindowPolicy, cfg: Float = 1) throws -> GenerationResult {
        try Tiny.run(m, GenerationRequest(id: "x", classLabel: 3, policy: policy, sampling: SamplingParams(cfgScale: cfg), seed: 5))
    }

    @Test(arguments: [(16, WindowPolicy.ntp, 256), (16, .zipar(window: 8), 136), (16, .zipar(window: 4), 76),
                      (16, .official(window: 8), 144), (16, .official(window: 4), 88), (16, .zipar(window: 16), 256),
                      (24, .ntp, 576), (24, .zipar(window: 16), 392), (24, .zipar(window: 12), 300),
                      (24, .zipar(window: 8), 208), (24, .official(window: 16), 400), (24, .official(window: 12), 312),
                      (16, .zipar(window: 1), 31)])
    func exactPassCounts(grid: Int, policy: WindowPolicy, expected: Int) throws {
        let r = try passes(grid == 16 ? Self.m16 : Self.m24, policy)
        #expect(r.stats.passes == expected)
        #expect(r.stats.tokens == grid * grid)
        #expect(!r.tokens.contains(-1))
        #expect(r.decodeStep.max()! == expected - 1)
        // The formulas from the notes.
        if case .zipar(let s) = policy { #expect(expected == (grid - 1) * s + grid) }
        if case .official(let s) = policy { #expect(expected == 2 * grid + (grid - 2) * s) }
    }

    @Test func ziparWavefront() throws {
        // Paper criterion: x(i, j) is decoded in pass i*S + j (0-based); row windows are all S.
        let r = try passes(Self.m16, .zipar(window: 4))
        for i in 0..<16 { for j in 0..<16 { #expect(r.decodeStep[i * 16 + j] == i * 4 + j) } }
        #expect(r.stats.rowWindows == [Int](repeating: 4, count: 15))
        // Official schedule: row 0 first, then rows 1.. overlap with window S.
        let o = try passes(Self.m16, .official(window: 4))
        for j in 0..<16 { #expect(o.decodeStep[j] == j) }
        for i in 1..<16 { #expect(o.decodeStep[i * 16] == 16 + (i - 1) * 4) }
    }

    @Test func cfgDoesNotChangePassCount() throws {
        let r = try passes(Self.m16, .zipar(window: 8), cfg: 2)
        #expect(r.stats.passes == 136)
        #expect(r.stats.queries > 2 * 256)   // twins + placeholder rewrites
    }

    @Test func adaptiveFinishesWithinBounds() throws {
        for smin in [4, 8] {
            let r = try passes(Self.m16, .adaptive(minWindow: smin))
            #expect(r.stats.tokens == 256)
            #expect(!r.tokens.contains(-1))
            // At least one verification pass per row beyond the fixed window, never more than NTP.
            #expect(r.stats.passes >= 15 * smin + 16 + 15)
            #expect(r.stats.passes <= 256)
            #expect(r.stats.drafts >= 15 && r.stats.accepted <= r.stats.drafts)
            #expect(r.stats.rowWindows.count == 15)
            #expect(r.stats.rowWindows.allSatisfy { $0 > smin && $0 <= 16 })
        }
    }
}

@Suite struct ScheduleIndependenceTests {
    static let m = Tiny.model(grid: 8, seed: 2)

    @Test func ziparFullWindowEqualsNTP() throws {
        let ntp = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .ntp, sampling: Tiny.sharp, seed: 11))
        let full = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .zipar(window: 8), sampling: Tiny.sharp, seed: 11))
        let adaptiveFull = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .adaptive(minWindow: 8), sampling: Tiny.sharp, seed: 11))
        #expect(ntp.tokens == full.tokens)
        #expect(ntp.decodeStep == full.decodeStep)
        // official:W+1: the authors' window counts the token before a row, so W+1 is the row above complete.
        let officialFull = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .official(window: 9), sampling: Tiny.sharp, seed: 11))
        #expect(ntp.tokens == adaptiveFull.tokens && ntp.tokens == officialFull.tokens && ntp.decodeStep == officialFull.decodeStep)
        #expect(ntp.stats.passes == 64 && full.stats.passes == 64 && adaptiveFull.stats.passes == 64 && officialFull.stats.passes == 64)
        #expect(throws: ParameterError.self) {
            try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .official(window: 10), seed: 11))
        }
        #expect(throws: ParameterError.self) {
            try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .zipar(window: 9), seed: 11))
        }
        let other = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 1, policy: .zipar(window: 2), sampling: Tiny.sharp, seed: 11))
        #expect(other.tokens != ntp.tokens)
    }

    @Test func sameSeedSameTokensWhateverSharesTheBatch() throws {
        let target = GenerationRequest(id: "target", classLabel: 4, policy: .zipar(window: 3),
                                       sampling: SamplingParams(temperature: 0.5, cfgScale: 2), seed: 42)
        let alone = try Tiny.run(Self.m, target)
        let others = [
            GenerationRequest(id: "o1", classLabel: 0, policy: .ntp, seed: 1),
            GenerationRequest(id: "o2", classLabel: 7, policy: .adaptive(minWindow: 2), sampling: SamplingParams(cfgScale: 3), seed: 2),
            GenerationRequest(id: "o3", classLabel: 4, policy: .official(window: 5), seed: 42),
        ]
        for order in [others + [target], [target] + others, [others[1], target, others[0], others[2]]] {
            for (requests, queries) in [(4, 128), (2, 128), (4, 12)] {
                let s = Tiny.scheduler(Self.m, requests: requests, queries: queries)
                let results = try s.run(order)
                let got = results.first { $0.id == "target" }!
                #expect(got.tokens == alone.tokens)
                #expect(got.stats.passes == alone.stats.passes)
                #expect(got.decodeStep == alone.decodeStep)
            }
        }
    }

    @Test func adaptiveIsScheduleIndependentToo() throws {
        let target = GenerationRequest(id: "t", classLabel: 2, policy: .adaptive(minWindow: 3), sampling: SamplingParams(temperature: 0.7), seed: 9)
        let alone = try Tiny.run(Self.m, target)
        let s = Tiny.scheduler(Self.m, requests: 3)
        let r = try s.run([GenerationRequest(id: "n", classLabel: 1, seed: 3), target,
                           GenerationRequest(id: "z", classLabel: 1, policy: .zipar(window: 2), seed: 3)])
        #expect(r[1].tokens == alone.tokens)
        #expect(r[1].stats.drafts == alone.stats.drafts && r[1].stats.accepted == alone.stats.accepted)
    }

    @Test func continuousBatchingRetiresAndAdmits() throws {
        let s = Tiny.scheduler(Self.m, requests: 2)
        try s.add(GenerationRequest(id: "fast", classLabel: 0, policy: .zipar(window: 1), seed: 1))
        try s.add(GenerationRequest(id: "slow", classLabel: 0, policy: .ntp, seed: 1))
        #expect(!s.hasCapacity)
        #expect(throws: DecodingError.self) { try s.add(GenerationRequest(id: "x", classLabel: 0)) }
        var finished: [String] = []
        var joinedAt = -1
        while s.inFlight > 0 {
            for r in s.step() { finished.append(r.id) }
            if finished == ["fast"] && joinedAt < 0 {
                try s.add(GenerationRequest(id: "late", classLabel: 1, policy: .zipar(window: 2), seed: 1))
                joinedAt = s.passCount
            }
        }
        #expect(finished.first == "fast")
        #expect(Set(finished) == ["fast", "slow", "late"])
        #expect(joinedAt == 15)   // zipar:1 on 8x8: 7*1 + 8 passes
    }

    @Test func cfgIntervalZeroIsNoGuidance() throws {
        let plain = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 5, policy: .zipar(window: 4), sampling: Tiny.sharp, seed: 4))
        let zero = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 5, policy: .zipar(window: 4),
                                                          sampling: SamplingParams(temperature: 0.05, cfgScale: 3, cfgInterval: 0), seed: 4))
        let guided = try Tiny.run(Self.m, GenerationRequest(id: "a", classLabel: 5, policy: .zipar(window: 4),
                                                            sampling: SamplingParams(temperature: 0.05, cfgScale: 3), seed: 4))
        #expect(plain.tokens == zero.tokens)
        #expect(plain.tokens != guided.tokens)
    }

    @Test func badRequestsAreRejected() {
        let s = Tiny.scheduler(Self.m)
        #expect(throws: ParameterError.self) { try s.add(GenerationRequest(id: "a", classLabel: 10)) }
        #expect(throws: ParameterError.self) { try s.add(GenerationRequest(id: "a", classLabel: 1, policy: .zipar(window: 9))) }
        #expect(throws: ParameterError.self) { try s.add(GenerationRequest(id: "a", classLabel: 1, sampling: SamplingParams(topP: 0))) }
        #expect(s.inFlight == 0)
    }

    @Test func cancelReleasesSequences() throws {
        let s = Tiny.scheduler(Self.m)
        try s.add(GenerationRequest(id: "a", classLabel: 1, sampling: SamplingParams(cfgScale: 2)))
        _ = s.step()
        #expect(s.engine.openSequences == 2)
        s.cancel(id: "a")
        #expect(s.inFlight == 0 && s.engine.openSequences == 0)
    }
}

@Suite struct AttentionModeTests {
    static let m = Tiny.model(grid: 8, seed: 3)

    @Test func maskedAndReferenceAgreeUnderNTP() throws {
        let r = GenerationRequest(id: "a", classLabel: 2, policy: .ntp, sampling: Tiny.sharp, seed: 8)
        let masked = try Tiny.run(Self.m, r, mode: .masked)
        let reference = try Tiny.run(Self.m, r, mode: .reference)
        #expect(masked.tokens == reference.tokens)
    }

    @Test func maskedAndReferenceDifferUnderZipar() throws {
        let r = GenerationRequest(id: "a", classLabel: 2, policy: .zipar(window: 2), sampling: Tiny.sharp, seed: 8)
        let masked = try Tiny.run(Self.m, r, mode: .masked)
        let reference = try Tiny.run(Self.m, r, mode: .reference)
        #expect(masked.tokens != reference.tokens)
        // Row 0 sees no unfilled slot, so it agrees.
        #expect(Array(masked.tokens[0..<8]) == Array(reference.tokens[0..<8]))
    }
}

@Suite struct RequestDecoderTests {
    /// Drives a decoder with made-up logits (no model): checks plans, placeholders and rewrites.
    func drive(_ policy: WindowPolicy, grid: Int = 8) throws -> (RequestDecoder, [[PlannedQuery]]) {
        let c = GPTConfig(dim: 16, nLayer: 1, nHead: 1, vocabSize: 5, numClasses: 2, grid: grid)
        let d = try RequestDecoder(request: GenerationRequest(id: "f", classLabel: 1, policy: policy, seed: 1),
                                   config: c, nullClass: 2)
        var plans: [[PlannedQuery]] = []
        while !d.isFinished {
            let p = d.plan()
            #expect(!p.isEmpty)
            #expect(Set(p.map(\.position)).count == p.count)   // one query per slot per pass
            plans.append(p)
            // Logits that change with position and pass, so drafts are sometimes rejected.
            let pass = d.stats.passes
            let logits: [[Float]?] = p.map { q in
                q.wantsLogits ? (0..<5).map { v in Float((v * 7 + q.position * v + pass) % 5) * 0.3 } : nil
            }
            d.apply(p, cond: logits, uncond: p.map { _ in nil })
        }
        return (d, plans)
    }

    @Test func placeholdersAreWrittenAndRewritten() throws {
        let (d, plans) = try drive(.zipar(window: 3))
        #expect(plans.count == 7 * 3 + 8)
        #expect(d.placeholderRows.isEmpty)
        let all = plans.flatMap { $0 }
        let placeholders = all.filter(\.isPlaceholder)
        let rewrites = all.filter { if case .rewrite = $0.action { return true } else { return false } }
        #expect(placeholders.count == 7)   // one per row start, rows 1..7
        #expect(rewrites.count == 7)       // each overwritten once by the real token
        for r in rewrites {
            guard case .rewrite(let row) = r.action, case .token(let t) = r.input else { Issue.record("bad rewrite"); continue }
            #expect(r.position == 1 + row * 8 + 7)
            #expect(t == d.tokens[row * 8 + 7])
            #expect(!r.wantsLogits)
        }
        #expect(d.stats.queries == 64 + 7)
    }

    @Test func ntpNeedsNoPlaceholder() throws {
        let (d, plans) = try drive(.ntp)
        #expect(plans.count == 64 && plans.allSatisfy { $0.count == 1 })
        #expect(!plans.joined().contains { $0.isPlaceholder })
        #expect(d.stats.queries == 64)
    }

    @Test func officialScheduleStartsRowOneOnTheRealToken() throws {
        let (_, plans) = try drive(.official(window: 2))
        #expect(plans.count == 2 * 8 + 6 * 2)
        // Row 1's first token is predicted from the real x(0,7); rows 2.. use a placeholder.
        let starts = plans.joined().filter { $0.position % 8 == 0 && $0.position > 0 && $0.wantsLogits }
        #expect(starts.count == 7)
        #expect(!starts[0].isPlaceholder && starts.dropFirst().allSatisfy(\.isPlaceholder))
    }

    @Test func adaptiveVerifiesEveryDraft() throws {
        let (d, plans) = try drive(.adaptive(minWindow: 2))
        let drafts = plans.joined().filter { if case .draft = $0.action { return true } else { return false } }.count
        #expect(drafts == 7)   // one initial draft per row; resamples are counted in stats
        #expect(d.stats.drafts >= 7 && d.stats.accepted <= d.stats.drafts)
        #expect(d.placeholderRows.isEmpty)
        #expect(plans.count >= 7 * 3 + 8)
    }
}
