import Foundation
import JobCore
import Model

/// One query a request wants in the next pass, and what to do with its logits.
public struct PlannedQuery: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// A class-token prefix position whose output is not needed (cls_token_num > 1).
        case prefix
        /// Sample image token `token` for good.
        case decode(token: Int)
        /// Adaptive: propose a draft of row `row`'s first token from a window of `window` tokens of the row above.
        case draft(row: Int, window: Int)
        /// Adaptive: re-predict row `row`'s first token with `window` tokens above; accept or resample the draft.
        case verify(row: Int, window: Int)
        /// Overwrite the K/V of a placeholder in the last slot of row `row` with the real token; no logits.
        case rewrite(row: Int)
        /// End-of-row layout: write the K/V of final token `token`, the last of its row, which no query takes
        /// as input (the end-of-row token after it was fed when the next row started); no logits.
        case feed(token: Int)
        /// Speculative Jacobi: predict token `token` inside a window; verify its draft or sample it when every
        /// token before it is final, re-draft it otherwise. `freshDraft`: the input is a new draft of
        /// `token - 1`, drawn by `plan()` from its window's latest distribution (JacobiWindow.swift).
        case jacobi(token: Int, freshDraft: Bool)
        /// Speculative Jacobi on the end-of-row layout: write the draft of token `token`, the last of its row,
        /// at its slot; no logits. The window's next query sits on the end-of-row token after it (known, fed
        /// as it is), so the draft needs a query of its own. `freshDraft` as for `.jacobi`, for `token` itself.
        case draftFeed(token: Int, freshDraft: Bool)
    }

    /// Which sequences run the query: `.both` is the conditional one plus, when `guided`, its
    /// unconditional twin; a text request's prompt prefill has positions only one side's prompt covers.
    public enum Side: Sendable, Equatable { case both, conditional, unconditional }

    /// Sequence position (`ImageLayout`): on LlamaGen's layout `clsTokenNum + t` holds image token `t` and
    /// predicts token `t + 1`.
    public var position: Int
    /// The input (for an `.unconditional` query, the unconditional sequence's).
    public var input: DecoderQuery.Input
    public var action: Action
    /// True when the input is a stand-in for a token not decoded yet.
    public var isPlaceholder: Bool
    /// True when the query also runs in the null-class sequence (classifier-free guidance).
    public var guided: Bool
    /// Positions the query must not attend to: under zipar-sjd, the slots of rows above past their final
    /// tokens, where drafts may sit (JacobiWindow.swift).
    public var hidden: [Range<Int>] = []
    public var side: Side = .both
    /// The unconditional twin's input where it differs: the null class, the unconditional prompt's token.
    public var twinInput: DecoderQuery.Input? = nil

    public var wantsLogits: Bool {
        switch action {
        case .prefix, .rewrite, .feed, .draftFeed: return false
        default: return true
        }
    }
}

