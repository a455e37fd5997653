import Foundation

/// A compiled pattern from tokenizer.json, matched with ICU (NSRegularExpression).
///
/// The `tokenizers` package matches with Oniguruma. The two agree on what these tokenizers use:
/// `\p{L}`, `\p{N}`, `\p{P}`, `(?i:...)`, lookahead, and `\s` (both the Unicode White_Space set, U+000B and
/// U+0085 included; measured, and pinned by LoadingTests.whitespaceClassMatchesOniguruma), so patterns are
/// used unchanged.
struct TokenRegex: @unchecked Sendable {  // NSRegularExpression is immutable and documented thread-safe.
    let regex: NSRegularExpression
    let source: String

    init(pattern: String, path: String) throws {
        source = pattern
        do { regex = try NSRegularExpression(pattern: pattern) } catch {
            throw TokenizerError.invalidRegex(path: path, pattern: pattern, reason: "\(error)")
        }
    }

    /// A pattern that matches `literal` verbatim (tokenizer.json's `{"String": ...}` patterns).
    init(literal: String, path: String) throws {
        try self.init(pattern: NSRegularExpression.escapedPattern(for: literal), path: path)
    }

    /// UTF-16 ranges of every non-empty match, left to right.
    func matches(in text: String) -> [Range<Int>] {
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).compactMap {
            $0.range.length > 0 ? $0.range.location..<($0.range.location + $0.range.length) : nil
        }
    }

    /// `text` cut at the matches: every piece tagged with whether it was a match. Empty pieces are left out.
    func segments(of text: String) -> [(text: String, isMatch: Bool)] {
        let units = Array(text.utf16)
        func slice(_ r: Range<Int>) -> String { String(decoding: units[r], as: UTF16.self) }
        var out: [(String, Bool)] = []
        var previous = 0
        for r in matches(in: text) {
            if r.lowerBound > previous { out.append((slice(previous..<r.lowerBound), false)) }
            out.append((slice(r), true))
            previous = r.upperBound
        }
        if previous < units.count { out.append((slice(previous..<units.count), false)) }
        return out
    }

    /// Every match replaced by `template` taken literally (Replace normalizer / decoder).
    func replacingMatches(in text: String, with content: String) -> String {
        regex.stringByReplacingMatches(in: text, range: NSRange(location: 0, length: (text as NSString).length),
                                       withTemplate: NSRegularExpression.escapedTemplate(for: content))
    }
}

/// tokenizer.json's `{"Regex": "..."}` or `{"String": "..."}` pattern object.
func readPattern(_ node: JSONNode) throws -> TokenRegex {
    if let r = try node.optional("Regex") { return try TokenRegex(pattern: r.string(), path: r.path) }
    if let s = try node.optional("String") { return try TokenRegex(literal: s.string(), path: s.path) }
    throw TokenizerError.invalidField(path: node.path, reason: "expected {\"Regex\": ...} or {\"String\": ...}")
}
