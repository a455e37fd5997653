import Foundation
import Testing
@testable import Decoding
import JobCore

/// Issue 21, item 4: submit validates a job against `ModelLimits.textModel` / `.classModel` (what
/// `zipar-submit` and the API see of a model folder); the decoder validates it against the loaded model
/// and its layout. Both must agree on every policy, window and guidance setting, so nothing is inserted
/// that the worker then fails for good (`"coat" policy=sjd:8` on a text model used to be, when submit took it
/// and the decoder refused it; both take it since the end-of-row layout runs the Jacobi policies, issue #25).
@Suite struct SubmitDecoderAgreementTests {
    static let policies: [String] = {
        var out = ["ntp"]
        for s in 1...8 { out += ["zipar:\(s)", "adaptive:\(s)", "official:\(s)"] }
        for k in [1, 2, 4, 8, 16, 17] { out += ["sjd:\(k)", "zipar-sjd:4,\(k)"] }
        return out
    }()

    @Test func anythingSubmitAcceptsForATextModelTheDecoderAccepts() throws {
        let engine = DecoderTokenEngine(textBundle: TextBundleFixture.bundle, batch: 2, maxQueries: 64)
        let submitLimits = ModelLimits.textModel(grid: TextBundleFixture.bundle.layout.columns)
        var accepted = 0
        for (n, policy) in Self.policies.enumerated() {
            for cfg: Float in [1, 3] {
                let request = try TextBundleFixture.request("r\(n)-\(cfg)", prompt: "a coat", policy: policy, cfg: cfg)
                let submit = Result { try request.parameters.validate(for: submitLimits) }
                let decoder = Result { _ = try engine.setup(for: request) }
                #expect(submit.succeeded == decoder.succeeded, "\(policy) cfg \(cfg): submit \(submit), decoder \(decoder)")
                if submit.succeeded { accepted += 1 }
            }
        }
        #expect(accepted > 0)
        // The case the probe found, and the speculative policies now taken on both sides up to K = 16.
        for k in [1, 2, 4, 8, 16] {
            for policy in ["sjd:\(k)", "zipar-sjd:4,\(k)"] {
                let r = try TextBundleFixture.request("sjd", prompt: "coat", policy: policy, cfg: 3)
                #expect(throws: Never.self, "\(policy)") { try r.parameters.validate(for: submitLimits) }
                #expect(throws: Never.self, "\(policy)") { _ = try RequestDecoder(request: r, setup: try engine.setup(for: r)) }
            }
        }
        let tooWide = try TextBundleFixture.request("sjd", prompt: "coat", policy: "sjd:17")
        #expect(throws: ParameterError.self) { try tooWide.parameters.validate(for: submitLimits) }
        #expect(throws: ParameterError.self) { _ = try engine.setup(for: tooWide) }
    }
}

extension Result {
    var succeeded: Bool { if case .success = self { return true } else { return false } }
}
