import Foundation

/// Everything that decides what one image looks like: class, window policy and schedule, sampling,
/// guidance and seed. The prompt file, the JSONL input, the CLI flags, the job row and the worker all carry
/// this one type, and `validate` holds the one set of rules they share.
///
/// Adding a knob: a stored property here (in `SamplingParams` for a sampling knob), one entry in
/// `fields` (its prompt key, its column, its rule), a migration adding the column, and a CLI option.
public struct JobParameters: Sendable, Equatable {
    /// The class to draw (class-conditional models).
    public var classLabel: Int
    /// The window policy, schedule included (`official:S`).
    public var policy: WindowPolicy
    public var sampling: SamplingParams
    /// Keys every random draw of the job (with the token index), so the image does not depend on the batch.
    public var seed: UInt64
    /// Text-to-image models: the text the image is drawn from (nil for class-conditional jobs, whose class
    /// is `classLabel`). Rules in `validateText()`.
    public var prompt: String? = nil
    /// Text-to-image models: what guidance steers away from (the unconditional side of CFG). Only with a prompt.
    public var negativePrompt: String? = nil
    /// The image grid in tokens (`N` or `HxW`), for models that draw several sizes; nil = the model's native grid.
    public var size: ImageSize? = nil

    public init(classLabel: Int = 0, policy: WindowPolicy = .ntp, sampling: SamplingParams = SamplingParams(),
                seed: UInt64 = 0) {
        self.classLabel = classLabel; self.policy = policy; self.sampling = sampling; self.seed = seed
    }

    /// The policy as jobs store and flags take it: `ntp`, `zipar:S`, `adaptive:SMIN`, `official:S`, `sjd:K`,
    /// `zipar-sjd:S,K` (`WindowPolicy.forms`).
    public var policyText: String { policy.description }

    /// Largest seed a job takes: seeds are stored as PostgreSQL bigint and a prompt's `count` images take
    /// seed, seed+1, ..., so they must stay below 2^63 without wrapping.
    public static let maxSeed = UInt64(Int64.max)

    // MARK: rules

    /// The rules that need no model. Throws the first broken one, naming its prompt key.
    public func validate() throws(ParameterError) {
        let s = sampling
        func check(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) throws(ParameterError) {
            if !ok { throw ParameterError(field: key, message: message()) }
        }
        try check(classLabel >= 0, "class", "\(classLabel) must be >= 0")
        if let w = policy.rowWindow { try check(w >= 1, "policy", "window must be >= 1") }
        if let k = policy.jacobiWindow {
            try check(k >= 1 && k <= Self.maxJacobiWindow, "policy", "Jacobi window \(k) must be in 1...\(Self.maxJacobiWindow)")
        }
        try check(seed <= Self.maxSeed, "seed", "\(seed) must be in 0...\(Self.maxSeed)")
        try check(s.temperature.isFinite && s.temperature >= 0 && s.temperature <= 100, "temperature",
                  "\(s.temperature) must be in 0...100 (0 = greedy)")
        try check(s.topK >= 0 && s.topK <= Self.maxTopK, "top_k", "\(s.topK) must be in 0...\(Self.maxTopK) (0 = off)")
        // Checked on the Float the sampler uses: 1e-300 parses as a Double but is 0 as a Float.
        try check(s.topP > 0 && s.topP <= 1, "top_p", "\(s.topP) must be in (0, 1] (1 = off)")
        try check(s.minP >= 0 && s.minP < 1, "min_p", "\(s.minP) must be in [0, 1) (0 = off)")
        try check(s.cfgScale.isFinite && s.cfgScale >= 0 && s.cfgScale <= 100, "cfg", "\(s.cfgScale) must be in 0...100 (1 = off)")
        if let k = s.cfgInterval { try check(k >= 0 && k <= Self.maxTopK, "cfg_interval", "\(k) must be in 0...\(Self.maxTopK)") }
        try validateText()
    }

