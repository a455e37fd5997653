import Foundation
import Kernels
import Model
import Testing
@testable import TextModel

/// Chameleon's decoder (per-head query/key LayerNorm) against Hugging Face's
/// ChameleonForConditionalGeneration (Tests/Fixtures/chameleon-tiny: BF16, one file, with VQ tensors).
/// The reference logits are the raw lm_head output: the class's forward() also overwrites the image-token
/// columns with the f32 minimum (text generation), which image generation must not do.
@Suite struct ChameleonParityTests {
    static let folder = "chameleon-tiny"

    @Test func logitsMatchReference() throws {
        let checks = try TextParityChecks(folder: Self.folder)
        #expect(checks.model.config.family == .chameleon && checks.model.config.queryKeyNorm)
        #expect(checks.model.weights.storage == .f32)   // BF16 widens to f32 (no bf16 kernel)
        #expect(checks.model.weights.layers[0].queryNorm != nil)
        try checks.prefillMatches()
    }

    @Test func oneTokenPerPassMatchesPrefill() throws {
        try TextParityChecks(folder: Self.folder).incrementalMatches()
    }

    @Test func outOfOrderSlotFillingMatchesSequential() throws {
        try TextParityChecks(folder: Self.folder).outOfOrderMatches()
    }

    @Test func imageTokenLogitsAreRaw() throws {
        // Image tokens get ordinary logits here (the reference forward would set them to the f32 minimum).
        let checks = try TextParityChecks(folder: Self.folder)
        let imageTokens = try checks.reference.file.integers("image_token_ids")
        #expect(imageTokens.count == 64)
        let got = try checks.engine().prefillLogits(tokens: checks.reference.tokens)
        #expect(imageTokens.allSatisfy { abs(got[0][$0]) < 100 })
    }

    /// The same (BF16-exact) values stored as F16 load as f16 weights and give the same logits.
    @Test func f16CheckpointKeepsF16() throws {
        let dir = try TextModelFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TextModelFixtures.rewriteCheckpoint(from: Self.folder, to: dir, type: .f16)
        try FileManager.default.copyItem(atPath: TextModelFixtures.path(Self.folder) + "/config.json",
                                         toPath: dir.appendingPathComponent("config.json").path)
        // f32 KV caches: the weights alone are then exact, so the logits match as tightly as in f32.
        let checks = try TextParityChecks(folder: Self.folder, directory: dir.path, cacheStorage: .f32)
        #expect(checks.model.weights.storage == .f16)
        try checks.prefillMatches(label: "f16 file, f32 caches")
        // The default for f16 weights is f16 caches: K and V rounded to f16, so only close.
        let engine = checks.model.engine(maxQueries: 32, maxSequences: 1)
        #expect(engine.cacheStorage == .f16)
        let err = TextModelFixtures.maxAbsDiff(try engine.prefillLogits(tokens: checks.reference.tokens), checks.reference.logits)
        print("chameleon-tiny f16 file, f16 caches: max |logit error| = \(err)")
        #expect(err <= 5e-3)
    }

    /// Lumina-mGPT stores one q_norm/k_norm row per model-parallel rank, shared by that rank's heads.
    @Test func perRankNormRowsRepeatPerHead() throws {
        let dir = try TextModelFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = SafeTensorsWriter()
        writer.add("w", floats: (0..<8).map(Float.init), shape: [2, 4])
        try writer.write(to: dir.appendingPathComponent("model.safetensors").path)
        let rows = try TextModelWeights.perHeadRows(try HFCheckpoint(directory: dir.path), "w", heads: 4, headDim: 4)
        #expect(rows == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7])
        #expect(TextModelWeights.interleaveHalves([0, 1, 2, 3], heads: 1, headDim: 4, rowWidth: 1) == [0, 2, 1, 3])
    }
}
