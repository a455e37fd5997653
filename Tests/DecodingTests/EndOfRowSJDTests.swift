import Foundation
import Testing
import JobCore
import Model
@testable import Decoding

/// Speculative Jacobi decoding on the end-of-row layout (issue #25): the window covers image tokens only and
/// every end-of-row token is fed, never drafted, sampled or verified (docs/decoding.md, "At a row's end").
@Suite(.enabled(if: ProcessInfo.processInfo.environment["ZIPAR_SLOW_TESTS"] == "1",
                "tens of thousands of decodes: scripts/test.sh runs them on their own, so they cannot starve the timing-sensitive suites"))
struct EndOfRowSJDExactnessTests {
    /// The driver's teacher forcing gives ntp's exact probabilities, so it can serve as the oracle below.
    @Test func forcingGivesTheExactNTPProbability() throws {
        let toy = EndOfRowToyModel(grid: 2, codebook: 3)
        var total = 0.0
        for g in toy.allGrids {
            let run = try toy.decode("ntp", seed: 1, forcing: g)
            #expect(run.decoder.tokens == g)
            #expect(abs(run.probability - toy.ntpProbability(g)) < 1e-9)
            total += run.probability
        }
        #expect(abs(total - 1) < 1e-5)
    }

    /// Over many seeds the empirical joint distribution of sjd:K on a 2x2 grid matches ntp's exact one. With
    /// W = 2 every window of two or more crosses a row's end, so the draft write before the EOL query runs.
    @Test(arguments: [2, 3, 4])
    func sjdSamplesTheNTPJointDistribution(window: Int) throws {
        let toy = EndOfRowToyModel(grid: 2, codebook: 3)
        var counts: [[Int]: Int] = [:]
        var drafts = 0, accepted = 0, draftWrites = 0
        let n = 40_000
        for seed in 0..<UInt64(n) {
            let run = try toy.decode("sjd:\(window)", seed: seed, check: seed < 300)
            counts[run.decoder.tokens, default: 0] += 1
            drafts += run.decoder.stats.drafts; accepted += run.decoder.stats.accepted
            draftWrites += run.plans.joined().filter { if case .draftFeed = $0.action { return true } else { return false } }.count
        }
        let tv = toy.allGrids.reduce(0.0) { $0 + abs(Double(counts[$1] ?? 0) / Double(n) - toy.ntpProbability($1)) } / 2
        #expect(tv < 0.03, "total variation \(tv) between sjd:\(window) and ntp")
        #expect(drafts > 0 && accepted > 0 && accepted < drafts && draftWrites > 0)
    }