/// The decoding state of one request: which tokens exist, which rows are running, pending adaptive drafts,
/// and which placeholder slots still hold a stand-in. It knows nothing about the engine: `plan()` says which
/// queries the next pass should carry, `apply` consumes their logits. The window rules
/// (see docs/decoding.md):
///
/// Positions come from the request's `ImageLayout`: LlamaGen's plain raster after the class tokens, or a text
/// model's end-of-row layout after the prompt (docs/decoding.md, "Decoding the end-of-row layout").
///
/// - row 0 runs token by token from the prefix prefill (its last pass yields x(0,0));
/// - row i >= 1 starts once row i-1 has `w` tokens (w = S for zipar:S, W for ntp, W for row 1 under the
///   official schedule; on the end-of-row layout official:S is w = S - 1 for every row, the authors' Lumina
///   loop); x(i,j) for j >= 1 needs min(j + w, W) tokens of row i-1;
/// - to predict x(i,0) before x(i-1,W-1) exists, the slot (i-1,W-1) gets a placeholder: the last decoded token
///   of row i-2 (x(i-2,W-1) once that row is complete, as in the official code), or for i = 1 the last decoded
///   token of row 0. When the real x(i-1,W-1) arrives, the next pass rewrites that slot (no logits).
///   On the end-of-row layout the input before x(i,0) is EOL(i-1), known in advance: no placeholder, and
///   x(i-1,W-1), which no query takes as input, gets a K/V write of its own in the pass after it is sampled;
/// - adaptive:SMIN drafts x(i,0) at window SMIN and re-predicts it in every later pass with one more token of
///   row i-1 in context, accepting by speculative sampling; row i continues only once its first token is final;
/// - sjd:K and zipar-sjd:S,K run a Jacobi window of up to K tokens per lane (the whole raster for sjd, each row
///   for zipar-sjd, cut where the row above allows): JacobiWindow.swift. On the end-of-row layout a window covers
///   image tokens only: the end-of-row token is fed as it is, never drafted, sampled or verified.
public final class RequestDecoder {
    public struct Draft: Sendable, Equatable {
        public var token: Int
        public var proposal: [Float]
        public var window: Int
        public var placeholder: Int
    }

    public let request: GenerationRequest
    /// The grid's width W (tokens a row): every window rule speaks of it.
    public let grid: Int
    /// The grid's height H (rows); equal to `grid` on square grids.
    public let gridRows: Int
    /// Where every token of this request sits in its sequences.
    public let layout: ImageLayout
    /// Positions before x(0,0) (`layout.prefixLength`): LlamaGen's class tokens, or a text model's prompt.
    public let clsTokenNum: Int
    public let usesGuidance: Bool
    /// The prefixes of both sequences (`DecodingSetup`).
    let setup: DecodingSetup

    public private(set) var tokens: [Int]
    public private(set) var decodeStep: [Int]
    public private(set) var rowCount: [Int]
    public internal(set) var stats = GenerationStats()
    public private(set) var drafts: [Int: Draft] = [:]
    /// Rows whose last slot currently holds a placeholder's K/V.
    public private(set) var placeholderRows: Set<Int> = []
    public private(set) var decoded = 0
    var prefilled = false
    /// The next prefix position to feed (the prompt prefill may take several passes).
    var prefixNext = 0
    /// End-of-row layout: rows whose last token is final but not fed yet (no query takes it as input).
    var unfedRowEnds: Set<Int> = []
    /// Drafts and proposals of the speculative Jacobi policies (nil for the others).
    var jacobi: JacobiState?

    /// A LlamaGen request. Throws `ParameterError` when the parameters break a rule
    /// (`JobParameters.validate(for:)`).
    public convenience init(request: GenerationRequest, config: GPTConfig, nullClass: Int) throws {
        let limits = ModelLimits.classModel(grid: config.grid, numClasses: config.numClasses, supportsGuidance: nullClass >= config.numClasses)
        try self.init(request: request, setup: .classConditional(request, config: config, nullClass: nullClass, limits: limits))
    }

    /// A request on any layout (`ImageTokenEngine.setup(for:)`). Throws `ParameterError` when the parameters
    /// break a rule (`JobParameters.validate(for:)`, plus the end-of-row layout's own rules).
    public init(request: GenerationRequest, setup: DecodingSetup) throws {
        let layout = setup.layout
        try Self.validate(request.parameters, layout: layout, limits: setup.limits)
        let s = request.sampling
        self.request = request
        self.layout = layout
        self.setup = setup
        grid = layout.columns
        gridRows = layout.rows
        clsTokenNum = layout.prefixLength
        prefixNext = layout.prefixLength - max(setup.cond.count, s.cfgScale != 1 ? setup.uncond.count : 0)
        usesGuidance = s.cfgScale != 1
        let n = layout.imageTokens
        tokens = [Int](repeating: -1, count: n)
        decodeStep = [Int](repeating: -1, count: n)
        rowCount = [Int](repeating: 0, count: gridRows)
        stats.rowWindows = [Int](repeating: 0, count: max(gridRows - 1, 0))
        if let k = request.policy.jacobiWindow {
            jacobi = JacobiState(window: k, rowLanes: request.policy != .sjd(jacobiWindow: k))
        }
    }

