import Foundation

/// What `zipar-submit` needs to know about a model to validate prompts (from its config.json).
public struct ModelSpec: Sendable, Equatable {
    public var name: String
    public var grid: Int
    public var numClasses: Int
    public var classNames: [String]?

    public init(name: String, grid: Int, numClasses: Int, classNames: [String]? = nil) {
        self.name = name; self.grid = grid; self.numClasses = numClasses; self.classNames = classNames
    }

    /// A class name (any case) or a decimal id.
    public func classID(for text: String) -> Int? {
        if let n = Int(text) { return (0..<numClasses).contains(n) ? n : nil }
        let t = text.lowercased()
        return classNames?.firstIndex { $0.lowercased() == t }
    }
}

/// Per-submission defaults, overridden per line by `key=value`.
public struct SubmitDefaults: Sendable, Equatable {
    public var queue = "default"
    public var policy = "ntp"
    /// Jobs without their own seed get `seed + n` (n = the job's index in the submission).
    public var seed: Int64 = 0
    public var cfg: Double = 1
    public var temperature: Double = 1
    public var topK = 0
    public var topP: Double = 1
    public var count = 1
    public var priority = 0
    public var maxAttempts = 5
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
/// Text format, one prompt per line: `CLASS [key=value ...]` with CLASS a class name or id and keys
/// policy, seed, cfg, temperature, top_k, top_p, count, priority, max_attempts; `#` starts a comment.
/// JSONL format: one object per line, `{"class": "dress", "policy": "zipar:4", "cfg": 2}`.
public struct PromptParser: Sendable {
    public static let keys = ["policy", "seed", "cfg", "temperature", "top_k", "top_p", "count", "priority", "max_attempts"]
    public static let maxJobs = 100_000

    public var model: ModelSpec
    public var defaults: SubmitDefaults
    /// Parses a policy and checks it against the grid; returns its canonical text (throws a readable error).
    public var checkPolicy: @Sendable (String, Int) throws -> String

    public init(model: ModelSpec, defaults: SubmitDefaults, checkPolicy: @escaping @Sendable (String, Int) throws -> String) {
        self.model = model; self.defaults = defaults; self.checkPolicy = checkPolicy
    }

