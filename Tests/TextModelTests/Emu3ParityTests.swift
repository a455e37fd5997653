import Foundation
import Kernels
import Model
import Testing
@testable import TextModel

/// Emu3's decoder against Hugging Face's Emu3ForCausalLM (Tests/Fixtures/emu3-tiny: F32, two shards).
@Suite struct Emu3ParityTests {
    static let folder = "emu3-tiny"

    @Test func shardedCheckpointLoadsEveryTensor() throws {
        let checkpoint = try HFCheckpoint(directory: TextModelFixtures.path(Self.folder))
        #expect(!FileManager.default.fileExists(atPath: TextModelFixtures.path(Self.folder) + "/model.safetensors"))
        #expect(checkpoint.contains("model.embed_tokens.weight") && checkpoint.contains("lm_head.weight"))
        #expect(checkpoint.tensorNames.count == 3 + 2 * 9)
        #expect(try TextWeightNames(checkpoint: checkpoint) == TextWeightNames(decoderPrefix: "model.", head: "lm_head.weight"))
        #expect(try TextModelWeights.naturalStorage(of: checkpoint) == .f32)
    }

    @Test func logitsMatchReference() throws {
        let checks = try TextParityChecks(folder: Self.folder)
        #expect(checks.model.config.family == .emu3 && !checks.model.config.queryKeyNorm)
        try checks.prefillMatches()
    }

    @Test func oneTokenPerPassMatchesPrefill() throws {
        try TextParityChecks(folder: Self.folder).incrementalMatches()
    }

    @Test func outOfOrderSlotFillingMatchesSequential() throws {
        try TextParityChecks(folder: Self.folder).outOfOrderMatches()
    }

    /// The layout of the Emu3 "-hf" checkpoints: decoder fields nested under text_config, tensors under
    /// `text_model.model.` with the head at `text_model.lm_head.weight`, one file.
    @Test func hubConversionLayoutLoads() throws {
        let dir = try TextModelFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TextModelFixtures.rewriteCheckpoint(from: Self.folder, to: dir) { "text_model." + $0 }
        let flat = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: TextModelFixtures.path(Self.folder) + "/config.json")))
        let nested: [String: Any] = ["model_type": "emu3", "architectures": ["Emu3ForConditionalGeneration"],
                                     "text_config": flat, "vq_config": ["codebook_size": 8]]
        try JSONSerialization.data(withJSONObject: nested).write(to: dir.appendingPathComponent("config.json"))
        try TextParityChecks(folder: Self.folder, directory: dir.path).prefillMatches(label: "hub layout")
    }

    /// f16 storage of an f32 checkpoint: rounded weights, so only close, not equal.
    @Test func f16StorageStaysClose() throws {
        let checks = try TextParityChecks(folder: Self.folder, storage: .f16)
        let got = try checks.engine().prefillLogits(tokens: checks.reference.tokens)
        let err = TextModelFixtures.maxAbsDiff(got, checks.reference.logits)
        print("emu3-tiny with f16 storage: max |logit error| = \(err)")
        #expect(err <= 5e-3)
    }
}