    /// zipar-sjd:S,K samples each token from the model given the final tokens in its context. With S = 1 a row
    /// starts exactly when the row above has one final token (a lane's first window is one token), so on this
    /// model, which reads only the slot before a query, the contexts are zipar:1's and so is the distribution:
    /// the exact zipar:1 probabilities by teacher forcing, against the empirical distribution of zipar-sjd over
    /// many seeds. The check has power: the same samples are far from ntp's distribution, which differs from
    /// zipar:1's here (x(i,0) is drawn before x(i-1,W-1) exists). With S = W (a row waits for the row above)
    /// it is ntp's. (For 1 < S < W a row may start later than under zipar:S, when the row above gained
    /// several tokens in one pass: then its first token sees more of that row, an exact draw given a larger
    /// context, not zipar:S's.)
    @Test(arguments: [(1, 3), (1, 2), (3, 2)])
    func ziparSJDSamplesTheZiparDistribution(s: Int, k: Int) throws {
        let toy = EndOfRowToyModel(grid: 3, codebook: 2)
        let grids = toy.allGrids
        let exact = try grids.map { try toy.decode("zipar:\(s)", seed: 1, forcing: $0).probability }
        #expect(abs(exact.reduce(0, +) - 1) < 1e-5)
        var counts: [[Int]: Int] = [:]
        var accepted = 0
        let n = 40_000
        for seed in 0..<UInt64(n) {
            let run = try toy.decode("zipar-sjd:\(s),\(k)", seed: seed, check: seed < 300)
            counts[run.decoder.tokens, default: 0] += 1
            accepted += run.decoder.stats.accepted
        }
        func tv(_ p: [Double]) -> Double {
            zip(grids, p).reduce(0.0) { $0 + abs(Double(counts[$1.0] ?? 0) / Double(n) - $1.1) } / 2
        }
        let ntp = grids.map { toy.ntpProbability($0) }
        // Sampling noise alone: E|count/n - p| <= sqrt(p(1-p)/n) per grid.
        let noise = exact.reduce(0.0) { $0 + ($1 * (1 - $1) / Double(n)).squareRoot() } / 2
        #expect(tv(exact) < noise + 0.01, "zipar-sjd:\(s),\(k) vs exact zipar:\(s): \(tv(exact)), noise \(noise)")
        if s < 3 { #expect(tv(ntp) > 2 * tv(exact) + 0.02, "vs ntp: \(tv(ntp)), vs zipar: \(tv(exact))") }
        #expect(accepted > 0)
    }

    @Test(arguments: ["sjd:2", "sjd:3", "sjd:8", "zipar-sjd:2,3", "zipar-sjd:1,4", "zipar-sjd:3,16"])
    func windowsNeverReadAStaleDraft(policy: String) throws {
        let toy = EndOfRowToyModel(grid: 5, codebook: 4)
        let L = toy.layout
        for seed in 0..<UInt64(30) {
            let run = try toy.decode(policy, seed: seed, check: true)
            let d = run.decoder
            #expect(!d.tokens.contains(-1) && d.jacobi?.drafts.isEmpty == true && d.unfedRowEnds.isEmpty)
            for p in run.plans { #expect(Set(p.map(\.position)).count == p.count) }
            // The cache ends as ntp leaves it: every row's tokens and EOL written (the last row's last token
            // and EOL are never needed), nothing past the image.
            for t in 0..<24 { #expect(run.cache[L.position(ofToken: t)] == L.vocabularyID(code: d.tokens[t]), "\(t)") }
            for r in 0..<4 { #expect(run.cache[L.endOfRowPosition(row: r)!] == EndOfRowToyModel.eol) }
            #expect(run.cache.keys.allSatisfy { $0 < L.endOfRowPosition(row: 4)! })
            if policy.hasPrefix("zipar-sjd"), let s = Int(policy.dropFirst(10).prefix { $0 != "," }) {
                for i in 1..<5 { for j in 0..<5 {
                    #expect(d.decodeStep[i * 5 + j] > d.decodeStep[(i - 1) * 5 + min(j + s, 5) - 1])
                } }
            }
        }
    }
}

/// The policies through the scheduler with `ToyTextEngine` (its logits prefer ids outside the image range).
@Suite struct EndOfRowSJDScheduleTests {
    func run(grid: Int = 6, _ policy: String, cfg: Float = 1, seed: UInt64 = 3) throws -> (GenerationResult, ToyTextEngine) {
        let e = ToyTextEngine(grid: grid)
        var p = JobParameters(sampling: SamplingParams(cfgScale: cfg), seed: seed)
        p.policy = try WindowPolicy(parsing: policy); p.prompt = "a dark boot"
        let s = BatchScheduler(engine: e, limits: SchedulerLimits(maxRequestsInFlight: 4, maxQueriesPerPass: e.maxQueries))
        return (try s.run([GenerationRequest(id: "t", parameters: p)])[0], e)
    }

    /// A window of one is the plain policy: the same engine queries, pass for pass.
    @Test(arguments: [Float(1), 2])
    func windowOfOneIsThePlainPolicyPassForPass(cfg: Float) throws {
        for (plain, jacobi) in [("ntp", "sjd:1"), ("zipar:1", "zipar-sjd:1,1"), ("zipar:2", "zipar-sjd:2,1"),
                                ("zipar:4", "zipar-sjd:4,1"), ("zipar:6", "zipar-sjd:6,1")] {
            for seed: UInt64 in [1, 7] {
                let (a, ea) = try run(plain, cfg: cfg, seed: seed)
                let (b, eb) = try run(jacobi, cfg: cfg, seed: seed)
                #expect(a.tokens == b.tokens && a.decodeStep == b.decodeStep, "\(jacobi)")
                #expect(a.stats.passes == b.stats.passes && a.stats.queries == b.stats.queries, "\(jacobi)")
                #expect(a.stats.rowWindows == b.stats.rowWindows && b.stats.drafts == 0, "\(jacobi)")
                // zipar-sjd also names hidden slots (the guesses of the rows above); a window of one leaves none.
                func queries(_ e: ToyTextEngine) -> [[String]] {
                    e.passes.map { $0.map { "\($0.sequence.slot) \($0.position) \($0.input) \($0.wantsLogits)" } }
                }
                #expect(queries(ea) == queries(eb), "\(jacobi): engine queries differ")
            }
        }
    }

    /// End-of-row positions only ever get EOL, with logits (they predict a row's first token); image positions
    /// only image ids; tokens are image codes; wider windows never take more passes than the plain policy.
    @Test(arguments: ["sjd:2", "sjd:4", "sjd:16", "zipar-sjd:2,4", "zipar-sjd:4,2"])
    func endOfRowTokensAreForcedNeverDrafted(policy: String) throws {
        for cfg: Float in [1, 2] {
            let (r, e) = try run(grid: 5, policy, cfg: cfg)
            let layout = try e.setup(for: r.request).layout
            #expect(r.tokens.allSatisfy { (0..<ToyTextEngine.codebook).contains($0) })
            for q in e.passes.joined() {
                guard case .token(let x) = q.input else { Issue.record("class input on a text model"); continue }
                switch layout.slot(at: q.position) {
                case .endOfRow(let i)?: #expect(x == ToyTextEngine.eol && q.wantsLogits && i < 4)
                case .image?: #expect(layout.code(vocabularyID: x) != nil)
                case .prefix?: break
                default: Issue.record("query at \(q.position), past the image")
                }
            }
            let plain = policy.hasPrefix("sjd") ? "ntp" : "zipar:\(policy.dropFirst(10).prefix { $0 != "," })"
            let (p, _) = try run(grid: 5, plain, cfg: cfg)
            #expect(r.stats.passes <= p.stats.passes, "\(policy) \(r.stats.passes) passes, \(plain) \(p.stats.passes)")
        }
    }

    @Test func speculativePoliciesAreAccepted() throws {
        for policy in ["sjd:1", "sjd:16", "zipar-sjd:6,16", "zipar-sjd:1,2"] {
            let (r, _) = try run(policy)
            #expect(r.stats.tokens == 36)
        }
        for bad in ["sjd:17", "zipar-sjd:7,2", "zipar-sjd:2,17"] {
            #expect(throws: ParameterError.self, "\(bad)") { try run(bad) }
        }
    }
}
