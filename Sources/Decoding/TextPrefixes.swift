import JobCore
import Model
import TextModel

/// A text-to-image bundle's prefixes: a prompt becomes `[BOS] caption [SOI] meta [IMG]`; the image is laid
/// out with end-of-row tokens.
extension TextModelBundle: RequestPrefixes {
    /// The limits text jobs for this bundle are validated against: any `size=HxW` whose image fits the
    /// context (what `TextModelIdentity` states for submit and the worker, from the same config.json field).
    public var limits: ModelLimits { ModelLimits.textModel(grid: layout.columns, maxPositions: transformer.config.maxPositions) }

    public var imageVocabulary: Range<Int> { layout.imageOffset..<(layout.imageOffset + layout.codebookSize) }

    public func setup(for request: GenerationRequest, maxPositions: Int) throws -> DecodingSetup {
        let p = request.parameters
        try p.validate(for: limits)
        let l = layout
        let (rows, columns) = (p.size?.rows ?? l.rows, p.size?.columns ?? l.columns)
        let cond = promptTokens(caption: p.prompt ?? "", rows: rows, columns: columns)
        // The unconditional side: the family's empty-caption prompt, or the negative prompt in its place;
        // both name the same grid in their meta text.
        let uncond = p.sampling.cfgScale != 1 ? promptTokens(caption: p.negativePrompt ?? l.uncondCaption, rows: rows, columns: columns) : []
        let imageLayout = ImageLayout(rows: rows, columns: columns, prefixLength: max(cond.count, uncond.count),
                                      imageTokenOffset: l.imageOffset, codebookSize: l.codebookSize,
                                      endOfRow: .init(token: l.endOfRow, suffix: l.suffix))
        return try .prompted(p, cond: cond, uncond: uncond, layout: imageLayout, limits: limits, maxPositions: maxPositions)
    }

    /// Positions a sequence needs for a prompt of up to `maxPromptTokens` plus the native image, or the
    /// model's whole context when larger (a `size=HxW` grid may take up to that; `ModelLimits.textModel`).
    public func positions(maxPromptTokens: Int) -> Int {
        max(maxPromptTokens + layout.rows * (layout.columns + 1) + layout.suffix.count, transformer.config.maxPositions)
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
