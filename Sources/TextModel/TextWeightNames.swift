import Model

/// Where a checkpoint keeps the decoder's tensors. The names below the prefix are the same in every
/// layout (`embed_tokens.weight`, `layers.N.self_attn.q_proj.weight`, `layers.N.mlp.gate_proj.weight`,
/// `layers.N.input_layernorm.weight`, `norm.weight`, Chameleon's `layers.N.self_attn.q_norm.{weight,bias}`);
/// the prefixes differ by writer:
///
/// | writer                                                  | decoder prefix        | head                        |
/// |---------------------------------------------------------|-----------------------|-----------------------------|
/// | Chameleon / Lumina-mGPT, original Emu3, Emu3ForCausalLM | `model.`              | `lm_head.weight`            |
/// | Emu3ForConditionalGeneration as published on the Hub    | `text_model.model.`   | `text_model.lm_head.weight` |
/// | Emu3ForConditionalGeneration's in-memory names          | `model.text_model.`   | `lm_head.weight`            |
/// | JanusForConditionalGeneration (Janus, Janus-Pro)        | `model.language_model.` | `lm_head.weight`          |
///
/// Other tensors (Chameleon's `model.vqmodel.*`, Emu3's `vqmodel.*`, Janus's VQ model, generation modules and
/// SigLIP understanding tower) are not the decoder's.
public struct TextWeightNames: Sendable, Equatable {
    public let decoderPrefix: String
    public let head: String

    static let layouts: [TextWeightNames] = [
        TextWeightNames(decoderPrefix: "model.", head: "lm_head.weight"),
        TextWeightNames(decoderPrefix: "text_model.model.", head: "text_model.lm_head.weight"),
        TextWeightNames(decoderPrefix: "model.text_model.", head: "lm_head.weight"),
        TextWeightNames(decoderPrefix: "model.language_model.", head: "lm_head.weight"),
    ]

    init(decoderPrefix: String, head: String) {
        self.decoderPrefix = decoderPrefix
        self.head = head
    }

    /// The layout whose token embedding the checkpoint holds.
    public init(checkpoint: HFCheckpoint) throws {
        guard let layout = Self.layouts.first(where: { checkpoint.contains($0.decoderPrefix + "embed_tokens.weight") }) else {
            let tried = Self.layouts.map { $0.decoderPrefix + "embed_tokens.weight" }.joined(separator: ", ")
            throw ModelError.badInput("\(checkpoint.directory): no token embedding found (looked for \(tried))")
        }
        self = layout
    }

    public var embedding: String { decoderPrefix + "embed_tokens.weight" }
    public var finalNorm: String { decoderPrefix + "norm.weight" }

    public func layer(_ index: Int, _ suffix: String) -> String { "\(decoderPrefix)layers.\(index).\(suffix)" }

    /// Whether a tensor belongs to the decoder or its head (not to a VQ model stored alongside).
    public func isDecoderTensor(_ name: String) -> Bool {
        name == head || (name.hasPrefix(decoderPrefix) && !name.hasPrefix(decoderPrefix + "vqmodel."))
    }
}
