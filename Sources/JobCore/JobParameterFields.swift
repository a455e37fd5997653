import Foundation

/// One parameter's value as prompt files, JSON and job rows hold it.
public enum ParameterValue: Sendable, Equatable {
    case int(Int)
    case double(Double)
    case text(String)
    case null
}

/// One field of `JobParameters`: its prompt-file / JSON key, its job-row column, and how it converts.
/// The table `JobParameters.fields` is what the prompt parser, the JSON coding and the job store iterate,
/// so none of them names a parameter itself.
public struct ParameterField: Sendable {
    public enum Kind: Sendable { case int, double, text, optionalInt, optionalText }

    /// Key in prompt files (`top_p=0.9`), JSONL and exported JSON.
    public let key: String
    /// Column of the `jobs` table.
    public let column: String
    public let kind: Kind
    /// One line for the prompt-file reference.
    public let help: String
    public let read: @Sendable (JobParameters) -> ParameterValue
    /// Stores a value of the field's kind; the range rules are `JobParameters.validate`'s.
    public let write: @Sendable (inout JobParameters, ParameterValue) throws(ParameterError) -> Void

    /// Reads prompt-file text as a value of this field's kind.
    public func parse(_ text: String) throws(ParameterError) -> ParameterValue {
        switch kind {
        case .text: return .text(text)
        // Never "none" -> null as for optionalInt: "none" is a prompt too. Leaving the key out means none.
        case .optionalText: return .text(text)
        case .int, .optionalInt:
            if kind == .optionalInt && (text.isEmpty || text.lowercased() == "none") { return .null }
            guard let v = Int(text) else { throw ParameterError(field: key, message: "'\(text)' is not an integer") }
            return .int(v)
        case .double:
            guard let v = Double(text), v.isFinite else { throw ParameterError(field: key, message: "'\(text)' is not a number") }
            return .double(v)
        }
    }

    func mismatch(_ v: ParameterValue) -> ParameterError {
        ParameterError(field: key, message: "\(v) is not a value of this field")
    }
}

extension JobParameters {
    /// Every parameter, in the order prompt files document them.
    public static let fields: [ParameterField] = [
        ParameterField(key: "class", column: "class_label", kind: .int,
                       help: "class name or id (the first word of a text prompt line)",
                       read: { .int($0.classLabel) },
                       write: { p, v throws(ParameterError) in p.classLabel = try int(v, "class") }),
        // The `prompt` column already holds the submitted prompt-file line (migration 0004), hence `text_prompt`.
        ParameterField(key: "prompt", column: "text_prompt", kind: .optionalText,
                       help: "text-to-image models: what to draw, one line of at most 2000 characters (in a prompt file: the quoted start of the line)",
                       read: { $0.prompt.map { .text($0) } ?? .null },
                       write: { p, v throws(ParameterError) in p.prompt = try optionalText(v, "prompt") }),
        ParameterField(key: "negative_prompt", column: "negative_prompt", kind: .optionalText,
                       help: "text-to-image models: what guidance (cfg) steers away from; only with a prompt",
                       read: { $0.negativePrompt.map { .text($0) } ?? .null },
                       write: { p, v throws(ParameterError) in p.negativePrompt = try optionalText(v, "negative_prompt") }),
        // Text (migration 0012): `N` for a square grid, as the integer column held it, or `HxW`.
        ParameterField(key: "size", column: "image_size", kind: .optionalText,
                       help: "image grid in tokens: N (N x N) or HxW (H rows of W tokens), for models that draw several sizes (none = the model's grid)",
                       read: { $0.size.map { .text($0.description) } ?? .null },
                       write: { p, v throws(ParameterError) in
                           switch v {
                           case .null: p.size = nil
                           case .text(let t) where t.isEmpty || t.lowercased() == "none": p.size = nil
                           case .text(let t): p.size = try ImageSize(parsing: t)
                           default: p.size = ImageSize(side: try int(v, "size"))   // JSON written before sizes were text
                           }
                       }),
        ParameterField(key: "policy", column: "policy", kind: .text,
                       help: WindowPolicy.helpList,
                       read: { .text($0.policyText) },
                       write: { p, v throws(ParameterError) in
                           guard case .text(let t) = v else { throw ParameterError(field: "policy", message: "\(v) is not text") }
                           do { p.policy = try WindowPolicy(parsing: t) } catch {
                               throw ParameterError(field: "policy", message: "\(error)")
                           }
                       }),
        ParameterField(key: "seed", column: "seed", kind: .int,
                       help: "seed of the first image; image n of the line uses seed + n",
                       read: { .int(Int(clamping: $0.seed)) },
                       write: { p, v throws(ParameterError) in
                           let s = try int(v, "seed")
                           guard s >= 0 else { throw ParameterError(field: "seed", message: "\(s) must be >= 0") }
                           p.seed = UInt64(s)
                       }),
        ParameterField(key: "cfg", column: "cfg_scale", kind: .double,
                       help: "classifier-free guidance scale (1 = off)",
                       read: { .double(Double($0.sampling.cfgScale)) },
                       write: { p, v throws(ParameterError) in p.sampling.cfgScale = Float(try double(v, "cfg")) }),
        ParameterField(key: "cfg_interval", column: "cfg_interval", kind: .optionalInt,
                       help: "guide only the first N image tokens (none = all)",
                       read: { $0.sampling.cfgInterval.map { .int($0) } ?? .null },
                       write: { p, v throws(ParameterError) in
                           p.sampling.cfgInterval = v == .null ? nil : try int(v, "cfg_interval")
                       }),
        ParameterField(key: "temperature", column: "temperature", kind: .double,
                       help: "sampling temperature (0 = greedy)",
                       read: { .double(Double($0.sampling.temperature)) },
                       write: { p, v throws(ParameterError) in p.sampling.temperature = Float(try double(v, "temperature")) }),
        ParameterField(key: "top_k", column: "top_k", kind: .int,
                       help: "keep the K most likely tokens (0 = off)",
                       read: { .int($0.sampling.topK) },
                       write: { p, v throws(ParameterError) in p.sampling.topK = try int(v, "top_k") }),
        ParameterField(key: "top_p", column: "top_p", kind: .double,
                       help: "nucleus: keep the smallest set of tokens with this much mass (1 = off)",
                       read: { .double(Double($0.sampling.topP)) },
                       write: { p, v throws(ParameterError) in p.sampling.topP = Float(try double(v, "top_p")) }),
        ParameterField(key: "min_p", column: "min_p", kind: .double,
                       help: "drop tokens less likely than min_p times the most likely one (0 = off)",
                       read: { .double(Double($0.sampling.minP)) },
                       write: { p, v throws(ParameterError) in p.sampling.minP = Float(try double(v, "min_p")) }),
    ]

