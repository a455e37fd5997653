import Foundation
import Model

/// Everything that decides what one image looks like: class, window policy and schedule, sampling,
/// guidance and seed. The prompt file, the JSONL input, the CLI flags, the job row and the worker all carry
/// this one type, and `validate` holds the one set of rules they share.
///
/// Adding a knob: a stored property here (in `SamplingParams` for a sampling knob), one entry in
/// `fields` (its prompt key, its column, its rule), a migration adding the column, and a CLI option.
public struct JobParameters: Sendable, Equatable {
    /// The class to draw (class-conditional models).
    public var classLabel: Int
    public var policy: WindowPolicy
    /// Reproduce the official code's schedule: the whole first row by NTP before rows overlap.
    public var officialSchedule: Bool
    public var sampling: SamplingParams
    /// Keys every random draw of the job (with the token index), so the image does not depend on the batch.
    public var seed: UInt64

    public init(classLabel: Int = 0, policy: WindowPolicy = .ntp, officialSchedule: Bool = false,
                sampling: SamplingParams = SamplingParams(), seed: UInt64 = 0) {
        self.classLabel = classLabel; self.policy = policy; self.officialSchedule = officialSchedule
        self.sampling = sampling; self.seed = seed
    }

    /// The policy as jobs store and flags take it: `ntp`, `zipar:S`, `adaptive:SMIN`, `official:S`.
    public var policyText: String { PolicySpec(policy: policy, officialSchedule: officialSchedule).description }

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
        if case .zipar(let w) = policy { try check(w >= 1, "policy", "window must be >= 1") }
        if case .adaptive(let w) = policy { try check(w >= 1, "policy", "window must be >= 1") }
        if officialSchedule, case .zipar = policy {} else if officialSchedule {
            throw ParameterError(field: "policy", message: "the official schedule applies to zipar:S only")
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
    }

    /// All rules, including those that depend on the model: the class range, the window against the grid
    /// width, and guidance needing the model's null-class row.
    public func validate(for model: ModelLimits) throws(ParameterError) {
        try validate()
        if classLabel >= model.numClasses {
            throw ParameterError(field: "class", message: "\(classLabel) is out of range 0..<\(model.numClasses)")
        }
        switch policy {
        case .ntp: break
        case .zipar(let w), .adaptive(let w):
            if w > model.grid {
                throw ParameterError(field: "policy", message: "window \(w) is larger than the grid width \(model.grid)")
            }
        }
        if sampling.cfgScale != 1 && !model.supportsGuidance {
            throw ParameterError(field: "cfg", message: "the model has no null-class row, so guidance (cfg != 1) is unavailable")
        }
    }

    /// Bounds that keep every integer inside a PostgreSQL integer column.
    public static let maxTopK = 1 << 24
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

/// What the rules need to know about a model.
public struct ModelLimits: Sendable, Equatable {
    public var grid: Int
    public var numClasses: Int
    public var supportsGuidance: Bool
    public init(grid: Int, numClasses: Int, supportsGuidance: Bool) {
        self.grid = grid; self.numClasses = numClasses; self.supportsGuidance = supportsGuidance
    }
}

/// A broken rule, named by the field's prompt key (`top_p`, `policy`, ...).
public struct ParameterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(field: String, message: String) { self.field = field; self.message = message }
    public var description: String { "\(field): \(message)" }
}

/// A window policy plus the schedule it runs on, in the text form jobs, prompt files and flags share:
/// `ntp`, `zipar:S`, `adaptive:SMIN`, `official:S` (zipar:S on the official schedule; `zipar:S+official`
/// reads the same).
public struct PolicySpec: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var policy: WindowPolicy
    public var officialSchedule: Bool

    public init(policy: WindowPolicy, officialSchedule: Bool = false) {
        self.policy = policy; self.officialSchedule = officialSchedule
    }

    public init(parsing text: String) throws(ParameterError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        do {
            if t.hasPrefix("official:") {
                self.init(policy: try WindowPolicy(parsing: "zipar:" + t.dropFirst("official:".count)), officialSchedule: true)
            } else if t.hasSuffix("+official") {
                self.init(policy: try WindowPolicy(parsing: String(t.dropLast("+official".count))), officialSchedule: true)
            } else {
                self.init(policy: try WindowPolicy(parsing: t))
            }
        } catch {
            throw ParameterError(field: "policy", message: "\(error)")
        }
        if officialSchedule, case .zipar = policy {} else if officialSchedule {
            throw ParameterError(field: "policy", message: "'\(text)': the official schedule applies to zipar:S only")
        }
    }

    public var description: String {
        guard officialSchedule, case .zipar(let s) = policy else { return policy.description }
        return "official:\(s)"
    }
}

extension GPTModel {
    /// The limits jobs for this model are validated against.
    public var limits: ModelLimits {
        ModelLimits(grid: config.grid, numClasses: config.numClasses, supportsGuidance: supportsGuidance)
    }
}
