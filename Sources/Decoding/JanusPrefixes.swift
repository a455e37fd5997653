import JobCore
import Model
import TextModel

/// Janus's prefixes: the prompt in Janus's template ending in <begin_of_image>; the image in raster order with
/// no end-of-row tokens (LlamaGen's layout after a text prompt), codes numbered past the language vocabulary.
extension JanusBundle: RequestPrefixes {
    /// The limits Janus jobs are validated against.
    public var limits: ModelLimits { .textModel(grid: generation.grid, endOfRowLayout: false) }

    public var imageVocabulary: Range<Int> { firstCodeID..<(firstCodeID + generation.codes) }

    public func setup(for request: GenerationRequest, maxPositions: Int) throws -> DecodingSetup {
        let p = request.parameters
        try p.validate(for: limits)
        let cond = promptTokens(caption: p.prompt ?? "")
        // Guidance: the reference's unconditional prompt (the same ids, all but BOS and the image start tag
        // padded), or a negative prompt in its place.
        let uncond = p.sampling.cfgScale == 1 ? [] : p.negativePrompt.map { promptTokens(caption: $0) } ?? unconditional(cond)
        let g = generation.grid
        let layout = ImageLayout(rows: g, columns: g, prefixLength: max(cond.count, uncond.count),
                                 imageTokenOffset: firstCodeID, codebookSize: generation.codes)
        return try .prompted(p, cond: cond, uncond: uncond, layout: layout, limits: limits, maxPositions: maxPositions)
    }
}

extension DecoderTokenEngine {
    /// A Janus engine sized for `batch` requests (two sequences each with guidance) whose caches hold a prompt of
    /// up to `maxPromptTokens` plus the image; its head is the generation head over the codes.
    public convenience init(janus: JanusBundle, batch: Int, maxQueries: Int, maxPromptTokens: Int = 256,
                            attentionMode: AttentionMode = .masked) {
        let g = janus.generation.grid
        let engine = janus.transformer.engine(maxQueries: maxQueries, maxSequences: 2 * batch, maxPositions: maxPromptTokens + g * g,
                                              logitsVocabulary: janus.imageVocabulary, attentionMode: attentionMode)
        self.init(engine: engine, prefixes: janus)
    }
}
