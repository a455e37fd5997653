import Foundation
import Model

/// Reading `config.json` as the reference projects write it.
///
/// Accepted layouts:
/// * Chameleon / Lumina-mGPT: flat, `model_type` "chameleon".
/// * Emu3 as its original checkpoints write it: flat, `model_type` "Emu3" (or "emu3_text_model", what
///   the Hugging Face text-only class saves).
/// * Emu3 as the Hugging Face conversion writes it: `model_type` "emu3" with the decoder's fields nested
///   under `text_config` (the VQ model's under `vq_config`, ignored here).
/// * Janus / Janus-Pro (transformers' JanusForConditionalGeneration): `model_type` "janus", the Llama
///   language model under `text_config` (the VQ model and generation modules: `JanusConfigFile`).
///
/// RoPE comes either as `rope_theta` with `rope_scaling` null/absent (older writers) or as
/// `rope_parameters: {"rope_type": "default", "rope_theta": ...}` (newer ones). Anything the forward pass
/// does not implement (RoPE scaling, biases, an activation other than SiLU, Chameleon's swin_norm) fails
/// with `ModelError.badConfig` naming the field, never silently.
extension TextModelConfig {
    public static func load(path: String) throws -> TextModelConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        return try parse(json: data, source: path)
    }

    public static func parse(json data: Data, source: String = "config.json") throws -> TextModelConfig {
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.badConfig(field: "(file)", reason: "\(source) is not a JSON object")
        }
        let root = ConfigFields(values: top, prefix: "")
        let modelType = try root.string("model_type")
        let family: TextModelFamily
        var fields = root
        switch modelType {
        case "chameleon":
            family = .chameleon
        case "Emu3", "emu3_text_model":
            family = .emu3
        case "emu3":
            family = .emu3
            guard let text = top["text_config"] as? [String: Any] else {
                throw ModelError.badConfig(field: "text_config", reason: "missing: model_type \"emu3\" nests the decoder's fields there")
            }
            fields = ConfigFields(values: text, prefix: "text_config.")
        case "janus":
            family = .janus
            guard let text = top["text_config"] as? [String: Any] else {
                throw ModelError.badConfig(field: "text_config", reason: "missing: model_type \"janus\" nests the language model's fields there")
            }
            fields = ConfigFields(values: text, prefix: "text_config.")
        default:
            throw ModelError.badConfig(field: "model_type",
                                       reason: "\"\(modelType)\" is not supported (expected chameleon, Emu3, emu3, emu3_text_model or janus)")
        }
        return try fields.decoderConfig(family: family, root: root)
    }
}

/// One JSON object's fields, with errors that name the field by its full path.
private struct ConfigFields {
    let values: [String: Any]
    let prefix: String

    func bad(_ key: String, _ reason: String) -> ModelError { .badConfig(field: prefix + key, reason: reason) }

    func isNullOrAbsent(_ key: String) -> Bool { values[key] == nil || values[key] is NSNull }

