import Decoding
import Foundation
import JobStore
import Model

/// What a submission needs to know about a model to validate prompts: its name (jobs carry it), class
/// names, and the limits `JobParameters.validate(for:)` checks. From the model's config.json.
public struct ModelSpec: Sendable, Equatable {
    public var config: ModelConfig
    /// The config alone cannot tell whether the weights have a null-class row; LlamaGen class-conditional
    /// models are trained with class dropout and have one, so submit assumes it and the worker, which
    /// loads the weights, checks again.
    public var limits: ModelLimits {
        ModelLimits(grid: config.gpt.grid, numClasses: config.gpt.numClasses, supportsGuidance: true)
    }
    public init(_ config: ModelConfig) { self.config = config }
}

/// Per-submission defaults, overridden per line by `key=value`.
public struct SubmitDefaults: Sendable, Equatable {
    public var queue = "default"
    /// Every line starts from these; `parameters.seed` is the base seed: a job without its own seed
    /// gets base + n, n being the job's index in the submission.
    public var parameters = JobParameters()
    public var count = 1
    public var priority = 0
    public var maxAttempts = 5
    /// Delayed jobs: not claimed before this (nil = at once).
    public var runAfter: Date?
    public init() {}
}

public enum PromptFormat: String, Sendable, CaseIterable { case text, jsonl }

/// One problem in a prompt file: line (1-based) and field.
public struct PromptError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var field: String
    public var message: String
    public init(line: Int, field: String, message: String) { self.line = line; self.field = field; self.message = message }
    public var description: String { "line \(line), \(field): \(message)" }
}

