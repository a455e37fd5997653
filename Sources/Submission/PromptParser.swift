import Foundation
import JobCore
import JobStore
import ModelFolder

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

/// One problem in a prompt file: line (1-based), column (1-based, where the text format knows it) and field.
public struct PromptError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int?
    public var field: String
    public var message: String
    public init(line: Int, column: Int? = nil, field: String, message: String) {
        self.line = line; self.column = column; self.field = field; self.message = message
    }
    /// Values the user typed are echoed in `field` and `message`: escaped, never raw control characters.
    public var description: String { "line \(line)\(column.map { ", column \($0)" } ?? ""), \(field.terminalSafe): \(message.terminalSafe)" }
}

/// One `key=value` of a prompt line, with the column of its word (nil in JSONL).
struct PromptField: Sendable {
    var key: String
    var value: String
    var column: Int?
}

/// Every problem found (validation does not stop at the first).
public struct PromptErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [PromptError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Parses and validates a whole prompt file before anything is inserted.
///
/// Text format, one prompt per line: `CLASS [key=value ...]` with CLASS a class name or id, or for a text
/// model `"TEXT" [key=value ...]` (quoting rules in `PromptLine`); the keys are `JobParameters.fields`
/// (policy, seed, cfg, prompt, ...) plus the submission's own `submissionKeys`; `#` outside quotes starts a
/// comment. JSONL: one object per line with the same keys, `{"class": "dress", "policy": "zipar:4"}` or
/// `{"prompt": "a dark ankle boot"}`, plus the `routingKeys` (custom_id, model, queue): a JSONL file is also
/// a batch for `POST /api/batches`, which parses it with this same code.
public struct PromptParser: Sendable {
    /// Keys that shape the submission rather than the image. `id` is another name for `label`.
    public static let submissionKeys = ["count", "priority", "max_attempts", "label", "id", "run_at"]
    public static var keys: [String] { JobParameters.fields.map(\.key) + submissionKeys }
    public static let maxJobs = 100_000
    /// JSONL keys that say where a request goes rather than what it draws: the caller's id for it (echoed
    /// in results and events), the model (one this parser knows) and the queue (default: `defaults.queue`).
    public static let routingKeys = ["custom_id", "model", "queue"]

    /// The model of lines that name none.
    public var model: ModelSpec
    public var defaults: SubmitDefaults
    /// Models a JSONL line may name with `model` besides `model` (the models a server was given).
    public var otherModels: [ModelSpec] = []
    /// The batch API: every JSONL line must carry a `custom_id`.
    public var customIDRequired = false
    /// The batch API without a default model: every JSONL line must name its `model`.
    public var modelRequired = false

    public init(model: ModelSpec, defaults: SubmitDefaults) {
        self.model = model; self.defaults = defaults
    }

    public func parse(_ text: String, format: PromptFormat = .text) throws(PromptErrors) -> [JobSpec] {
        var jobs: [JobSpec] = []
        var errors: [PromptError] = []
        var labelLines: [String: Int] = [:]
        var customIDLines: [String: Int] = [:]
        // A bad command-line default would be reported again on every line that uses it: say it once.
        if let e = validateDefaults() { throw PromptErrors(errors: [e]) }
        // CRLF files read like LF ones: "\r\n" is one Character, so split on both.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let lineNo = index + 1
            var line = String(raw)
            let fields: [PromptField]?   // nil: the line is broken beyond its fields (already reported)
            switch format {
            case .text:
                let words: [PromptWord]
                do { (words, line) = try PromptLine.split(line) } catch {
                    errors.append(PromptError(line: lineNo, column: error.column, field: error.field, message: error.message))
                    continue
                }
                if words.isEmpty { continue }
                fields = textFields(words, lineNo, &errors)
            case .jsonl:
                line = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if line.isEmpty || line.hasPrefix("#") { continue }
                fields = jsonFields(line, lineNo, &errors)
            }
            guard var fields else { continue }
            let before = errors.count
            var target = LineTarget(model: model, queue: defaults.queue, customID: nil)
            if format == .jsonl {
                guard let routed = routing(&fields, lineNo, &errors, &customIDLines) else { continue }
                target = routed
            }
            var made = makeJobs(fields, target, lineNo, firstIndex: jobs.count, &errors)
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
        // A text model's prompt comes from each line, never from a flag: stand one in for the defaults' check.
        var parameters = d.parameters
        if model.conditioning == .text && parameters.prompt == nil { parameters.prompt = "(each line's prompt)" }
        do { try parameters.validate(for: model.limits) } catch { problem = (error.field, error.message) }
        if problem == nil, !(1...Self.maxJobs).contains(d.count) { problem = ("count", "\(d.count) must be in 1...\(Self.maxJobs)") }
        if problem == nil, !(1...1000).contains(d.maxAttempts) { problem = ("max_attempts", "\(d.maxAttempts) must be in 1...1000") }
        if problem == nil, abs(d.priority) > 1_000_000 { problem = ("priority", "\(d.priority) must be within +-1000000") }
        if problem == nil, let p = QueueName.problem(d.queue) { problem = ("queue", p) }
        guard let (field, message) = problem else { return nil }
        let flag = field == "class" ? "class" : "--" + field.replacingOccurrences(of: "_", with: "-")
        return PromptError(line: 0, field: flag, message: message + " (command-line default)")
    }

    /// The words of a text line as fields: a bare first word is the class, quoted first text the prompt.
    private func textFields(_ words: [PromptWord], _ lineNo: Int, _ errors: inout [PromptError]) -> [PromptField]? {
        var out: [PromptField] = []
        func bad(_ w: PromptWord, _ field: String, _ message: String) {
            errors.append(PromptError(line: lineNo, column: w.column, field: String(field.prefix(80)), message: message))
        }
        for (n, w) in words.enumerated() {
            if let key = w.key {
                if key.isEmpty { bad(w, "=" + w.value, "expected key=value"); continue }
                out.append(PromptField(key: key.lowercased(), value: w.value, column: w.column))
            } else if n == 0 && w.quoted {
                out.append(PromptField(key: "prompt", value: w.value, column: w.column))
            } else if n == 0 && model.conditioning == .text {
                // Taking the rest of the line as the prompt would swallow any key=value in it silently.
                bad(w, "prompt", "model \(model.name) draws from text: quote the prompt, as in \"a dark ankle boot\" seed=3 "
                    + "(an unquoted first word names a class)")
                return nil   // the line has no prompt now: "prompt: required" would only repeat this
            } else if n == 0 {
                out.append(PromptField(key: "class", value: w.value, column: w.column))
            } else if w.quoted {
                bad(w, "prompt", "quoted text only starts a line; elsewhere name its key, as in negative_prompt=\"blurry\"")
            } else {
                bad(w, w.value, "expected key=value")
            }
        }
        return out
    }

    private func jsonFields(_ line: String, _ lineNo: Int, _ errors: inout [PromptError]) -> [PromptField]? {
        // JSONSerialization keeps the last of two equal keys silently: which one did the writer mean?
        if let (key, column) = JSONLine.firstDuplicateKey(line) {
            errors.append(PromptError(line: lineNo, column: column, field: String(key.prefix(80)), message: "the key appears twice in one object"))
            return nil
        }
        guard let data = line.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            errors.append(PromptError(line: lineNo, field: "json", message: "not a JSON object"))
            return nil
        }
        // The class first, as on a text line; a null text field is no text ("none" would be a prompt).
        return dict.keys.sorted { ($0 == "class" ? 0 : 1, $0) < ($1 == "class" ? 0 : 1, $1) }.compactMap { key in
            let value = dict[key]!
            if value is NSNull, JobParameters.field(key: key)?.kind == .optionalText { return nil }
            return PromptField(key: key, value: jsonText(value), column: nil)
        }
    }

    private func jsonText(_ v: Any) -> String {
        if v is NSNull { return "none" }
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return n.stringValue }
        return "\(v)"
    }

    /// Where one JSONL line's jobs go: what its routing keys said, or the defaults.
    struct LineTarget {
        var model: ModelSpec
        var queue: String
        var customID: String?
    }

    /// Takes the `routingKeys` out of a JSONL line's fields and checks them; nil when one is wrong (reported).
    private func routing(_ fields: inout [PromptField], _ lineNo: Int, _ errors: inout [PromptError],
                         _ customIDLines: inout [String: Int]) -> LineTarget? {
        var target = LineTarget(model: model, queue: defaults.queue, customID: nil)
        let before = errors.count
        func bad(_ field: String, _ message: String) { errors.append(PromptError(line: lineNo, field: field, message: message)) }
        var named = Set<String>()
        for f in fields where Self.routingKeys.contains(f.key) {
            named.insert(f.key)
            switch f.key {
            case "custom_id":
                guard JobSpec.isValidCustomID(f.value) else {
                    bad("custom_id", "'\(f.value.prefix(80))' must be 1-200 characters without control characters"); continue
                }
                if let first = customIDLines[f.value] {
                    bad("custom_id", "'\(f.value.prefix(80))' is already used on line \(first)"); continue
                }
                customIDLines[f.value] = lineNo
                target.customID = f.value
            case "model":
                let known = [model] + otherModels
                guard let spec = known.first(where: { $0.name == f.value }) else {
                    bad("model", "unknown model '\(f.value.prefix(80))' (known here: \(known.map(\.name).joined(separator: ", ")))"); continue
                }
                target.model = spec
            default:
                if let problem = QueueName.problem(f.value) { bad("queue", problem); continue }
                target.queue = f.value
            }
        }
        if customIDRequired && !named.contains("custom_id") { bad("custom_id", "missing: every line of a batch needs its custom_id") }
        if modelRequired && !named.contains("model") {
            bad("model", "missing: name the model of each line (known here: \(([model] + otherModels).map(\.name).joined(separator: ", ")))")
        }
        fields.removeAll { Self.routingKeys.contains($0.key) }
        return errors.count == before ? target : nil
    }

    private func makeJobs(_ fields: [PromptField], _ target: LineTarget, _ lineNo: Int, firstIndex: Int,
                          _ errors: inout [PromptError]) -> [JobSpec] {
        let d = defaults
        let model = target.model   // a JSONL line may name another model than the parser's default
        var params = d.parameters
        var count = d.count, priority = d.priority, maxAttempts = d.maxAttempts
        var label: String?
        var runAfter = d.runAfter
        var ownSeed = false
        var seen = Set<String>()
        let before = errors.count
        // An error points at the word of its key when the line has one.
        var columns: [String: Int] = [:]
        for f in fields { if let c = f.column { columns[f.key == "id" ? "label" : f.key] = columns[f.key] ?? c } }
        func bad(_ field: String, _ message: String) {
            errors.append(PromptError(line: lineNo, column: columns[field], field: field, message: message))
        }
        func integer(_ key: String, _ value: String, _ range: ClosedRange<Int>, _ rule: String) -> Int? {
            guard let v = Int(value) else { bad(key, "'\(value.prefix(80))' is not an integer"); return nil }
            guard range.contains(v) else { bad(key, "\(v) \(rule)"); return nil }
            return v
        }
        for f in fields {
            let (key, value) = (f.key == "id" ? "label" : f.key, f.value)
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
                if model.conditioning == .text {
                    bad("class", "model \(model.name) draws from a text prompt and takes no class: describe it in the prompt")
                    continue
                }
                guard let id = model.classID(for: value) else {
                    let names = model.classNames.map { " (\($0.joined(separator: ", ")))" } ?? ""
                    bad("class", "unknown class '\(value.prefix(80))': model \(model.name) has classes "
                        + "0..\(model.numClasses - 1)\(names)")
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
        // A prompt given to a class model is the error to report (by validate below), not the missing class.
        if model.conditioning == .classLabel && !seen.contains("class") && params.prompt == nil {
            bad("class", "missing: model \(model.name) draws a class: start the line with a class name or id")
            return []
        }
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
            var job = JobSpec(queue: target.queue, model: model.name, parameters: p, priority: priority,
                              maxAttempts: maxAttempts, label: name, className: model.className(p.classLabel),
                              runAfter: runAfter, line: lineNo)
            job.customID = target.customID
            return job
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