    public var isFinished: Bool { decoded == layout.imageTokens }
    /// True while the prefix (class tokens or prompt) is still being fed.
    public var isPrefilling: Bool { !prefilled }

    /// The window row `i >= 1` starts at (its minimum for adaptive): the tokens of row i-1 it needs.
    public func startWindow(row i: Int) -> Int {
        if case .official(let s) = request.policy {
            // The authors' Lumina-mGPT loop: their window S counts the token before the row (the EOL above)
            // as one of S, so S - 1 image tokens above, and row 0 is not finished first.
            if layout.hasEndOfRow { return min(s - 1, grid) }
            if i == 1 { return grid }
        }
        return request.policy.rowWindow.map { min($0, grid) } ?? grid
    }

    var isAdaptive: Bool { if case .adaptive = request.policy { return true } else { return false } }

    func slot(lastOfRow r: Int) -> Int { clsTokenNum + r * grid + grid - 1 }

    /// The stand-in fed at x(r, W-1): the last decoded token of row r-1 (row 0 itself for r = 0).
    func placeholderInput(forRow r: Int) -> DecoderQuery.Input {
        let src = r >= 1 ? r - 1 : 0
        let c = rowCount[src]
        precondition(c >= 1, "no decoded token to stand in for x(\(r), \(grid - 1))")
        return imageInput(src * grid + c - 1)
    }

    func guided(position p: Int) -> Bool {
        guard usesGuidance else { return false }
        guard let k = request.sampling.cfgInterval else { return true }
        return layout.predictedToken(afterPosition: p) < k
    }

    /// Engine queries the plan costs (guided queries count twice).
    public static func cost(_ plan: [PlannedQuery]) -> Int { plan.reduce(0) { $0 + $1.cost } }

    /// The input that feeds final image token `t`: its code, as the vocabulary id of the layout.
    func imageInput(_ t: Int) -> DecoderQuery.Input { .token(layout.vocabularyID(code: tokens[t])) }

    func query(_ position: Int, _ input: DecoderQuery.Input, _ action: PlannedQuery.Action, placeholder: Bool = false) -> PlannedQuery {
        PlannedQuery(position: position, input: input, action: action, isPlaceholder: placeholder,
                     guided: guided(position: position))
    }

    /// The input for slot (r, W-1): the real token once row r is complete, else its placeholder.
    func lastSlotInput(ofRow r: Int) -> (input: DecoderQuery.Input, isPlaceholder: Bool) {
        if rowCount[r] == grid { return (imageInput(r * grid + grid - 1), false) }
        return (placeholderInput(forRow: r), true)
    }

