/// One entry of tokenizer.json's `added_tokens`.
struct AddedToken: Sendable {
    let id: Int
    let content: String
    let special: Bool
    /// Matched in the normalized text (true) or in the raw text before normalization (false).
    let normalized: Bool
    let lstrip: Bool
    let rstrip: Bool

    init(_ node: JSONNode) throws {
        id = try node.required("id").int()
        content = try node.string("content")
        guard !content.isEmpty else { throw TokenizerError.invalidField(path: node.path + ".content", reason: "an added token cannot be empty") }
        special = try node.bool("special", default: false)
        normalized = try node.bool("normalized", default: !special)
        lstrip = try node.bool("lstrip", default: false)
        rstrip = try node.bool("rstrip", default: false)
        if try node.bool("single_word", default: false) {
            throw TokenizerError.unsupported(path: node.path + ".single_word", what: "single_word added tokens")
        }
    }
}

/// A stretch of text, or an added token found in it.
enum Segment: Equatable {
    case text(String)
    case token(Int)
}

/// Finds added tokens in text before pre-tokenization, so they are never split: at the leftmost position
/// where any token starts, the longest one wins (the aho-corasick LeftmostLongest match `tokenizers` uses).
struct AddedTokenMatcher: Sendable {
    private let candidates: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: AddedToken)]]

    init(_ tokens: [AddedToken]) {
        var c: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: AddedToken)]] = [:]
        for t in tokens {
            let s = Array(t.content.unicodeScalars)
            c[s[0], default: []].append((s, t))
        }
        candidates = c.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    var isEmpty: Bool { candidates.isEmpty }

    func split(_ text: String) -> [Segment] {
        if candidates.isEmpty || text.isEmpty { return text.isEmpty ? [] : [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        var out: [Segment] = []
        var textStart = 0   // start of the pending plain text
        var i = 0
        while i < scalars.count {
            guard let match = longest(at: i, in: scalars) else { i += 1; continue }
            var start = i, end = i + match.scalars.count
            // lstrip / rstrip: the token swallows the whitespace next to it (not past the previous match).
            if match.token.lstrip { while start > textStart, scalars[start - 1].properties.isWhitespace { start -= 1 } }
            if match.token.rstrip { while end < scalars.count, scalars[end].properties.isWhitespace { end += 1 } }
            if start > textStart { out.append(.text(String(String.UnicodeScalarView(scalars[textStart..<start])))) }
            out.append(.token(match.token.id))
            textStart = end
            i = end
        }
        if textStart < scalars.count { out.append(.text(String(String.UnicodeScalarView(scalars[textStart...])))) }
        return out
    }

    private func longest(at i: Int, in scalars: [Unicode.Scalar]) -> (scalars: [Unicode.Scalar], token: AddedToken)? {
        guard let list = candidates[scalars[i]] else { return nil }
        for c in list where i + c.scalars.count <= scalars.count && scalars[i..<(i + c.scalars.count)].elementsEqual(c.scalars) {
            return c
        }
        return nil
    }
}
