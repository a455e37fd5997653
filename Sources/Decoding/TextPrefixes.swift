import JobCore
import Model
import TextModel

/// A text-to-image bundle's prefixes: a prompt becomes `[BOS] caption [SOI] meta [IMG]`; the image is laid
/// out with end-of-row tokens.
extension TextModelBundle: RequestPrefixes {
    /// The limits text jobs for this bundle are validated against.
    public var limits: ModelLimits { ModelLimits.textModel(grid: layout.columns) }

    public var imageVocabulary: Range<Int> { layout.imageOffset..<(layout.imageOffset + layout.codebookSize) }

    public func setup(for request: GenerationRequest, maxPositions: Int) throws -> DecodingSetup {
        let p = request.parameters
        try p.validate(for: limits)
        let l = layout
        let cond = promptTokens(caption: p.prompt ?? "")
        // The unconditional side: the family's empty-caption prompt, or the negative prompt in its place.
        let uncond = p.sampling.cfgScale != 1 ? promptTokens(caption: p.negativePrompt ?? l.uncondCaption) : []
        let imageLayout = ImageLayout(rows: l.rows, columns: l.columns, prefixLength: max(cond.count, uncond.count),
                                      imageTokenOffset: l.imageOffset, codebookSize: l.codebookSize,
                                      endOfRow: .init(token: l.endOfRow, suffix: l.suffix))
        return try .prompted(p, cond: cond, uncond: uncond, layout: imageLayout, limits: limits, maxPositions: maxPositions)
    }

    /// Positions a sequence needs for a prompt of up to `maxPromptTokens` plus the image.
    public func positions(maxPromptTokens: Int) -> Int {
        maxPromptTokens + layout.rows * (layout.columns + 1) + layout.suffix.count
    }
}

extension DecoderTokenEngine {
    /// A text bundle's engine sized for `batch` requests (two sequences each with guidance) whose caches hold a
    /// prompt of up to `maxPromptTokens` plus the image; its head computes the image tokens' logits only.
    public convenience init(textBundle: TextModelBundle, batch: Int, maxQueries: Int, maxPromptTokens: Int = 256,
                            attentionMode: AttentionMode = .masked) {
        let engine = textBundle.transformer.engine(maxQueries: maxQueries, maxSequences: 2 * batch,
                                                   maxPositions: textBundle.positions(maxPromptTokens: maxPromptTokens),
                                                   logitsVocabulary: textBundle.imageVocabulary, attentionMode: attentionMode)
        self.init(engine: engine, prefixes: textBundle)
    }
}
