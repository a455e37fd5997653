import Foundation
import JobCore
import Model
import Testing
import TextModel
@testable import Decoding

/// Janus on the scheduler (Tests/Fixtures/janus-tiny, `python3 -m tools.fixtures.make_janus_fixtures`): the
/// prompt as the reference builds it, a whole image decoded greedily with guidance equal to transformers' own
/// image-generation loop, and every policy on Janus's layout (LlamaGen's raster after a text prompt).
@Suite struct JanusDecodingTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/janus-tiny").path
    static let bundle: JanusBundle = try! JanusBundle(directory: path, storage: .f32)
    static let caption = "a dark ankle boot"

    static func request(_ id: String, policy: String, cfg: Float = 2, temperature: Float = 1, seed: UInt64 = 1) throws -> GenerationRequest {
        var p = JobParameters(policy: try WindowPolicy(parsing: policy), seed: seed)
        p.prompt = caption
        p.sampling.cfgScale = cfg
        p.sampling.temperature = temperature
        return GenerationRequest(id: id, parameters: p)
    }

    static func run(_ requests: [GenerationRequest]) throws -> [GenerationResult] {
        try BatchScheduler(engine: DecoderTokenEngine(janus: bundle, batch: 4, maxQueries: 64),
                           limits: SchedulerLimits(maxRequestsInFlight: 4, maxQueriesPerPass: 64)).run(requests)
    }

    @Test func greedyImageMatchesTransformersGenerate() throws {
        let expected = try SafeTensorsFile(path: Self.path + "/expected.safetensors")
        #expect(Self.bundle.promptTokens(caption: Self.caption) == (try expected.integers("greedy_prompt")))
        for policy in ["ntp", "zipar:4", "official:5", "sjd:1"] {   // all ntp's order at this 4x4 grid
            let r = try Self.run([try Self.request("g", policy: policy, temperature: 0)])[0]
            #expect(r.tokens == (try expected.integers("greedy_codes")), "\(policy)")
        }
    }

    @Test func everyPolicyDecodesOnJanusLayout() throws {
        let policies = ["ntp", "zipar:2", "official:2", "adaptive:2", "sjd:4", "zipar-sjd:2,2"]
        let results = try Self.run(policies.enumerated().map { try Self.request("\($0.offset)", policy: $0.element, seed: 3) })
        for (policy, r) in zip(policies, results) {
            #expect(r.tokens.count == 16 && r.tokens.allSatisfy { (0..<64).contains($0) }, "\(policy)")
            #expect(r.stats.passes <= 16, "\(policy): \(r.stats.passes) passes")
        }
        #expect(results[1].stats.passes == 10)   // zipar:2 on 4x4: (4-1)*2 + 4
        _ = try Self.bundle.image(codes: results[0].tokens).pngData()
    }

    @Test func unconditionalPromptPadsAllButTheMarkers() {
        let b = Self.bundle, cond = b.promptTokens(caption: Self.caption)
        let uncond = b.unconditional(cond)
        #expect(uncond.count == cond.count && uncond.first == b.bos && uncond.last == b.imageStart)
        #expect(uncond.dropFirst().dropLast().allSatisfy { $0 == b.pad })
    }
}