    public static func field(key: String) -> ParameterField? { fields.first { $0.key == key } }

    /// The parameters as `key: value` pairs, in `fields` order.
    public var values: [(key: String, value: ParameterValue)] { Self.fields.map { ($0.key, $0.read(self)) } }

    /// Parameters from values by key (missing keys keep `defaults`), checked by `validate()`.
    public init(values: [String: ParameterValue], defaults: JobParameters = JobParameters()) throws(ParameterError) {
        self = defaults
        for f in Self.fields {
            if let v = values[f.key] { try f.write(&self, v) }
        }
        try validate()
    }
}

private func int(_ v: ParameterValue, _ key: String) throws(ParameterError) -> Int {
    switch v {
    case .int(let i): return i
    case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
    default: throw ParameterError(field: key, message: "\(v) is not an integer")
    }
}

private func optionalText(_ v: ParameterValue, _ key: String) throws(ParameterError) -> String? {
    switch v {
    case .text(let t): return t
    case .null: return nil
    default: throw ParameterError(field: key, message: "\(v) is not text")
    }
}

private func double(_ v: ParameterValue, _ key: String) throws(ParameterError) -> Double {
    switch v {
    case .double(let d): return d
    case .int(let i): return Double(i)
    default: throw ParameterError(field: key, message: "\(v) is not a number")
    }
}

// JSON: a flat object by prompt key, so an exported job's parameters read back as a JSONL prompt line.
extension JobParameters: Codable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (key, value) in values {
            // A text job stores class 0 only because the column is NOT NULL: its JSON names no class, so it
            // reads back as a prompt for the text model (which refuses a class).
            if key == "class" && prompt != nil { continue }
            let k = Key(stringValue: key)
            // A square size stays the JSON integer it always was; only HxW needs text.
            if key == "size", let size, size.isSquare { try c.encode(size.rows, forKey: k); continue }
            switch value {
            case .int(let i): try c.encode(i, forKey: k)
            case .double(let d): try c.encode(d, forKey: k)
            case .text(let t): try c.encode(t, forKey: k)
            case .null: try c.encodeNil(forKey: k)
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var values: [String: ParameterValue] = [:]
        for f in Self.fields {
            let k = Key(stringValue: f.key)
            guard c.contains(k) else { continue }
            if try c.decodeNil(forKey: k) { values[f.key] = .null; continue }
            switch f.kind {
            case .int, .optionalInt: values[f.key] = .int(try c.decode(Int.self, forKey: k))
            case .double: values[f.key] = .double(try c.decode(Double.self, forKey: k))
            case .text: values[f.key] = .text(try c.decode(String.self, forKey: k))
            // `size` was an integer in JSON written before non-square grids: still read as one.
            case .optionalText:
                if let n = try? c.decode(Int.self, forKey: k) { values[f.key] = .int(n) }
                else { values[f.key] = .text(try c.decode(String.self, forKey: k)) }
            }
        }
        try self.init(values: values)
    }
}