/// Every problem found (validation does not stop at the first).
public struct PromptErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [PromptError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Parses and validates a whole prompt file before anything is inserted.
///
/// Text format, one prompt per line: `CLASS [key=value ...]` with CLASS a class name or id; the keys are
/// `JobParameters.fields` (policy, seed, cfg, ...) plus the submission's own `submissionKeys`; `#` starts
/// a comment. JSONL: one object per line with the same keys, `{"class": "dress", "policy": "zipar:4"}`.
public struct PromptParser: Sendable {
    /// Keys that shape the submission rather than the image. `id` is another name for `label`.
    public static let submissionKeys = ["count", "priority", "max_attempts", "label", "id", "run_at"]
    public static var keys: [String] { JobParameters.fields.map(\.key) + submissionKeys }
    public static let maxJobs = 100_000

    public var model: ModelSpec
    public var defaults: SubmitDefaults

    public init(model: ModelSpec, defaults: SubmitDefaults) {
        self.model = model; self.defaults = defaults
    }

    public func parse(_ text: String, format: PromptFormat = .text) throws(PromptErrors) -> [JobSpec] {
        var jobs: [JobSpec] = []
        var errors: [PromptError] = []
        var labelLines: [String: Int] = [:]
        // A bad command-line default would be reported again on every line that uses it: say it once.
        if let e = validateDefaults() { throw PromptErrors(errors: [e]) }
        // CRLF files read like LF ones: "\r\n" is one Character, so split on both.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let lineNo = index + 1
            var line = String(raw)
            if format == .text, let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields: [(String, String)]
            switch format {
            case .text: fields = textFields(line, lineNo, &errors)
            case .jsonl: fields = jsonFields(line, lineNo, &errors)
            }
            guard !fields.isEmpty else { continue }
            let before = errors.count
            var made = makeJobs(fields, lineNo, firstIndex: jobs.count, &errors)
            for k in made.indices { made[k].prompt = line }
            for label in made.compactMap(\.label) {
                if let first = labelLines[label] {
                    errors.append(PromptError(line: lineNo, field: "label", message: "'\(label)' is already used on line \(first)"))
                } else {
                    labelLines[label] = lineNo
                }
            }
            if errors.count == before { jobs += made }
            if jobs.count > Self.maxJobs {
                errors.append(PromptError(line: lineNo, field: "count", message: "more than \(Self.maxJobs) jobs in one submission"))
                break
            }
        }
        if errors.isEmpty && jobs.isEmpty {
            errors.append(PromptError(line: 0, field: "input", message: "no prompts (only blank lines and comments)"))
        }
        if !errors.isEmpty { throw PromptErrors(errors: errors) }
        return jobs
    }

    /// The command-line defaults pass the same rules as a line; a broken one is named by its flag.
    private func validateDefaults() -> PromptError? {
        let d = defaults
        var problem: (String, String)?
        do { try d.parameters.validate(for: model.limits) } catch { problem = (error.field, error.message) }
        if problem == nil, !(1...Self.maxJobs).contains(d.count) { problem = ("count", "\(d.count) must be in 1...\(Self.maxJobs)") }
        if problem == nil, !(1...1000).contains(d.maxAttempts) { problem = ("max_attempts", "\(d.maxAttempts) must be in 1...1000") }
        if problem == nil, abs(d.priority) > 1_000_000 { problem = ("priority", "\(d.priority) must be within +-1000000") }
        if problem == nil, d.queue.isEmpty || d.queue.count > 100 { problem = ("queue", "queue name must be 1-100 characters") }
        guard let (field, message) = problem else { return nil }
        let flag = field == "class" ? "class" : "--" + field.replacingOccurrences(of: "_", with: "-")
        return PromptError(line: 0, field: flag, message: message + " (command-line default)")
    }

    private func textFields(_ line: String, _ lineNo: Int, _ errors: inout [PromptError]) -> [(String, String)] {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let cls = words.first else { return [] }
        if cls.contains("=") {
            errors.append(PromptError(line: lineNo, field: "class", message: "line must start with a class name or id, got '\(cls.prefix(80))'"))
            return []
        }
        var out = [("class", cls)]
        for w in words.dropFirst() {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                errors.append(PromptError(line: lineNo, field: String(w.prefix(80)), message: "expected key=value"))
                continue
            }
            out.append((String(w[..<eq]).lowercased(), String(w[w.index(after: eq)...])))
        }
        return out
    }

    private func jsonFields(_ line: String, _ lineNo: Int, _ errors: inout [PromptError]) -> [(String, String)] {
        guard let data = line.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            errors.append(PromptError(line: lineNo, field: "json", message: "not a JSON object"))
            return []
        }
        guard let cls = dict["class"] else {
            errors.append(PromptError(line: lineNo, field: "class", message: "missing"))
            return []
        }
        var out = [("class", jsonText(cls))]
        for key in dict.keys.sorted() where key != "class" { out.append((key, jsonText(dict[key]!))) }
        return out
    }

    private func jsonText(_ v: Any) -> String {
        if v is NSNull { return "none" }
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return n.stringValue }
        return "\(v)"
    }

    private func makeJobs(_ fields: [(String, String)], _ lineNo: Int, firstIndex: Int, _ errors: inout [PromptError]) -> [JobSpec] {
        let d = defaults
        var params = d.parameters
        var count = d.count, priority = d.priority, maxAttempts = d.maxAttempts
        var label: String?
        var runAfter = d.runAfter
        var ownSeed = false
        var seen = Set<String>()
        let before = errors.count
        func bad(_ field: String, _ message: String) { errors.append(PromptError(line: lineNo, field: field, message: message)) }
        func integer(_ key: String, _ value: String, _ range: ClosedRange<Int>, _ rule: String) -> Int? {
            guard let v = Int(value) else { bad(key, "'\(value.prefix(80))' is not an integer"); return nil }
            guard range.contains(v) else { bad(key, "\(v) \(rule)"); return nil }
            return v
        }
        for (key, value) in fields {
            let key = key == "id" ? "label" : key
            if seen.contains(key) { bad(key, "given twice"); continue }
            seen.insert(key)
            switch key {
            case "label":
                if JobSpec.isValidLabel(value) { label = value } else {
                    bad(key, "'\(value.prefix(80))' must be 1-100 of A-Z a-z 0-9 . _ - (it names exported files)")
                }
            case "run_at":
                if let at = Self.parseTime(value) { runAfter = at } else {
                    bad(key, "'\(value.prefix(80))' is not a time: 2026-11-26T18:00:00Z or +DURATION like +30m")
                }
            case "count": count = integer(key, value, 1...Self.maxJobs, "must be in 1...\(Self.maxJobs)") ?? count
            case "priority": priority = integer(key, value, -1_000_000...1_000_000, "must be within +-1000000") ?? priority
            case "max_attempts": maxAttempts = integer(key, value, 1...1000, "must be in 1...1000") ?? maxAttempts
            case "class":
                guard let id = model.config.classID(for: value) else {
                    let names = model.config.classNames.map { " (\($0.joined(separator: ", ")))" } ?? ""
                    bad("class", "unknown class '\(value.prefix(80))': model \(model.config.name) has classes "
                        + "0..\(model.config.gpt.numClasses - 1)\(names)")
                    continue
                }
                params.classLabel = id
            default:
                guard let field = JobParameters.field(key: key) else {
                    bad(String(key.prefix(80)), "unknown key (known: \(Self.keys.joined(separator: ", ")))")
                    continue
                }
                do {
                    try field.write(&params, try field.parse(value))
                    if key == "seed" { ownSeed = true }
                } catch {
                    bad(key, error.message)
                }
            }
        }
        guard errors.count == before else { return [] }
        do { try params.validate(for: model.limits) } catch { bad(error.field, error.message); return [] }
        // Image n of the line uses seed + n: the last must not pass the largest seed (no wrap, no repeats).
        let first = ownSeed ? params.seed : d.parameters.seed &+ UInt64(firstIndex)
        guard first <= JobParameters.maxSeed, JobParameters.maxSeed - first >= UInt64(count - 1) else {
            bad("seed", "seeds \(first)...\(first)+\(count - 1) pass the largest seed \(JobParameters.maxSeed)")
            return []
        }
        return (0..<count).map { n in
            var p = params
            p.seed = first + UInt64(n)
            // A line's count images share its label with a -1, -2, ... suffix, so each stays unique.
            let name = count == 1 ? label : label.map { "\($0.prefix(96))-\(n + 1)" }
            return JobSpec(queue: d.queue, model: model.config.name, parameters: p, priority: priority,
                           maxAttempts: maxAttempts, label: name, className: model.config.className(p.classLabel),
                           runAfter: runAfter, line: lineNo)
        }
    }

    /// An ISO-8601 time (`2026-11-26T18:00:00Z`, fractional seconds allowed) or `+DURATION` from now
    /// (`+90s`, `+30m`, `+2h`, `+1d`).
    public static func parseTime(_ text: String, now: Date = Date()) -> Date? {
        if text.hasPrefix("+") {
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
            let body = text.dropFirst()
            guard let unit = body.last.flatMap({ units[$0] }), let n = Double(body.dropLast()), n >= 0, n.isFinite,
                  n * unit < 366 * 86400 else { return nil }
            return now.addingTimeInterval(n * unit)
        }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}