    /// The queries of this request for the next pass. Pure: the state changes only in `apply`.
    /// - maxQueries: when the whole plan would not fit, keep rewrites and the top rows that fit
    ///   (the schedule then stretches; tokens stay valid but are no longer schedule-exact).
    public func plan(maxQueries: Int = .max) -> [PlannedQuery] {
        guard !isFinished else { return [] }
        var out: [PlannedQuery] = []
        func q(_ position: Int, _ input: DecoderQuery.Input, _ action: PlannedQuery.Action, placeholder: Bool = false) -> PlannedQuery {
            query(position, input, action, placeholder: placeholder)
        }
        if !prefilled { return prefixQueries(maxQueries: maxQueries) }
        let W = grid
        var rows: [PlannedQuery] = []
        if jacobi != nil { rows = jacobiQueries() }
        for i in 0..<gridRows where jacobi == nil {
            let c = rowCount[i]
            if c == W { continue }
            if i == 0 {
                rows.append(q(layout.position(ofToken: c - 1), imageInput(c - 1), .decode(token: c)))
                continue
            }
            let above = rowCount[i - 1]
            let w = startWindow(row: i)
            if c == 0, let eol = layout.endOfRow?.token, let s = layout.endOfRowPosition(row: i - 1) {
                // The end-of-row token before x(i,0) is known: fed as it is, never a stand-in.
                let input = DecoderQuery.Input.token(eol)
                if let d = drafts[i] {
                    if above > d.window || above == W { rows.append(q(s, input, .verify(row: i, window: above))) }
                } else if above >= w || above == W {
                    rows.append(q(s, input, isAdaptive && above < W ? .draft(row: i, window: above) : .decode(token: i * W)))
                }
            } else if c == 0 {
                let s = slot(lastOfRow: i - 1)
                if above == W {
                    let real = imageInput(i * W - 1)
                    if drafts[i] != nil { rows.append(q(s, real, .verify(row: i, window: W))) }
                    else { rows.append(q(s, real, .decode(token: i * W))) }
                } else if let d = drafts[i] {
                    if above > d.window {
                        rows.append(q(s, .token(d.placeholder), .verify(row: i, window: above), placeholder: true))
                    }
                } else if above >= w {
                    let ph = placeholderInput(forRow: i - 1)
                    if isAdaptive { rows.append(q(s, ph, .draft(row: i, window: above), placeholder: true)) }
                    else { rows.append(q(s, ph, .decode(token: i * W), placeholder: true)) }
                }
            } else if above >= min(c + w, W) {
                let t = i * W + c
                rows.append(q(layout.position(ofToken: t - 1), imageInput(t - 1), .decode(token: t)))
            }
        }
        for r in unfedRowEnds.sorted() {
            let t = r * W + W - 1
            out.append(q(layout.position(ofToken: t), imageInput(t), .feed(token: t)))
        }
        let touched = Set(rows.map(\.position))
        for r in placeholderRows.sorted() where rowCount[r] == W {
            let s = slot(lastOfRow: r)
            if !touched.contains(s) { out.append(q(s, imageInput(r * W + W - 1), .rewrite(row: r))) }
        }
        guard !rows.isEmpty else { return [] }   // rewrites alone are useless: nothing would read them
        if maxQueries == .max { return out + rows }
        var budget = maxQueries - Self.cost(out)
        if budget <= 0 { out.removeAll(); budget = maxQueries }
        for r in rows {
            let c = r.cost
            if c > budget { break }
            out.append(r); budget -= c
        }
        return out
    }

