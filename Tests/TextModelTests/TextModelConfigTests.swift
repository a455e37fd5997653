import Foundation
import Model
import Testing
@testable import TextModel

@Suite struct TextModelConfigTests {
    /// The decoder fields of a small model, as a JSON object to edit.
    static func fields(_ extra: [String: Any] = [:]) -> [String: Any] {
        var f: [String: Any] = ["hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
                                "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 384,
                                "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "hidden_act": "silu"]
        for (k, v) in extra { f[k] = v }
        return f
    }

    static func parse(_ object: [String: Any]) throws -> TextModelConfig {
        try TextModelConfig.parse(json: JSONSerialization.data(withJSONObject: object))
    }

    /// The field a parse failure names.
    static func failingField(_ object: [String: Any]) -> String? {
        do { _ = try parse(object); return nil } catch ModelError.badConfig(let field, _) { return field } catch { return "\(error)" }
    }

    @Test func fixtureConfigsParse() throws {
        let emu3 = try TextModelConfig.load(path: TextModelFixtures.path("emu3-tiny") + "/config.json")
        #expect(emu3 == TextModelConfig(family: .emu3, hiddenSize: 64, intermediateSize: 160, layers: 2, heads: 4, kvHeads: 2,
                                        vocabSize: 384, maxPositions: 64, rmsNormEps: 1e-5, ropeTheta: 1_000_000))
        let chameleon = try TextModelConfig.load(path: TextModelFixtures.path("chameleon-tiny") + "/config.json")
        #expect(chameleon.family == .chameleon && chameleon.queryKeyNorm && chameleon.ropeTheta == 10_000)
        #expect(chameleon.headDim == 16 && chameleon.kvHeads == 2 && chameleon.vocabSize == 320)
    }

    @Test func originalEmu3FlatLayout() throws {
        // The original Emu3 checkpoints: model_type "Emu3", rope_theta with rope_scaling null, no head_dim.
        let c = try Self.parse(Self.fields(["model_type": "Emu3", "rope_theta": 1_000_000.0, "rope_scaling": NSNull(),
                                            "pretraining_tp": 1, "attention_dropout": 0.1]))
        #expect(c.family == .emu3 && c.ropeTheta == 1_000_000 && c.rmsNormEps == 1e-6 && !c.tieWordEmbeddings)
    }

    @Test func nestedEmu3Layout() throws {
        let c = try Self.parse(["model_type": "emu3", "tie_word_embeddings": true,
                                "text_config": Self.fields(["model_type": "emu3_text_model", "rope_theta": 5000.0])])
        #expect(c.family == .emu3 && c.ropeTheta == 5000 && c.tieWordEmbeddings)
        #expect(Self.failingField(["model_type": "emu3", "text_config": Self.fields(["hidden_size": NSNull()])]) == "text_config.hidden_size")
        #expect(Self.failingField(["model_type": "emu3"]) == "text_config")
    }

    @Test func chameleonDefaults() throws {
        let c = try Self.parse(Self.fields(["model_type": "chameleon", "qk_layernorm": true, "swin_norm": false,
                                            "model_parallel_size": 2, "rope_scaling": NSNull()]))
        #expect(c.family == .chameleon && c.queryKeyNorm && c.ropeTheta == 10_000 && c.queryKeyNormEps == 1e-5)
        #expect(c.kvHeads == 2 && c.headDim == 16)
        let noKV = try Self.parse(Self.fields(["model_type": "chameleon", "num_key_value_heads": NSNull()]))
        #expect(noKV.kvHeads == 4)
    }

    @Test func unsupportedValuesNameTheirField() {
        let emu3 = ["model_type": "Emu3"]
        let chameleon = ["model_type": "chameleon"]
        func field(_ base: [String: String], _ extra: [String: Any]) -> String? {
            var f = Self.fields(extra)
            for (k, v) in base { f[k] = v }
            return Self.failingField(f)
        }
        #expect(field(emu3, ["rope_scaling": ["type": "linear", "factor": 2.0]]) == "rope_scaling")
        #expect(field(emu3, ["rope_parameters": ["rope_type": "yarn", "rope_theta": 1e6]]) == "rope_parameters.rope_type")
        #expect(field(emu3, ["hidden_act": "gelu"]) == "hidden_act")
        #expect(field(emu3, ["attention_bias": true]) == "attention_bias")
        #expect(field(emu3, ["mlp_bias": true]) == "mlp_bias")
        #expect(field(emu3, ["num_key_value_heads": 3]) == "num_key_value_heads")
        #expect(field(emu3, ["num_attention_heads": 5]) == "num_attention_heads")
        #expect(field(emu3, ["head_dim": 32]) == "head_dim")
        #expect(field(emu3, ["vocab_size": "many"]) == "vocab_size")
        #expect(field(emu3, ["max_position_embeddings": NSNull()]) == "max_position_embeddings")
        #expect(field(chameleon, ["swin_norm": true]) == "swin_norm")
        #expect(field(chameleon, ["qk_layernorm": false]) == "qk_layernorm")
        #expect(field(chameleon, ["model_parallel_size": 3]) == "model_parallel_size")
        #expect(field(["model_type": "llama"], [:]) == "model_type")
        #expect(Self.failingField(Self.fields()) == "model_type")
    }

    @Test func missingFileAndBadJSON() throws {
        #expect(throws: ModelError.missingFile("/nonexistent/config.json")) {
            try TextModelConfig.load(path: "/nonexistent/config.json")
        }
        #expect(throws: ModelError.self) { try TextModelConfig.parse(json: Data("[1, 2]".utf8)) }
        #expect(throws: (any Error).self) { try HFCheckpoint(directory: "/nonexistent") }
    }
}
