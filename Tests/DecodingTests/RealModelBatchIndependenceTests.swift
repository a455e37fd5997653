import Foundation
import Testing
@testable import Decoding
import JobCore
import Model

/// Batch independence on the real bundled model (f16 weights, the real kernels), where a pass's row
/// count changes which matmul path runs: every policy, cfg on and off, alone against mixed into busy
/// passes of other requests, must give the same token grid.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["ZIPAR_SLOW_TESTS"] == "1",
                "minutes of real-model decoding: scripts/test.sh runs it on its own after the main run"))
struct RealModelBatchIndependenceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let model: GPTModel = try! ModelBundle(directory: root.appendingPathComponent("models/fashion-16").path).gpt

    static func request(_ id: String, _ policy: String, seed: UInt64, classLabel: Int, cfg: Float) -> GenerationRequest {
        var p = JobParameters(classLabel: classLabel, policy: try! WindowPolicy(parsing: policy), seed: seed)
        p.sampling.cfgScale = cfg
        return GenerationRequest(id: id, parameters: p)
    }

    /// One pass budget for both runs: a request whose pass needs more than `maxQueries` is split the same
    /// way alone and in company (the budget is a setting of the worker and of `zipar generate` alike).
    @Test func everyPolicyAloneEqualsMixed() throws {
        let policies = ["ntp", "zipar:4", "official:8", "adaptive:4", "sjd:8", "zipar-sjd:4,4"]
        let targets = policies.enumerated().map { i, p in
            Self.request("t\(i)", p, seed: 1029 + UInt64(i), classLabel: i, cfg: i % 2 == 0 ? 3 : 1)
        }
        let fillers = ["adaptive:2", "sjd:4", "zipar-sjd:2,8"].enumerated().map { i, p in
            Self.request("f\(i)", p, seed: 5000 + UInt64(i), classLabel: i, cfg: i % 2 == 0 ? 2 : 1)
        }
        let maxQueries = 16
        var alone: [String: [Int]] = [:]
        for t in targets { alone[t.id] = try BatchScheduler(model: Self.model, batch: 1, maxQueries: maxQueries).run([t])[0].tokens }
        let results = try BatchScheduler(model: Self.model, batch: 8, maxQueries: maxQueries).run(fillers + targets)
        for r in results where r.id.hasPrefix("t") {
            let diff = zip(r.tokens, alone[r.id]!).enumerated().first { $0.1.0 != $0.1.1 }?.offset
            let p = r.request.parameters
            #expect(diff == nil, "\(p.policyText) cfg \(p.sampling.cfgScale) seed \(p.seed): token \(diff ?? -1) differs in company")
        }
    }
}