    /// All rules, including those that depend on the model: the class range, the window against the grid
    /// width, and guidance needing the model's null-class row.
    public func validate(for model: ModelLimits) throws(ParameterError) {
        try validate()
        try validateConditioning(for: model)
        if classLabel >= model.numClasses {
            throw ParameterError(field: "class", message: "\(classLabel) is out of range 0..<\(model.numClasses)")
        }
        if model.endOfRowLayout {
            // The authors' Lumina-mGPT loop: its window S counts the end-of-row token before a row, so S - 1
            // image tokens above.
            if case .official(let s) = policy, s < 2 {
                throw ParameterError(field: "policy", message: "official:\(s): on the end-of-row layout the window counts the "
                                     + "end-of-row token, so it must be at least 2 (official:2 = one image token above)")
            }
        }
        // Windows are bounded by the width of the grid the job draws: its `size`, else the model's own.
        try checkWindow(side: size?.columns ?? model.grid, what: size == nil ? "the grid width" : "the image width")
        if sampling.cfgScale != 1 && !model.supportsGuidance {
            throw ParameterError(field: "cfg", message: "the model has no null-class row, so guidance (cfg != 1) is unavailable")
        }
    }

    /// Bounds that keep every integer inside a PostgreSQL integer column.
    public static let maxTopK = 1 << 24

    /// Largest Jacobi window K. Every window token is a query in every pass (two with CFG), and each draft
    /// keeps its proposal distribution (a vocabulary row), so K multiplies a pass's width and a request's
    /// memory, while a draft is only accepted when every draft before it was: the tokens a pass gains
    /// shrink geometrically with K. 16 keeps a guided window inside the engine's default 64 queries per pass
    /// with room for other requests. (Under zipar-sjd a row's window is also cut at the row's end.)
    public static let maxJacobiWindow = 16
}

/// Sampling settings of one request.
public struct SamplingParams: Sendable, Equatable, Codable {
    public var temperature: Float = 1.0
    /// 0 = no top-k filter.
    public var topK: Int = 0
    /// 1 = no nucleus filter.
    public var topP: Float = 1.0
    /// Drop tokens less likely than `minP` times the most likely one (0 = off).
    public var minP: Float = 0
    /// Classifier-free guidance scale; 1 = no guidance (one sequence, no null-class twin).
    public var cfgScale: Float = 1.0
    /// Apply guidance only to the first `cfgInterval` image tokens (nil = all).
    public var cfgInterval: Int? = nil

    public init(temperature: Float = 1.0, topK: Int = 0, topP: Float = 1.0, minP: Float = 0, cfgScale: Float = 1.0,
                cfgInterval: Int? = nil) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP
        self.cfgScale = cfgScale; self.cfgInterval = cfgInterval
    }
}

/// A broken rule, named by the field's prompt key (`top_p`, `policy`, ...).
public struct ParameterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(field: String, message: String) { self.field = field; self.message = message }
    public var description: String { "\(field): \(message)" }
}

// MARK: text prompts

extension JobParameters {
    /// Longest prompt or negative prompt, in Unicode scalars (what PostgreSQL's `char_length` counts, so the
    /// columns' CHECKs agree). The text models are trained on captions of a sentence or two: 2000 is far
    /// above any of them, yet bounds the tokens a prompt adds to every prefill (a BPE token covers at least
    /// one byte) and keeps a pasted file out of the queue. The engine still checks the tokenized prompt
    /// against its context.
    public static let maxPromptLength = 2000

    /// Largest `size` in tokens a side (rows and columns alike). The families draw at most about a hundred
    /// tokens a side; the bound keeps a job's grid and every per-token array small.
    public static let maxSize = 256

    /// The model-free rules of the text fields: a prompt is one line of real text, a negative prompt needs
    /// a prompt, a size is a plausible side.
    func validateText() throws(ParameterError) {
        if let prompt { try Self.checkText(prompt, field: "prompt") }
        if let negativePrompt {
            guard prompt != nil else {
                throw ParameterError(field: "negative_prompt", message: "only with a prompt: it is what a text prompt's guidance steers away from")
            }
            try Self.checkText(negativePrompt, field: "negative_prompt")
        }
        if let size, !(1...Self.maxSize).contains(size.rows) || !(1...Self.maxSize).contains(size.columns) {
            throw ParameterError(field: "size", message: "\(size): rows and columns must be in 1...\(Self.maxSize) (tokens a side; leave it out for the model's own grid)")
        }
    }