    func string(_ key: String) throws -> String {
        guard let v = values[key] else { throw bad(key, "missing") }
        guard let s = v as? String else { throw bad(key, "must be a string") }
        return s
    }

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        if isNullOrAbsent(key), let fallback { return fallback }
        guard let v = values[key] else { throw bad(key, "missing") }
        guard let d = (v as? NSNumber)?.doubleValue, d == d.rounded() else { throw bad(key, "must be an integer") }
        return Int(d)
    }

    func float(_ key: String, default fallback: Float) throws -> Float {
        if isNullOrAbsent(key) { return fallback }
        guard let d = (values[key] as? NSNumber)?.doubleValue else { throw bad(key, "must be a number") }
        return Float(d)
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        if isNullOrAbsent(key) { return fallback }
        guard let b = values[key] as? Bool else { throw bad(key, "must be true or false") }
        return b
    }

    /// A boolean switch whose `true` the forward pass does not implement.
    func requireFalse(_ key: String, _ why: String) throws {
        if try bool(key, default: false) { throw bad(key, "true is not supported: \(why)") }
    }

    /// theta of plain 1-D RoPE, from either spelling; any scaling is refused.
    func ropeTheta(default fallback: Float) throws -> Float {
        if let parameters = values["rope_parameters"], !(parameters is NSNull) {
            guard let p = parameters as? [String: Any] else { throw bad("rope_parameters", "must be an object") }
            let nested = ConfigFields(values: p, prefix: prefix + "rope_parameters.")
            let type = nested.isNullOrAbsent("rope_type") ? "default" : try nested.string("rope_type")
            guard type == "default" else {
                throw nested.bad("rope_type", "\"\(type)\" is not supported: only plain RoPE (\"default\") is implemented")
            }
            return try nested.float("rope_theta", default: try float("rope_theta", default: fallback))
        }
        guard isNullOrAbsent("rope_scaling") else {
            throw bad("rope_scaling", "is set, but only plain RoPE (rope_scaling null) is implemented")
        }
        return try float("rope_theta", default: fallback)
    }

    func decoderConfig(family: TextModelFamily, root: ConfigFields) throws -> TextModelConfig {
        let hidden = try int("hidden_size")
        let heads = try int("num_attention_heads")
        let kvHeads = try int("num_key_value_heads", default: heads)
        if hidden <= 0 { throw bad("hidden_size", "must be positive") }
        if heads <= 0 || hidden % heads != 0 { throw bad("num_attention_heads", "\(heads) must divide hidden_size \(hidden)") }
        if kvHeads <= 0 || heads % kvHeads != 0 {
            throw bad("num_key_value_heads", "\(kvHeads) must divide num_attention_heads \(heads)")
        }
        if (hidden / heads) % 2 != 0 { throw bad("num_attention_heads", "head_dim \(hidden / heads) must be even for RoPE") }
        if !isNullOrAbsent("head_dim"), try int("head_dim") != hidden / heads {
            throw bad("head_dim", "\(try int("head_dim")) differs from hidden_size / num_attention_heads = \(hidden / heads): not supported")
        }
        let activation = isNullOrAbsent("hidden_act") ? "silu" : try string("hidden_act")
        guard activation == "silu" else { throw bad("hidden_act", "\"\(activation)\" is not supported (the MLP is SwiGLU with silu)") }
        try requireFalse("attention_bias", "the attention projections are implemented without biases")
        try requireFalse("mlp_bias", "the MLP projections are implemented without biases")

        var queryKeyNorm = false
        if family == .chameleon {
            try requireFalse("swin_norm", "only the pre-norm decoder layer (swin_norm false) is implemented")
            // The reference Chameleon attention always applies its per-head query/key LayerNorm.
            guard try bool("qk_layernorm", default: true) else {
                throw bad("qk_layernorm", "false is not supported: the Chameleon attention always normalises queries and keys")
            }
            queryKeyNorm = true
            let parallel = try int("model_parallel_size", default: 1)
            if parallel <= 0 || heads % parallel != 0 || kvHeads % parallel != 0 {
                throw bad("model_parallel_size", "\(parallel) must divide num_attention_heads and num_key_value_heads")
            }
        }
        let vocab = try int("vocab_size")
        if vocab <= 0 { throw bad("vocab_size", "must be positive") }
        let positions = try int("max_position_embeddings")
        if positions <= 0 { throw bad("max_position_embeddings", "must be positive") }
        let layers = try int("num_hidden_layers")
        if layers <= 0 { throw bad("num_hidden_layers", "must be positive") }
        let intermediate = try int("intermediate_size")
        if intermediate <= 0 { throw bad("intermediate_size", "must be positive") }
        // Tying may be declared on the decoder's config or, for the nested Emu3 layout, on the outer one.
        let tie = try bool("tie_word_embeddings", default: try root.bool("tie_word_embeddings", default: false))
        return TextModelConfig(
            family: family, hiddenSize: hidden, intermediateSize: intermediate, layers: layers, heads: heads,
            kvHeads: kvHeads, vocabSize: vocab, maxPositions: positions,
            rmsNormEps: try float("rms_norm_eps", default: 1e-5),
            ropeTheta: try ropeTheta(default: family == .emu3 ? 1_000_000 : 10_000),
            tieWordEmbeddings: tie, queryKeyNorm: queryKeyNorm)
    }
}
