import Foundation
import Model

/// The VQGAN configuration of Chameleon / Lumina-mGPT: the `vq_config` of a Chameleon config.json (the fields
/// of transformers' `ChameleonVQVAEConfig`), or the same fields at the top level. Absent fields take
/// transformers' defaults. The original VQGAN spellings `z_channels` and `out_ch` are accepted too;
/// `out_channels` is not in transformers' config (Chameleon images are RGB: 3).
public struct ChameleonVQConfig: Decodable, Sendable, Equatable {
    public var embedDim: Int                  // codebook vector width
    public var numEmbeddings: Int             // codebook size
    public var latentChannels: Int            // the VQGAN's z_channels: decoder input width
    public var resolution: Int                // image side the attention resolutions refer to
    public var baseChannels: Int
    public var channelMultiplier: [Int]       // per level, level 0 = full resolution
    public var numResBlocks: Int              // the decoder has one more per level
    public var attnResolutions: [Int]         // image sides (at `resolution`) whose level has attention
    public var outChannels: Int
    public var attnType: String               // "vanilla" (attention) or "none" (the middle attention is skipped)

    enum CodingKeys: String, CodingKey {
        case embedDim = "embed_dim", numEmbeddings = "num_embeddings", latentChannels = "latent_channels"
        case zChannels = "z_channels", resolution, baseChannels = "base_channels"
        case channelMultiplier = "channel_multiplier", numResBlocks = "num_res_blocks"
        case attnResolutions = "attn_resolutions", outChannels = "out_channels", outCh = "out_ch"
        case attnType = "attn_type"
    }

    /// transformers' defaults (Chameleon's released VQGAN).
    public init(embedDim: Int = 256, numEmbeddings: Int = 8192, latentChannels: Int = 256, resolution: Int = 512,
                baseChannels: Int = 128, channelMultiplier: [Int] = [1, 1, 2, 2, 4], numResBlocks: Int = 2,
                attnResolutions: [Int] = [], outChannels: Int = 3, attnType: String = "vanilla") {
        self.embedDim = embedDim; self.numEmbeddings = numEmbeddings; self.latentChannels = latentChannels
        self.resolution = resolution; self.baseChannels = baseChannels; self.channelMultiplier = channelMultiplier
        self.numResBlocks = numResBlocks; self.attnResolutions = attnResolutions; self.outChannels = outChannels
        self.attnType = attnType
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ChameleonVQConfig()
        func int(_ key: CodingKeys) throws -> Int? { try c.decodeIfPresent(Int.self, forKey: key) }
        self.init(
            embedDim: try int(.embedDim) ?? d.embedDim,
            numEmbeddings: try int(.numEmbeddings) ?? d.numEmbeddings,
            latentChannels: try int(.latentChannels) ?? int(.zChannels) ?? d.latentChannels,
            resolution: try int(.resolution) ?? d.resolution,
            baseChannels: try int(.baseChannels) ?? d.baseChannels,
            channelMultiplier: try c.decodeIfPresent([Int].self, forKey: .channelMultiplier) ?? d.channelMultiplier,
            numResBlocks: try int(.numResBlocks) ?? d.numResBlocks,
            attnResolutions: try c.decodeIfPresent([Int].self, forKey: .attnResolutions) ?? d.attnResolutions,  // null: none
            outChannels: try int(.outChannels) ?? int(.outCh) ?? d.outChannels,
            attnType: try c.decodeIfPresent(String.self, forKey: .attnType) ?? d.attnType)
    }

    /// Reads and checks the config.json at `path`.
    public static func load(path: String) throws -> ChameleonVQConfig {
        let config = try VQConfigFile.decode(ChameleonVQConfig.self, from: try VQConfigFile.vqSection(path: path), path: path)
        try config.validate()
        return config
    }

    /// Pixels per token side: one 2x upsampling per level but the first.
    public var upsampling: Int { 1 << (channelMultiplier.count - 1) }

    /// Whether the level `level` (0 = full resolution) has attention after each ResnetBlock: its side is listed
    /// in `attn_resolutions`, sides counted as the reference does (`resolution / 2^(levels-1)`, rounded down, at
    /// the deepest level, doubling on the way up).
    public func hasAttention(level: Int) -> Bool {
        let deepest = channelMultiplier.count - 1
        return attnType == "vanilla" && attnResolutions.contains((resolution >> deepest) << (deepest - level))
    }

    public func validate() throws {
        func bad(_ field: String, _ reason: String) -> ModelError { .badConfig(field: field, reason: reason) }
        guard numEmbeddings > 0, embedDim > 0, latentChannels > 0, outChannels > 0, numResBlocks >= 0 else {
            throw bad("embed_dim/num_embeddings/latent_channels/out_channels/num_res_blocks", "must be positive")
        }
        guard !channelMultiplier.isEmpty, channelMultiplier.allSatisfy({ $0 > 0 && (baseChannels * $0) % 32 == 0 }) else {
            throw bad("channel_multiplier", "every level needs a positive multiple of 32 channels (GroupNorm of 32)")
        }
        // "linear" attention exists in the VQGAN code but no Chameleon checkpoint uses it.
        guard attnType == "vanilla" || attnType == "none" else { throw bad("attn_type", "\(attnType) is not supported") }
    }
}
