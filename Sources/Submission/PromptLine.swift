/// One word of a text prompt line: a bare word (the class), quoted text (the prompt), or `key=value`
/// whose value may be quoted.
struct PromptWord: Sendable, Equatable {
    /// Nil for a word without `=`.
    var key: String?
    var value: String
    /// The text was in quotes: it may hold spaces, `=` and `#`.
    var quoted: Bool
    /// 1-based column of the word's first character in the line.
    var column: Int
}

/// A line that cannot be split into words: where, and in which field.
struct PromptSyntaxError: Error, Sendable, Equatable {
    var column: Int
    var field: String
    var message: String
}

/// Splits one line of a text prompt file into words.
///
/// Words are separated by spaces or tabs. A word that starts with `"` is quoted text, and so is the value
/// of `key="..."`: inside the quotes `\"` is a quote and `\\` a backslash (a backslash before anything else
/// stays as it is, so Windows paths and emoticons need no doubling), and spaces, `=` and `#` are text. A
/// closing quote ends its word. Outside quotes `#` starts a comment, as it always did: no prompt file written
/// before quoting existed holds a `"` before its comment (no class, policy, number or label can), so each
/// one still splits exactly as before.
enum PromptLine {
    /// The words, and the line without its comment and outer blanks (what a job keeps as its prompt line).
    static func split(_ line: String) throws(PromptSyntaxError) -> (words: [PromptWord], content: String) {
        // Outer blanks of any kind are trimmed, as the line always was; columns still count from the line's start.
        let all = Array(line)
        let chars = all[..<((all.lastIndex { !$0.isWhitespace } ?? -1) + 1)]
        var i = chars.firstIndex { !$0.isWhitespace } ?? chars.count
        var end = chars.count
        var words: [PromptWord] = []
        func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" }
        func endsWord(_ k: Int) -> Bool { k >= chars.count || isBlank(chars[k]) || chars[k] == "#" }

        /// Reads quoted text starting at the opening quote at `i`; leaves `i` after the closing quote.
        func quoted(field: String) throws(PromptSyntaxError) -> String {
            let open = i
            var text = ""
            i += 1
            while i < chars.count {
                let c = chars[i]
                if c == "\\", i + 1 < chars.count, chars[i + 1] == "\"" || chars[i + 1] == "\\" {
                    text.append(chars[i + 1]); i += 2
                } else if c == "\"" {
                    i += 1
                    guard endsWord(i) else {
                        throw PromptSyntaxError(column: i + 1, field: field, message: "a closing quote must end its word: "
                                                + "put a space after it, or write \\\" for a quote inside the text")
                    }
                    return text
                } else {
                    text.append(c); i += 1
                }
            }
            throw PromptSyntaxError(column: open + 1, field: field,
                                    message: "unterminated quote: the \" at column \(open + 1) has no closing \"")
        }

        while i < chars.count {
            while i < chars.count && isBlank(chars[i]) { i += 1 }
            guard i < chars.count else { break }
            if chars[i] == "#" { end = i; break }
            let start = i
            if chars[i] == "\"" {
                words.append(PromptWord(key: nil, value: try quoted(field: "prompt"), quoted: true, column: start + 1))
                continue
            }
            var head = ""
            while !endsWord(i) && chars[i] != "=" { head.append(chars[i]); i += 1 }
            guard i < chars.count, chars[i] == "=" else {
                words.append(PromptWord(key: nil, value: head, quoted: false, column: start + 1))
                continue
            }
            i += 1
            if i < chars.count && chars[i] == "\"" {
                let field = head.isEmpty ? "=" : head.lowercased()
                words.append(PromptWord(key: head, value: try quoted(field: field), quoted: true, column: start + 1))
            } else {
                var value = ""
                while !endsWord(i) { value.append(chars[i]); i += 1 }
                words.append(PromptWord(key: head, value: value, quoted: false, column: start + 1))
            }
        }
        let content = String(chars[..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
        return (words, content)
    }
}
