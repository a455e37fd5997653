import JobCore
import Model

/// LlamaGen's prefixes: the class (or, for guidance, the null class) at every class-token position.
extension GPTModel: RequestPrefixes {
    public func setup(for request: GenerationRequest, maxPositions: Int) throws -> DecodingSetup {
        .classConditional(request, config: config, nullClass: nullClass, limits: limits)
    }

    public var imageVocabulary: Range<Int> { 0..<config.vocabSize }

    /// The limits jobs for this model are validated against.
    public var limits: ModelLimits {
        .classModel(grid: config.grid, numClasses: config.numClasses, supportsGuidance: supportsGuidance)
    }
}

extension DecoderTokenEngine {
    /// A LlamaGen engine sized for `batch` requests: each may need two sequences (CFG's null-class twin),
    /// and the buffers hold `maxQueries` queries a pass.
    public convenience init(gpt: GPTModel, batch: Int, maxQueries: Int, attentionMode: AttentionMode = .masked) {
        self.init(engine: gpt.engine(maxQueries: maxQueries, maxSequences: 2 * batch, attentionMode: attentionMode), prefixes: gpt)
    }
}

extension DecodingSetup {
    /// LlamaGen: the class (or null class) at every class-token position.
    public static func classConditional(_ request: GenerationRequest, config: GPTConfig, nullClass: Int,
                                        limits: ModelLimits) -> DecodingSetup {
        let n = config.clsTokenNum
        return DecodingSetup(layout: .plain(classTokens: n, grid: config.grid, codebookSize: config.vocabSize),
                             cond: Array(repeating: .classLabel(request.classLabel), count: n),
                             uncond: Array(repeating: .classLabel(nullClass), count: n), limits: limits)
    }
}