    /// Consumes the logits of a planned pass. `cond[k]` / `uncond[k]` are the logits of `plan[k]` in the
    /// conditional / null-class sequence (nil where the query asked for none or had no twin).
    public func apply(_ plan: [PlannedQuery], cond: [[Float]?], uncond: [[Float]?], seconds: Double = 0) {
        precondition(cond.count == plan.count && uncond.count == plan.count)
        guard !plan.isEmpty else { return }
        let pass = stats.passes
        let above = rowCount   // the state the plan was made from
        var windowed: [(query: PlannedQuery, probs: [Float])] = []
        let seed = request.seed, W = grid, sp = request.sampling
        stats.passes += 1
        stats.queries += Self.cost(plan)
        stats.passSeconds.append(seconds)

        func finalize(_ t: Int, _ x: Int) { self.finalize(t, x, pass: pass) }
        for (k, pq) in plan.enumerated() {
            if !layout.hasEndOfRow, pq.position >= clsTokenNum, (pq.position - clsTokenNum) % W == W - 1 {
                let r = (pq.position - clsTokenNum) / W
                if pq.isPlaceholder { placeholderRows.insert(r) } else { placeholderRows.remove(r) }
            }
            if pq.position < clsTokenNum {
                prefixNext = max(prefixNext, pq.position + 1)
                if prefixNext == clsTokenNum { prefilled = true }
            }
            if case .feed(let t) = pq.action { unfedRowEnds.remove(t / W) }
            if case .draftFeed = pq.action { windowed.append((pq, [])) }   // records the draft it wrote
            guard pq.wantsLogits, let full = cond[k] else { continue }
            // Inside the grid only image ids may be drawn: the sampler sees their logits alone, indexed by code.
            let c = layout.imageLogits(full)
            let logits: [Float]
            if pq.guided, let u = uncond[k] { logits = Sampler.guided(cond: c, uncond: layout.imageLogits(u), scale: sp.cfgScale) }
            else { logits = c }
            let probs = Sampler.probabilities(logits: logits, params: sp)
            switch pq.action {
            case .prefix, .rewrite, .feed, .draftFeed:
                break
            case .jacobi:
                windowed.append((pq, probs))
            case .decode(let t):
                prefilled = true
                let x = Sampler.draw(probs, uniform: CounterRNG.uniform(seed: seed, token: t, purpose: .sample))
                if t % W == 0 && t > 0 { stats.rowWindows[t / W - 1] = above[t / W - 1] }
                finalize(t, x)
                let lane = jacobiLane(of: t)
                jacobi?.latest[lane] = probs   // the prefill's distribution proposes the first drafts
            case .draft(let i, let window):
                let x = Sampler.draw(probs, uniform: CounterRNG.uniform(seed: seed, token: i * W, purpose: .draft, round: window))
                drafts[i] = Draft(token: x, proposal: probs, window: window, placeholder: pq.input.tokenValue ?? 0)
                stats.drafts += 1
            case .verify(let i, let window):
                guard let d = drafts[i] else { continue }
                let (x, ok) = Sampler.verify(
                    draft: d.token, proposal: d.proposal, target: probs,
                    acceptUniform: CounterRNG.uniform(seed: seed, token: i * W, purpose: .accept, round: window),
                    resampleUniform: CounterRNG.uniform(seed: seed, token: i * W, purpose: .resample, round: window))
                if ok { stats.accepted += 1 }
                if ok || window >= W {
                    drafts[i] = nil
                    stats.rowWindows[i - 1] = window
                    finalize(i * W, x)
                } else {
                    drafts[i] = Draft(token: x, proposal: probs, window: window, placeholder: d.placeholder)
                    stats.drafts += 1
                }
            }
        }
        if !windowed.isEmpty { applyJacobi(windowed, rowCountAtPlan: above, pass: pass) }
        stats.tokens = decoded
    }

    /// Makes image token `t` final with value `x`, decoded in pass `pass`.
    func finalize(_ t: Int, _ x: Int, pass: Int) {
        tokens[t] = x; decodeStep[t] = pass; rowCount[t / grid] += 1; decoded += 1; stats.tokens += 1
        // A row's last token precedes the end-of-row token, which was fed long ago: it needs a write.
        if layout.hasEndOfRow && t % grid == grid - 1 && t / grid < gridRows - 1 { unfedRowEnds.insert(t / grid) }
    }

    func setLastPassSeconds(_ s: Double) {
        if !stats.passSeconds.isEmpty { stats.passSeconds[stats.passSeconds.count - 1] = s }
    }

    public func result(wallSeconds: Double) -> GenerationResult {
        var s = stats
        s.wallSeconds = wallSeconds
        return GenerationResult(id: request.id, request: request, tokens: tokens, decodeStep: decodeStep, stats: s)
    }
}

extension PlannedQuery {
    /// Engine queries it takes: two when it also runs in the unconditional sequence.
    public var cost: Int { side == .both && guided ? 2 : 1 }
}


public enum DecodingError: Error, CustomStringConvertible, Equatable {
    case full(String)
    case duplicateID(String)

    public var description: String {
        switch self {
        case .full(let m): return m
        case .duplicateID(let id): return "a request with id '\(id)' is already in flight"
        }
    }
}
