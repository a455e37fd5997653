import Foundation

/// tokenizer.json's `normalizer`: rewrites each stretch of text between added tokens before pre-tokenization.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case replace(TokenRegex, String)
    case prepend(String)
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    init(_ node: JSONNode) throws {
        switch try node.type() {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Replace": self = .replace(try readPattern(node.required("pattern")), try node.string("content"))
        case "Prepend": self = .prepend(try node.string("prepend"))
        case "Strip": self = .strip(left: try node.bool("strip_left", default: true),
                                    right: try node.bool("strip_right", default: true))
        case "Sequence": self = .sequence(try node.required("normalizers").array().map(Normalizer.init))
        case let other: throw TokenizerError.unsupported(path: node.path, what: "normalizer type '\(other)'")
        }
    }

    func apply(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .lowercase:
            // Per scalar, without context (no final-sigma rule), like Rust's char::to_lowercase.
            var out = String.UnicodeScalarView()
            for s in text.unicodeScalars { out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars) }
            return String(out)
        case .replace(let regex, let content): return regex.replacingMatches(in: text, with: content)
        case .prepend(let p): return text.isEmpty ? text : p + text
        case .strip(let left, let right):
            var scalars = Array(text.unicodeScalars)[...]
            if left { while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() } }
            if right { while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() } }
            return String(String.UnicodeScalarView(scalars))
        case .sequence(let all): return all.reduce(text) { $1.apply($0) }
        }
    }
}
