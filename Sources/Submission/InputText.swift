import Foundation

/// A prompt file's bytes as text: a UTF-8 byte-order mark is skipped (editors on some systems write one,
/// and it would glue itself to the first line's class name), and bytes that are not UTF-8 are an error
/// naming the line and column, never replaced by U+FFFD in silence.
public enum InputText {
    public static func decode(_ bytes: [UInt8]) throws(PromptErrors) -> String {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var line = 1, column = 1
        var iterator = body.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var text = String.UnicodeScalarView()
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                text.append(scalar)
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                break loop
            case .error:
                throw PromptErrors(errors: [PromptError(line: line, column: column, field: "input",
                                                        message: "not UTF-8 text (an invalid byte sequence here); save the file as UTF-8")])
            }
        }
        return String(text)
    }
}

/// The few facts about a JSONL line that `JSONSerialization` hides.
enum JSONLine {
    /// The first key that occurs twice in the same object (at any depth), with its 1-based column.
    static func firstDuplicateKey(_ line: String) -> (String, Int)? {
        var stack: [Set<String>] = []
        var expectingKey: [Bool] = []
        let chars = Array(line.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "{": stack.append([]); expectingKey.append(true)
            case "}": _ = stack.popLast(); _ = expectingKey.popLast()
            case "[": stack.append([]); expectingKey.append(false)
            case "]": _ = stack.popLast(); _ = expectingKey.popLast()
            case ",": if !expectingKey.isEmpty, !stack.isEmpty { expectingKey[expectingKey.count - 1] = isObject(chars, i) }
            case ":": if !expectingKey.isEmpty { expectingKey[expectingKey.count - 1] = false }
            case "\"":
                let start = i
                var text = String.UnicodeScalarView()
                i += 1
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count { text.append(chars[i]); i += 1 }
                    text.append(chars[i]); i += 1
                }
                if expectingKey.last == true {
                    let key = String(text)
                    if stack[stack.count - 1].contains(key) { return (key, start + 1) }
                    stack[stack.count - 1].insert(key)
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Whether the innermost open bracket before `index` is `{` (a comma there starts a key).
    private static func isObject(_ chars: [Unicode.Scalar], _ index: Int) -> Bool {
        var depth = 0, inString = false, i = index - 1
        // Walk back to the unmatched opener, skipping strings (scanning backwards: quotes toggle).
        while i >= 0 {
            let c = chars[i]
            if c == "\"" && (i == 0 || chars[i - 1] != "\\") { inString.toggle() }
            else if !inString {
                if c == "}" || c == "]" { depth += 1 }
                else if c == "{" || c == "[" { if depth == 0 { return c == "{" }; depth -= 1 }
            }
            i -= 1
        }
        return false
    }
}
