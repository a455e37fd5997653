import Foundation
import Testing
import JobCore
import Model
@testable import Decoding

/// The speculative Jacobi policies with the real transformer of `Tests/Fixtures/text-bundle-tiny` (6x6, an
/// end-of-row token after each row; issue #25).
@Suite(.serialized) struct EndOfRowSJDTextModelTests {
    func run(_ policy: String, cfg: Float = 1, seed: UInt64 = 4, temperature: Float = 1) throws -> GenerationResult {
        var r = try TextBundleFixture.request(policy, prompt: "a dark ankle boot", policy: policy, cfg: cfg, seed: seed)
        r.parameters.sampling.temperature = temperature
        return try TextBundleFixture.scheduler().run([r])[0]
    }

    /// sjd:1 is ntp and zipar-sjd:S,1 is zipar:S, token for token and pass for pass.
    @Test(arguments: [Float(1), 3])
    func windowOfOneIsThePlainPolicy(cfg: Float) throws {
        for (plain, jacobi, passes) in [("ntp", "sjd:1", 36), ("zipar:2", "zipar-sjd:2,1", 16)] {
            let a = try run(plain, cfg: cfg), b = try run(jacobi, cfg: cfg)
            #expect(a.stats.passes == passes && b.stats.passes == passes, "\(jacobi)")
            #expect(b.tokens == a.tokens && b.decodeStep == a.decodeStep, "\(jacobi)")
            #expect(b.stats.queries == a.stats.queries && b.stats.drafts == 0, "\(jacobi)")
        }
    }

    /// Greedy Jacobi iteration is exact: whatever the window, ntp's tokens. This needs every window query,
    /// the one on each end-of-row token included, to read the right drafts and finals of the real model.
    @Test func greedyWindowsGiveTheNTPTokens() throws {
        for cfg: Float in [1, 3] {
            let ntp = try run("ntp", cfg: cfg, temperature: 0)
            for k in [2, 4, 8] {
                let sjd = try run("sjd:\(k)", cfg: cfg, temperature: 0)
                #expect(sjd.tokens == ntp.tokens, "sjd:\(k) cfg \(cfg)")
                #expect(sjd.stats.passes <= ntp.stats.passes)
            }
        }
    }

    /// A job with sjd:4 (and zipar-sjd) decodes to an image: codes in the codebook, no more passes than the
    /// plain policy, drafts drawn; and its tokens do not depend on what shares the batch.
    @Test func sjdJobsDecode() throws {
        for cfg: Float in [1, 3] {
            for (policy, bound) in [("sjd:4", 36), ("zipar-sjd:2,4", 16)] {
                let r = try run(policy, cfg: cfg)
                #expect(r.stats.passes > 0 && r.stats.passes <= bound, "\(policy): \(r.stats.passes) passes")
                #expect(r.stats.tokens == 36 && r.tokens.allSatisfy { (0..<512).contains($0) })
                #expect(r.stats.drafts > 0 && r.stats.accepted <= r.stats.drafts)
                let png = try TextBundleFixture.bundle.image(codes: r.tokens).pngData()
                #expect(png.count > 8)
            }
        }
        let probe = try TextBundleFixture.request("probe", prompt: "a dark ankle boot", policy: "sjd:4", cfg: 2, seed: 9)
        let alone = try TextBundleFixture.scheduler().run([probe])[0]
        let others = [
            try TextBundleFixture.request("o1", prompt: "light pants", policy: "zipar-sjd:2,3", seed: 2),
            try TextBundleFixture.request("o2", prompt: "a small bag", policy: "ntp", cfg: 3, seed: 3),
            try TextBundleFixture.request("o3", prompt: "a light dress", policy: "sjd:8", seed: 4),
        ]
        let batched = try TextBundleFixture.scheduler(batch: 4, queries: 24).run([others[0], probe, others[1], others[2]])
        #expect(batched.first { $0.id == "probe" }!.tokens == alone.tokens)
    }
}