    /// One line of text: not blank, not too long, no control characters but tab. Newlines are refused
    /// because prompt files, `show` and logs print a prompt on one line; the others are never meant.
    static func checkText(_ text: String, field: String) throws(ParameterError) {
        if text.allSatisfy(\.isWhitespace) {
            throw ParameterError(field: field, message: "is empty or only spaces (leave the key out for none)")
        }
        let length = text.unicodeScalars.count
        if length > maxPromptLength {
            throw ParameterError(field: field, message: "is \(length) characters long; at most \(maxPromptLength)")
        }
        for (i, c) in text.unicodeScalars.enumerated() where c != "\t" && c.properties.generalCategory == .control {
            let code = String(c.value, radix: 16, uppercase: true)
            throw ParameterError(field: field, message: "control character U+\(String(repeating: "0", count: max(0, 4 - code.count)))\(code) "
                                 + "at character \(i + 1): only tab is allowed (a prompt is one line of text)")
        }
    }

    /// Exactly one of class and prompt defines the image, as the model says; a size must be one the model draws.
    func validateConditioning(for model: ModelLimits) throws(ParameterError) {
        switch model.conditioning {
        case .classLabel:
            if prompt != nil {
                throw ParameterError(field: "prompt", message: "the model is class-conditional: it draws a class, not a text prompt")
            }
        case .text:
            guard prompt != nil else {
                throw ParameterError(field: "prompt", message: "required: the model draws from a text prompt")
            }
            if classLabel != 0 {
                throw ParameterError(field: "class", message: "the model draws from a text prompt and takes no class: describe it in the prompt")
            }
        }
        guard let size else { return }
        try checkSize(size, for: model)   // its windows: `validate(for:)`, against the size's width
    }

    /// A size the model draws: with `maxImagePositions` (text bundles with an end-of-row layout) any
    /// rows x columns whose image fits the model's positions, else one of its square sides.
    func checkSize(_ size: ImageSize, for model: ModelLimits) throws(ParameterError) {
        if let budget = model.maxImagePositions {
            let positions = model.imagePositions(size)
            if positions > budget {
                throw ParameterError(field: "size", message: "\(size) takes \(positions) positions (rows x (columns + 1 end-of-row token)); "
                                     + "the model holds at most \(budget) besides its prompt (max_position_embeddings)")
            }
            return
        }
        let sides = Set((model.sizes ?? []) + [model.grid]).sorted()
        guard size.isSquare, sides.contains(size.rows) else {
            let list = sides.map { "\($0)" }.joined(separator: ", ")
            throw ParameterError(field: "size", message: size.isSquare ? "the model draws \(list) tokens a side, not \(size.rows)"
                                 : "the model draws square grids only (\(list) tokens a side), not \(size); its layout has no other shapes")
        }
    }
}

extension JobParameters {
    /// The largest window a policy may name on a grid `side` tokens wide: W, or W + 1 for official:S, whose
    /// window counts the token before a row in the authors' loops (official:W+1, like zipar:W, decodes
    /// exactly as ntp on both layouts: a row starts once the row above is complete).
    public static func windowLimit(_ policy: WindowPolicy, side: Int) -> Int {
        if case .official = policy { return side + 1 }
        return side
    }

    func checkWindow(side: Int, what: String) throws(ParameterError) {
        guard let w = policy.rowWindow else { return }
        let limit = Self.windowLimit(policy, side: side)
        if w > limit {
            throw ParameterError(field: "policy", message: "window \(w) is larger than \(what) \(side)"
                                 + (limit > side ? " + 1 (official:\(limit) decodes like ntp)" : ""))
        }
    }
}
