import Foundation
import Model

/// Emu3's VQ model configuration: the fields of transformers' `Emu3VQVAEConfig` that shape the decoder, read
/// from config.json (top level, or under `vq_config` in the full Emu3 config). Absent fields take
/// transformers' defaults; encoder-only fields (`in_channels`, `double_latent`) are ignored.
public struct Emu3VQConfig: Decodable, Sendable, Equatable {
    public var codebookSize: Int
    public var embedDim: Int                  // codebook vector width = channels of the spatial-norm condition
    public var latentChannels: Int            // decoder input width (after post_quant_conv)
    public var outChannels: Int
    public var temporalDownsampleFactor: Int  // 2^(number of temporal upsampling layers)
    public var baseChannels: Int
    public var channelMultiplier: [Int]       // per level, level 0 = full resolution
    public var numResBlocks: Int              // also the number of temporal ResnetBlocks
    public var attnResolutions: [Int]         // level indices (not pixel sides) with attention after each block
    public var hiddenSize: Int                // attention width: the channels of the levels with attention
    public var numAttentionHeads: Int

    enum CodingKeys: String, CodingKey {
        case codebookSize = "codebook_size", embedDim = "embed_dim", latentChannels = "latent_channels"
        case outChannels = "out_channels", temporalDownsampleFactor = "temporal_downsample_factor"
        case baseChannels = "base_channels", channelMultiplier = "channel_multiplier"
        case numResBlocks = "num_res_blocks", attnResolutions = "attn_resolutions", hiddenSize = "hidden_size"
        case numAttentionHeads = "num_attention_heads"
    }

    /// transformers' defaults (the released Emu3 vision tokenizer).
    public init(codebookSize: Int = 32768, embedDim: Int = 4, latentChannels: Int = 4, outChannels: Int = 3,
                temporalDownsampleFactor: Int = 4, baseChannels: Int = 256, channelMultiplier: [Int] = [1, 2, 2, 4],
                numResBlocks: Int = 2, attnResolutions: [Int] = [3], hiddenSize: Int = 1024, numAttentionHeads: Int = 1) {
        self.codebookSize = codebookSize; self.embedDim = embedDim; self.latentChannels = latentChannels
        self.outChannels = outChannels; self.temporalDownsampleFactor = temporalDownsampleFactor
        self.baseChannels = baseChannels; self.channelMultiplier = channelMultiplier; self.numResBlocks = numResBlocks
        self.attnResolutions = attnResolutions; self.hiddenSize = hiddenSize; self.numAttentionHeads = numAttentionHeads
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Emu3VQConfig()
        self.init(
            codebookSize: try c.decodeIfPresent(Int.self, forKey: .codebookSize) ?? d.codebookSize,
            embedDim: try c.decodeIfPresent(Int.self, forKey: .embedDim) ?? d.embedDim,
            latentChannels: try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? d.latentChannels,
            outChannels: try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels,
            temporalDownsampleFactor: try c.decodeIfPresent(Int.self, forKey: .temporalDownsampleFactor) ?? d.temporalDownsampleFactor,
            baseChannels: try c.decodeIfPresent(Int.self, forKey: .baseChannels) ?? d.baseChannels,
            channelMultiplier: try c.decodeIfPresent([Int].self, forKey: .channelMultiplier) ?? d.channelMultiplier,
            numResBlocks: try c.decodeIfPresent(Int.self, forKey: .numResBlocks) ?? d.numResBlocks,
            attnResolutions: try c.decodeIfPresent([Int].self, forKey: .attnResolutions) ?? d.attnResolutions,
            hiddenSize: try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize,
            numAttentionHeads: try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads)
    }

    /// Reads and checks the config.json at `path`.
    public static func load(path: String) throws -> Emu3VQConfig {
        let config = try VQConfigFile.decode(Emu3VQConfig.self, from: try VQConfigFile.vqSection(path: path), path: path)
        try config.validate()
        return config
    }

    /// Pixels per token side: one 2x upsampling per level but the first.
    public var upsampling: Int { 1 << (channelMultiplier.count - 1) }

    /// Number of temporal upsampling layers (log2 of `temporalDownsampleFactor`).
    public var temporalUpsamplings: Int { temporalDownsampleFactor.trailingZeroBitCount }

    /// The shape rules the reference relies on without checking them (it would fail inside a layer).
    public func validate() throws {
        func bad(_ field: String, _ reason: String) -> ModelError { .badConfig(field: field, reason: reason) }
        guard codebookSize > 0 else { throw bad("codebook_size", "must be positive") }
        guard embedDim > 0, outChannels > 0, baseChannels > 0, numResBlocks >= 0 else {
            throw bad("embed_dim/out_channels/base_channels/num_res_blocks", "must be positive")
        }
        // Latents and codebook vectors run through the temporal layers as one batch.
        guard latentChannels == embedDim else { throw bad("latent_channels", "must equal embed_dim (\(embedDim))") }
        guard temporalDownsampleFactor > 0, temporalDownsampleFactor & (temporalDownsampleFactor - 1) == 0 else {
            throw bad("temporal_downsample_factor", "must be a power of two")
        }
        guard !channelMultiplier.isEmpty, channelMultiplier.allSatisfy({ $0 > 0 && (baseChannels * $0) % 32 == 0 }) else {
            throw bad("channel_multiplier", "every level needs a positive multiple of 32 channels (GroupNorm of 32)")
        }
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw bad("num_attention_heads", "must divide hidden_size \(hiddenSize)")
        }
        let attended = [channelMultiplier.count - 1] + attnResolutions.filter { $0 >= 0 && $0 < channelMultiplier.count }
        for level in attended where baseChannels * channelMultiplier[level] != hiddenSize {
            throw bad("hidden_size", "\(hiddenSize) differs from the \(baseChannels * channelMultiplier[level]) channels "
                      + "of level \(level), which has attention")
        }
    }
}
