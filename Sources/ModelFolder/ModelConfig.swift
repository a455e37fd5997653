import Foundation

/// Hyper-parameters of a LlamaGen class-conditional GPT (`gpt` section of config.json).
public struct GPTConfig: Codable, Sendable, Equatable {
    public var dim: Int
    public var nLayer: Int
    public var nHead: Int
    public var nKVHead: Int?
    public var vocabSize: Int
    public var numClasses: Int
    /// Side of the square token grid (16 for 256 px, 24 for 384 px).
    public var grid: Int
    public var clsTokenNum: Int
    public var multipleOf: Int
    public var ffnDimMultiplier: Double?
    public var normEps: Float
    public var ropeBase: Float

    enum CodingKeys: String, CodingKey {
        case dim, grid
        case nLayer = "n_layer", nHead = "n_head", nKVHead = "n_kv_head", vocabSize = "vocab_size"
        case numClasses = "num_classes", clsTokenNum = "cls_token_num", multipleOf = "multiple_of"
        case ffnDimMultiplier = "ffn_dim_multiplier", normEps = "norm_eps", ropeBase = "rope_base"
    }

    public init(dim: Int, nLayer: Int, nHead: Int, nKVHead: Int? = nil, vocabSize: Int, numClasses: Int,
                grid: Int, clsTokenNum: Int = 1, multipleOf: Int = 256, ffnDimMultiplier: Double? = nil,
                normEps: Float = 1e-5, ropeBase: Float = 10000) {
        self.dim = dim; self.nLayer = nLayer; self.nHead = nHead; self.nKVHead = nKVHead
        self.vocabSize = vocabSize; self.numClasses = numClasses; self.grid = grid
        self.clsTokenNum = clsTokenNum; self.multipleOf = multipleOf
        self.ffnDimMultiplier = ffnDimMultiplier; self.normEps = normEps; self.ropeBase = ropeBase
    }

    public var kvHeads: Int { nKVHead ?? nHead }
    public var headDim: Int { dim / nHead }
    /// Image tokens per image.
    public var imageTokens: Int { grid * grid }
    /// Positions in a sequence: the class-token prefix, then the image tokens in raster order.
    public var sequenceLength: Int { clsTokenNum + imageTokens }

    /// LlamaGen's SwiGLU width: `2/3 * 4 * dim`, times the optional multiplier, rounded up to `multiple_of`.
    public var ffnHidden: Int {
        var hidden = Int(2 * (4 * dim) / 3)
        if let m = ffnDimMultiplier { hidden = Int(m * Double(hidden)) }
        if hidden % multipleOf != 0 { hidden += multipleOf - hidden % multipleOf }
        return hidden
    }

    /// Official shapes, for random-weight benchmarks (no download needed).
    public static func official(_ name: String, grid: Int = 16) -> GPTConfig? {
        let shapes: [String: (Int, Int, Int)] = [
            "GPT-B": (768, 12, 12), "GPT-L": (1024, 24, 16), "GPT-XL": (1280, 36, 20), "GPT-XXL": (1536, 48, 24),
        ]
        guard let (dim, layers, heads) = shapes[name] else { return nil }
        return GPTConfig(dim: dim, nLayer: layers, nHead: heads, vocabSize: 16384, numClasses: 1000, grid: grid)
    }

    func validate() throws {
        func bad(_ field: String, _ why: String) -> ModelError { .badConfig(field: "gpt.\(field)", reason: why) }
        if dim <= 0 { throw bad("dim", "must be positive") }
        if nHead <= 0 || dim % nHead != 0 { throw bad("n_head", "must divide dim \(dim)") }
        if kvHeads <= 0 || nHead % kvHeads != 0 { throw bad("n_kv_head", "must divide n_head \(nHead)") }
        if headDim % 4 != 0 { throw bad("n_head", "head_dim \(headDim) must be a multiple of 4 for 2-D RoPE") }
        if grid <= 0 { throw bad("grid", "must be positive") }
        if clsTokenNum < 1 { throw bad("cls_token_num", "must be at least 1") }
        if vocabSize <= 0 { throw bad("vocab_size", "must be positive") }
        if numClasses <= 0 { throw bad("num_classes", "must be positive") }
        if multipleOf <= 0 { throw bad("multiple_of", "must be positive") }
    }
}

