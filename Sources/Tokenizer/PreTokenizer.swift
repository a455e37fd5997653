/// How a Split keeps the delimiters it finds (tokenizer.json `behavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// Groups tagged segments into pieces, as `tokenizers`' NormalizedString::split does.
    func apply(_ segments: [(text: String, isMatch: Bool)]) -> [String] {
        switch self {
        case .removed: return segments.filter { !$0.isMatch }.map(\.text)
        case .isolated: return segments.map(\.text)
        case .contiguous:
            var out: [String] = []
            var previous: Bool? = nil
            for s in segments {
                if s.isMatch == previous, !out.isEmpty { out[out.count - 1] += s.text } else { out.append(s.text) }
                previous = s.isMatch
            }
            return out
        case .mergedWithPrevious:
            var out: [String] = []
            var previousMatch = false
            for s in segments {
                if s.isMatch && !previousMatch && !out.isEmpty { out[out.count - 1] += s.text } else { out.append(s.text) }
                previousMatch = s.isMatch
            }
            return out
        case .mergedWithNext:
            var out: [String] = []   // built right to left
            var previousMatch = false
            for s in segments.reversed() {
                if s.isMatch && !previousMatch && !out.isEmpty { out[out.count - 1] = s.text + out[out.count - 1] } else { out.append(s.text) }
                previousMatch = s.isMatch
            }
            return out.reversed()
        }
    }
}

/// tokenizer.json's `pre_tokenizer`: cuts normalized text into the pieces the model sees one at a time.
/// Pieces are plain strings; after ByteLevel they are written in byte-level scalars.
indirect enum PreTokenizer: Sendable {
    case split(TokenRegex, SplitBehavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, regex: TokenRegex?)
    case digits(individual: Bool, regex: TokenRegex)
    case metaspace(replacement: String, prepend: PrependScheme, split: Bool)
    case whitespaceSplit(TokenRegex)
    case sequence([PreTokenizer])

    enum PrependScheme: String, Sendable { case always, first, never }

    init(_ node: JSONNode) throws {
        switch try node.type() {
        case "Split":
            let b = try node.string("behavior")
            guard let behavior = SplitBehavior(rawValue: b) else {
                throw TokenizerError.invalidField(path: node.path + ".behavior", reason: "unknown split behavior '\(b)'")
            }
            self = .split(try readPattern(node.required("pattern")), behavior, invert: try node.bool("invert", default: false))
        case "ByteLevel":
            let useRegex = try node.bool("use_regex", default: true)
            self = .byteLevel(addPrefixSpace: try node.bool("add_prefix_space", default: true),
                              regex: useRegex ? try TokenRegex(pattern: ByteLevel.gpt2Pattern, path: node.path) : nil)
        case "Digits":
            // Rust's char::is_numeric is \p{N}; one digit a piece, or runs of them.
            let individual = try node.bool("individual_digits", default: false)
            self = .digits(individual: individual, regex: try TokenRegex(pattern: #"\p{N}"#, path: node.path))
        case "Metaspace":
            let replacement = try node.optionalString("replacement") ?? "\u{2581}"
            let scheme: PrependScheme
            if let s = try node.optionalString("prepend_scheme") {
                guard let p = PrependScheme(rawValue: s) else {
                    throw TokenizerError.invalidField(path: node.path + ".prepend_scheme", reason: "unknown scheme '\(s)'")
                }
                scheme = p
            } else { scheme = try node.bool("add_prefix_space", default: true) ? .always : .never }
            self = .metaspace(replacement: replacement, prepend: scheme, split: try node.bool("split", default: true))
        case "WhitespaceSplit":
            self = .whitespaceSplit(try TokenRegex(pattern: #"\s+"#, path: node.path))
        case "Sequence":
            self = .sequence(try node.required("pretokenizers").array().map(PreTokenizer.init))
        case let other: throw TokenizerError.unsupported(path: node.path, what: "pre_tokenizer type '\(other)'")
        }
    }

    /// Applies this step to every piece (each step refines the pieces of the one before).
    func apply(_ pieces: [String]) -> [String] {
        switch self {
        case .sequence(let steps): return steps.reduce(pieces) { $1.apply($0) }
        default: return pieces.enumerated().flatMap { apply(piece: $0.element, isFirst: $0.offset == 0) }.filter { !$0.isEmpty }
        }
    }

    private func apply(piece: String, isFirst: Bool) -> [String] {
        switch self {
        case .split(let regex, let behavior, let invert):
            let segs = regex.segments(of: piece).map { (text: $0.text, isMatch: $0.isMatch != invert) }
            return behavior.apply(segs)
        case .byteLevel(let addPrefixSpace, let regex):
            let text = addPrefixSpace && !piece.hasPrefix(" ") ? " " + piece : piece
            let parts = regex.map { SplitBehavior.isolated.apply($0.segments(of: text)) } ?? [text]
            return parts.map(ByteLevel.encode)
        case .digits(let individual, let regex):
            return (individual ? SplitBehavior.isolated : .contiguous).apply(regex.segments(of: piece))
        case .metaspace(let replacement, let prepend, let split):
            var text = piece.replacingOccurrences(of: " ", with: replacement)
            if prepend == .always || (prepend == .first && isFirst), !text.hasPrefix(replacement) {
                text = replacement + text
            }
            guard split else { return [text] }
            let marker = try! TokenRegex(literal: replacement, path: "metaspace")  // a literal always compiles
            return SplitBehavior.mergedWithNext.apply(marker.segments(of: text))
        case .whitespaceSplit(let regex):
            return SplitBehavior.removed.apply(regex.segments(of: piece))
        case .sequence:
            return apply([piece])
        }
    }
}