    public func parse(_ text: String, format: PromptFormat = .text) throws -> [JobSpec] {
        var jobs: [JobSpec] = []
        var errors: [PromptError] = []
        if let e = validateDefaults() { errors.append(e) }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
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
            let made = makeJobs(fields, lineNo, firstIndex: jobs.count, &errors)
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

    private func validateDefaults() -> PromptError? {
        var errors: [PromptError] = []
        let d = defaults
        let pairs: [(String, String)] = [("class", "0"), ("policy", d.policy), ("cfg", "\(d.cfg)"), ("temperature", "\(d.temperature)"),
                                         ("top_k", "\(d.topK)"), ("top_p", "\(d.topP)"), ("count", "\(d.count)"),
                                         ("priority", "\(d.priority)"), ("max_attempts", "\(d.maxAttempts)"), ("seed", "\(d.seed)")]
        _ = makeJobs(pairs, 0, firstIndex: 0, &errors)
        if d.queue.isEmpty || d.queue.count > 100 { errors.append(PromptError(line: 0, field: "--queue", message: "queue name must be 1-100 characters")) }
        return errors.first.map { PromptError(line: 0, field: "--\($0.field.replacingOccurrences(of: "_", with: "-"))", message: $0.message + " (command-line default)") }
    }

    private func textFields(_ line: String, _ lineNo: Int, _ errors: inout [PromptError]) -> [(String, String)] {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let cls = words.first else { return [] }
        if cls.contains("=") {
            errors.append(PromptError(line: lineNo, field: "class", message: "line must start with a class name or id, got '\(cls)'"))
            return []
        }
        var out = [("class", cls)]
        for w in words.dropFirst() {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                errors.append(PromptError(line: lineNo, field: w, message: "expected key=value"))
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
        var out: [(String, String)] = []
        guard let cls = dict["class"] else {
            errors.append(PromptError(line: lineNo, field: "class", message: "missing"))
            return []
        }
        out.append(("class", jsonText(cls)))
        for key in dict.keys.sorted() where key != "class" { out.append((key, jsonText(dict[key]!))) }
        return out
    }

    private func jsonText(_ v: Any) -> String {
        if let s = v as? String { return s }
        if let n = v as? NSNumber {
            return n.stringValue
        }
        return "\(v)"
    }

    private func makeJobs(_ fields: [(String, String)], _ lineNo: Int, firstIndex: Int, _ errors: inout [PromptError]) -> [JobSpec] {
        let d = defaults
        var job = JobSpec(queue: d.queue, model: model.name, classLabel: 0, policy: d.policy, temperature: d.temperature,
                          topK: d.topK, topP: d.topP, cfgScale: d.cfg, seed: d.seed, priority: d.priority,
                          maxAttempts: d.maxAttempts, line: lineNo)
        var count = d.count
        var ownSeed: Int64?
        var seen = Set<String>()
        var policyText = d.policy
        func bad(_ field: String, _ message: String) { errors.append(PromptError(line: lineNo, field: field, message: message)) }
        func number(_ key: String, _ value: String) -> Double? {
            guard let v = Double(value), v.isFinite else { bad(key, "'\(value)' is not a number"); return nil }
            return v
        }
        func integer(_ key: String, _ value: String) -> Int? {
            guard let v = Int(value) else { bad(key, "'\(value)' is not an integer"); return nil }
            return v
        }
        for (key, value) in fields {
            if seen.contains(key) { bad(key, "given twice"); continue }
            seen.insert(key)
            switch key {
            case "class":
                if let id = model.classID(for: value) { job.classLabel = id } else {
                    let names = model.classNames.map { " (\($0.joined(separator: ", ")))" } ?? ""
                    bad("class", "unknown class '\(value)': model \(model.name) has classes 0..\(model.numClasses - 1)\(names)")
                }
            case "policy": policyText = value
            case "seed":
                if let v = Int64(value), v >= 0 { ownSeed = v } else { bad(key, "'\(value)' must be an integer >= 0") }
            case "cfg":
                if let v = number(key, value) { if v >= 0 && v <= 100 { job.cfgScale = v } else { bad(key, "\(value) must be in 0...100") } }
            case "temperature":
                if let v = number(key, value) { if v > 0 && v <= 100 { job.temperature = v } else { bad(key, "\(value) must be in (0, 100]") } }
            case "top_k":
                if let v = integer(key, value) { if v >= 0 { job.topK = v } else { bad(key, "\(value) must be >= 0 (0 = off)") } }
            case "top_p":
                if let v = number(key, value) { if v > 0 && v <= 1 { job.topP = v } else { bad(key, "\(value) must be in (0, 1]") } }
            case "count":
                if let v = integer(key, value) { if v >= 1 && v <= Self.maxJobs { count = v } else { bad(key, "\(value) must be in 1...\(Self.maxJobs)") } }
            case "priority":
                if let v = integer(key, value) { if abs(v) <= 1_000_000 { job.priority = v } else { bad(key, "\(value) must be within +-1000000") } }
            case "max_attempts":
                if let v = integer(key, value) { if v >= 1 && v <= 1000 { job.maxAttempts = v } else { bad(key, "\(value) must be in 1...1000") } }
            default:
                bad(key, "unknown key (known: \(Self.keys.joined(separator: ", ")))")
            }
        }
        do { job.policy = try checkPolicy(policyText, model.grid) } catch { bad("policy", "\(error)") }
        var out: [JobSpec] = []
        for n in 0..<count {
            var j = job
            if let s = ownSeed { j.seed = s &+ Int64(n) } else { j.seed = d.seed &+ Int64(firstIndex + n) }
            if j.seed < 0 { j.seed = 0 }
            out.append(j)
        }
        return out
    }
}