/// Hyper-parameters of LlamaGen's VQ tokenizer decoder (`vq` section of config.json).
public struct VQConfig: Codable, Sendable, Equatable {
    public var codebookSize: Int
    public var codebookEmbedDim: Int
    public var codebookL2Norm: Bool
    public var zChannels: Int
    public var ch: Int
    public var chMult: [Int]
    public var numResBlocks: Int
    public var outChannels: Int
    public var imageSize: Int

    enum CodingKeys: String, CodingKey {
        case ch
        case codebookSize = "codebook_size", codebookEmbedDim = "codebook_embed_dim"
        case codebookL2Norm = "codebook_l2_norm", zChannels = "z_channels", chMult = "ch_mult"
        case numResBlocks = "num_res_blocks", outChannels = "out_channels", imageSize = "image_size"
    }

    public init(codebookSize: Int, codebookEmbedDim: Int = 8, codebookL2Norm: Bool = true, zChannels: Int = 256,
                ch: Int = 128, chMult: [Int] = [1, 1, 2, 2, 4], numResBlocks: Int = 2, outChannels: Int = 3,
                imageSize: Int = 256) {
        self.codebookSize = codebookSize; self.codebookEmbedDim = codebookEmbedDim
        self.codebookL2Norm = codebookL2Norm; self.zChannels = zChannels; self.ch = ch; self.chMult = chMult
        self.numResBlocks = numResBlocks; self.outChannels = outChannels; self.imageSize = imageSize
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        codebookSize = try c.decode(Int.self, forKey: .codebookSize)
        codebookEmbedDim = try c.decodeIfPresent(Int.self, forKey: .codebookEmbedDim) ?? 8
        codebookL2Norm = try c.decodeIfPresent(Bool.self, forKey: .codebookL2Norm) ?? true
        zChannels = try c.decodeIfPresent(Int.self, forKey: .zChannels) ?? 256
        ch = try c.decodeIfPresent(Int.self, forKey: .ch) ?? 128
        chMult = try c.decodeIfPresent([Int].self, forKey: .chMult) ?? [1, 1, 2, 2, 4]
        numResBlocks = try c.decodeIfPresent(Int.self, forKey: .numResBlocks) ?? 2
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? 3
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? 256
    }

    /// Pixels per token side: the decoder doubles the resolution once per level but the first.
    public var upsampling: Int { 1 << (chMult.count - 1) }
}

/// config.json beside the weights: `{"name", "gpt": {...}, "vq": {...}, "class_names": [...]}`.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var name: String
    public var gpt: GPTConfig
    public var vq: VQConfig?
    public var classNames: [String]?

    enum CodingKeys: String, CodingKey {
        case name, gpt, vq
        case classNames = "class_names"
    }

    public init(name: String, gpt: GPTConfig, vq: VQConfig?, classNames: [String]? = nil) {
        self.name = name; self.gpt = gpt; self.vq = vq; self.classNames = classNames
    }

    public static func load(path: String) throws -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.missingFile(path)
        }
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ModelError.badConfig(field: (ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."),
                                       reason: "missing in \(path)")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ModelError.badConfig(field: ctx.codingPath.map(\.stringValue).joined(separator: "."),
                                       reason: "wrong type in \(path)")
        } catch {
            throw ModelError.badConfig(field: "(file)", reason: "\(path) is not valid JSON: \(error)")
        }
        try config.gpt.validate()
        if let vq = config.vq, vq.codebookSize != config.gpt.vocabSize {
            throw ModelError.badConfig(field: "vq.codebook_size",
                                       reason: "\(vq.codebookSize) differs from gpt.vocab_size \(config.gpt.vocabSize)")
        }
        return config
    }

    /// Class id for a name or a decimal id ("3", "dress").
    public func classID(for text: String) -> Int? {
        if let n = Int(text) { return (0..<gpt.numClasses).contains(n) ? n : nil }
        let t = text.lowercased()
        return classNames?.firstIndex { $0.lowercased() == t }
    }

    public func className(_ id: Int) -> String {
        if let names = classNames, id >= 0, id < names.count { return names[id] }
        return "class-\(id)"
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case badConfig(field: String, reason: String)
    case badInput(String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "missing file \(p)"
        case .badConfig(let f, let r): return "config field \(f): \(r)"
        case .badInput(let m): return m
        }
    }
}
