import Foundation
import Testing
import JobCore
import Model
@testable import Decoding

/// Every policy on a non-square end-of-row layout (`size=12x20`: H = 12 rows of W = 20 tokens), through the
/// scheduler with `ToyTextEngine`. Windows are relative to the width W; the schedule math is the square one
/// with H and W apart: row i starts w passes after row i-1, so a policy whose rows start w tokens behind takes
/// (H - 1) * w + W passes and samples x(i, j) in pass i * w + j (0-based).
@Suite struct NonSquareScheduleTests {
    static let (H, W) = (12, 20)

    func run(_ policy: String, cfg: Float = 1, seed: UInt64 = 3, temperature: Float = 1) throws -> GenerationResult {
        let e = ToyTextEngine(rows: Self.H, columns: Self.W)
        var p = JobParameters(sampling: SamplingParams(temperature: temperature, cfgScale: cfg), seed: seed)
        p.policy = try WindowPolicy(parsing: policy); p.prompt = "a dark boot"
        let s = BatchScheduler(engine: e, limits: SchedulerLimits(maxRequestsInFlight: 4, maxQueriesPerPass: e.maxQueries))
        return try s.run([GenerationRequest(id: "t", parameters: p)])[0]
    }

    /// ntp (w = W), zipar:S (w = S) and, on this layout, official:S (w = S - 1: the authors' window counts the
    /// end-of-row token): passes and the pass of every cell. zipar:W and official:W+1 are ntp.
    @Test(arguments: [("ntp", 20), ("zipar:1", 1), ("zipar:4", 4), ("zipar:12", 12), ("zipar:19", 19), ("zipar:20", 20),
                      ("official:2", 1), ("official:5", 4), ("official:13", 12), ("official:21", 20)])
    func passCountsFollowTheScheduleMath(policy: String, rowLag: Int) throws {
        for cfg: Float in [1, 2] {
            let r = try run(policy, cfg: cfg)
            #expect(r.stats.tokens == Self.H * Self.W && r.tokens.count == 240)
            #expect(r.stats.passes == (Self.H - 1) * rowLag + Self.W, "\(policy) cfg \(cfg)")
            for i in 0..<Self.H { for j in 0..<Self.W {
                #expect(r.decodeStep[i * Self.W + j] == i * rowLag + j, "\(policy): cell (\(i), \(j))")
            } }
        }
    }

    /// The speculative and adaptive policies: a window of one is the plain policy pass for pass; wider ones
    /// never take more passes than it nor fewer than its lower bound (all drafts accepted).
    @Test func speculativeAndAdaptivePassCounts() throws {
        let ntp = try run("ntp")
        for (jacobi, plain) in [("sjd:1", "ntp"), ("zipar-sjd:4,1", "zipar:4"), ("zipar-sjd:20,1", "zipar:20")] {
            let (a, b) = (try run(plain), try run(jacobi))
            #expect(a.stats.passes == b.stats.passes && a.decodeStep == b.decodeStep && a.tokens == b.tokens, "\(jacobi)")
        }
        for k in [2, 4, 16] {
            let r = try run("sjd:\(k)")
            #expect(r.stats.tokens == 240 && r.stats.passes <= 240 && r.stats.passes >= 240 / k, "sjd:\(k): \(r.stats.passes)")
        }
        let zipar4 = try run("zipar:4")
        for k in [2, 8] {
            let r = try run("zipar-sjd:4,\(k)")
            // Rows start under zipar:4's rule on final tokens and accepted drafts only add tokens: never slower.
            #expect(r.stats.tokens == 240 && r.stats.passes <= zipar4.stats.passes, "zipar-sjd:4,\(k): \(r.stats.passes)")
            #expect(r.stats.passes >= Self.W / k, "zipar-sjd:4,\(k): \(r.stats.passes)")
        }
        for smin in [2, 4] {
            let r = try run("adaptive:\(smin)")
            #expect(r.stats.tokens == 240)
            #expect(r.stats.passes >= (Self.H - 1) * smin + Self.W && r.stats.passes <= 240, "adaptive:\(smin): \(r.stats.passes)")
        }
        let full = try run("adaptive:20")
        #expect(full.stats.passes == ntp.stats.passes && full.decodeStep == ntp.decodeStep)
    }

    /// The toy's logits depend only on a query's position and input, and every input on this layout is a final
    /// token or the end-of-row token (no stand-ins), so with common random numbers every schedule draws ntp's
    /// tokens: greedy and sampled, with and without guidance.
    @Test(arguments: ["zipar:1", "zipar:4", "zipar:20", "official:2", "official:6", "official:21", "zipar-sjd:4,1", "sjd:1"])
    func tokensEqualNTP(policy: String) throws {
        for (temperature, cfg) in [(Float(0), Float(1)), (0, 3), (1, 1), (1, 3)] {
            let ntp = try run("ntp", cfg: cfg, temperature: temperature)
            let r = try run(policy, cfg: cfg, temperature: temperature)
            #expect(r.tokens == ntp.tokens, "\(policy) temperature \(temperature) cfg \(cfg)")
        }
    }

    /// Windows are bounded by the width W = 20, not by the height: zipar:20 and official:21 run, one more is
    /// refused naming the width.
    @Test func windowsAreBoundedByTheWidth() throws {
        for ok in ["zipar:20", "official:21", "adaptive:20", "zipar-sjd:20,4", "sjd:16"] { #expect(try run(ok).stats.tokens == 240) }
        for bad in ["zipar:21", "official:22", "adaptive:21", "zipar-sjd:21,2"] {
            #expect(throws: ParameterError.self, "\(bad)") { try run(bad) }
        }
    }
}
