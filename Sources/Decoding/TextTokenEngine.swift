import Foundation
import JobCore
import Model
import TextModel

/// A text-to-image bundle's `TextEngine` as an `ImageTokenEngine`: requests carry a prompt, which becomes
/// the prefix `[BOS] caption [SOI] meta [IMG]`; the image is laid out with end-of-row tokens.
public final class TextTokenEngine: ImageTokenEngine {
    public let bundle: TextModelBundle
    public let engine: TextEngine
    private var open: [Int: TextSequenceID] = [:]

    public init(bundle: TextModelBundle, engine: TextEngine) {
        self.bundle = bundle; self.engine = engine
    }

    /// An engine sized for `batch` requests (two sequences each with guidance) whose caches hold a
    /// prompt of up to `maxPromptTokens` plus the image.
    public convenience init(bundle: TextModelBundle, batch: Int, maxQueries: Int, maxPromptTokens: Int = 256,
                            attentionMode: AttentionMode = .masked) {
        let l = bundle.layout
        let positions = maxPromptTokens + l.rows * (l.columns + 1) + l.suffix.count
        self.init(bundle: bundle, engine: TextEngine(model: bundle.transformer, maxQueries: maxQueries,
                                                     maxSequences: 2 * batch, maxPositions: positions,
                                                     attentionMode: attentionMode))
    }

    public var maxQueries: Int { engine.maxQueries }
    public var maxSequences: Int { engine.maxSequences }
    public var openSequences: Int { engine.openSequences }
    public var cacheBytes: Int { engine.cacheBytes }

    /// The limits text jobs for this bundle are validated against.
    public var limits: ModelLimits {
        ModelLimits.textModel(grid: bundle.layout.columns)
    }

    public func setup(for request: GenerationRequest) throws -> DecodingSetup {
        let p = request.parameters
        try p.validate(for: limits)
        let l = bundle.layout
        let cond = bundle.promptTokens(caption: p.prompt ?? "")
        // The unconditional side: the family's empty-caption prompt, or the negative prompt in its place.
        let uncond = p.sampling.cfgScale != 1 ? bundle.promptTokens(caption: p.negativePrompt ?? l.uncondCaption) : []
        let layout = ImageLayout(rows: l.rows, columns: l.columns, prefixLength: max(cond.count, uncond.count),
                                 imageTokenOffset: l.imageOffset, codebookSize: l.codebookSize,
                                 endOfRow: .init(token: l.endOfRow, suffix: l.suffix))
        guard layout.length <= engine.maxPositions else {
            throw ParameterError(field: p.negativePrompt != nil && uncond.count > cond.count ? "negative_prompt" : "prompt",
                                 message: "\(layout.prefixLength) prompt tokens plus the image make \(layout.length) positions; the engine holds \(engine.maxPositions)")
        }
        return DecodingSetup(layout: layout, cond: cond.map { .token($0) }, uncond: uncond.map { .token($0) }, limits: limits)
    }

    public func openSequence(for request: GenerationRequest) throws -> EngineSequence {
        let s = try engine.openSequence()
        open[s.slot] = s
        return EngineSequence(s.slot)
    }

    public func closeSequence(_ sequence: EngineSequence) {
        guard let s = open.removeValue(forKey: sequence.id) else { return }
        engine.closeSequence(s)
    }

    public func forward(_ queries: [EngineQuery]) -> [[Float]?] {
        let logits = engine.forward(queries.map { q in
            guard case .token(let t) = q.input else { preconditionFailure("a text model's inputs are token ids") }
            precondition(q.hidden.isEmpty, "TextEngine has no hidden positions")
            return TextQuery(sequence: open[q.sequence.id]!, position: q.position, token: t, wantsLogits: q.wantsLogits)
        })
        var out = [[Float]?](repeating: nil, count: queries.count)
        for (i, q) in logits.queryRows.enumerated() { out[q] = logits.row(i) }
        return out
    }
}
