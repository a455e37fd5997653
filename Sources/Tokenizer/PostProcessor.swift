/// tokenizer.json's `post_processor`, for a single sequence: which special ids `encode` adds around the
/// text's ids when asked to add special tokens (Chameleon adds <s>; Emu3's ByteLevel processor adds none).
indirect enum PostProcessor: Sendable {
    case none
    /// ids before and after the sequence
    case wrap(prefix: [Int], suffix: [Int])
    case sequence([PostProcessor])

    init(_ node: JSONNode) throws {
        switch try node.type() {
        case "ByteLevel": self = .none   // only adjusts offsets, which this tokenizer does not produce
        case "TemplateProcessing":
            var specials: [String: [Int]] = [:]
            for (name, spec) in try node.required("special_tokens").entries() {
                specials[name] = try spec.required("ids").array().map { try $0.int() }
            }
            var prefix: [Int] = [], suffix: [Int] = []
            var seenSequence = false
            for item in try node.required("single").array() {
                if let special = try item.optional("SpecialToken") {
                    let name = try special.string("id")
                    guard let ids = specials[name] else {
                        throw TokenizerError.invalidField(path: special.path, reason: "'\(name)' is not in special_tokens")
                    }
                    if seenSequence { suffix += ids } else { prefix += ids }
                } else if try item.optional("Sequence") != nil {
                    seenSequence = true
                } else {
                    throw TokenizerError.invalidField(path: item.path, reason: "expected SpecialToken or Sequence")
                }
            }
            self = .wrap(prefix: prefix, suffix: suffix)
        case "RobertaProcessing", "BertProcessing":
            let cls = try node.required("cls").array(), sep = try node.required("sep").array()
            guard cls.count == 2, sep.count == 2 else {
                throw TokenizerError.invalidField(path: node.path, reason: "cls and sep must be [token, id]")
            }
            self = .wrap(prefix: [try cls[1].int()], suffix: [try sep[1].int()])
        case "Sequence": self = .sequence(try node.required("processors").array().map(PostProcessor.init))
        case let other: throw TokenizerError.unsupported(path: node.path, what: "post_processor type '\(other)'")
        }
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .none: return ids
        case .wrap(let prefix, let suffix): return prefix + ids + suffix
        case .sequence(let steps): return steps.reduce(ids) { $1.apply($0) }
        }
    }
}
