/// tokenizer.json's `decoder`: turns tokens back into text. Each step maps the token list to a new one
/// (`tokenizers`' decode_chain); the results are concatenated at the end.
indirect enum Decoder: Sendable {
    case byteLevel
    case replace(TokenRegex, String)
    case byteFallback
    case fuse
    case strip(content: String, start: Int, stop: Int)
    case metaspace(replacement: String, prependScheme: PreTokenizer.PrependScheme)
    case sequence([Decoder])

    init(_ node: JSONNode) throws {
        switch try node.type() {
        case "ByteLevel": self = .byteLevel
        case "Replace": self = .replace(try readPattern(node.required("pattern")), try node.string("content"))
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip": self = .strip(content: try node.string("content"), start: try node.required("start").int(),
                                    stop: try node.required("stop").int())
        case "Metaspace":
            let scheme = try node.optionalString("prepend_scheme").flatMap(PreTokenizer.PrependScheme.init(rawValue:))
                ?? (try node.bool("add_prefix_space", default: true) ? .always : .never)
            self = .metaspace(replacement: try node.optionalString("replacement") ?? "\u{2581}", prependScheme: scheme)
        case "Sequence": self = .sequence(try node.required("decoders").array().map(Decoder.init))
        case let other: throw TokenizerError.unsupported(path: node.path, what: "decoder type '\(other)'")
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            // A token of byte-level scalars becomes its bytes; any other token (an added token such as
            // "<|extra_0|>" with scalars outside the map) keeps its own UTF-8. Invalid UTF-8 becomes U+FFFD.
            var bytes: [UInt8] = []
            for t in tokens { bytes += ByteLevel.bytes(of: t) ?? Array(t.utf8) }
            return [String(decoding: bytes, as: UTF8.self)]
        case .replace(let regex, let content):
            return tokens.map { regex.replacingMatches(in: $0, with: content) }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                // Bytes that are not valid UTF-8 give one U+FFFD each, as in `tokenizers`.
                if let s = String(validating: pending, as: UTF8.self) { out.append(s) } else {
                    out += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending = []
            }
            for t in tokens {
                if let b = Decoder.fallbackByte(t) { pending.append(b) } else { flush(); out.append(t) }
            }
            flush()
            return out
        case .fuse: return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                var s = Array(t)
                var n = 0
                while n < start, let f = s.first, String(f) == content { s.removeFirst(); n += 1 }
                n = 0
                while n < stop, let l = s.last, String(l) == content { s.removeLast(); n += 1 }
                return String(s)
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, t in
                var s = t.replacingOccurrences(of: replacement, with: " ")
                if i == 0, scheme != .never, s.hasPrefix(" ") { s.removeFirst() }
                return s
            }
        case .sequence(let steps): return steps.reduce(tokens) { $1.decodeChain($0) }
        }
    }

    /// The byte of a "<0xXX>" token.
    static func fallbackByte(_ token: String) -> UInt8? {
        guard token.utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(token.dropFirst(3).prefix(2), radix: 16)
    }
}
