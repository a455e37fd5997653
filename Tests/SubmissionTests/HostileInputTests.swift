import Foundation
import JobStore
import Submission
import Testing

/// Issue 21, item 8: names and text that could inject terminal escapes, a byte-order mark, bytes that are not
/// UTF-8, and duplicate JSON keys.
@Suite struct HostileInputTests {
    func errors(_ text: String, format: PromptFormat = .text, _ d: SubmitDefaults = SubmitDefaults()) -> [PromptError] {
        do { _ = try PromptParser(model: fashion, defaults: d).parse(text, format: format); return [] } catch { return error.errors }
    }

    @Test func queueNamesWithControlCharactersAreRefused() {
        #expect(QueueName.problem("renders") == nil)
        #expect(QueueName.problem("a\u{1B}[2Jb")?.contains("U+001B") == true)
        #expect(QueueName.problem("tab\there") != nil)
        #expect(QueueName.problem("rtl\u{202E}txt") != nil)           // a bidirectional override
        var d = SubmitDefaults()
        d.queue = "evil\u{1B}]0;title\u{07}"
        let e = errors("dress", d)
        #expect(e.count == 1 && e[0].field == "--queue")
        #expect(!e[0].description.contains("\u{1B}"), "the echo is escaped")
    }

    @Test func echoedValuesAreEscaped() {
        let e = errors("dress policy=\u{1B}[31mred")
        #expect(e.count == 1)
        #expect(!e[0].description.unicodeScalars.contains { $0.value == 0x1B })
        #expect(e[0].description.contains("\\u{1B}"))
        #expect("plain text".terminalSafe == "plain text")
    }

    @Test func aByteOrderMarkIsSkipped() throws {
        let text = try InputText.decode([0xEF, 0xBB, 0xBF] + Array("dress\ncoat\n".utf8))
        let jobs = try PromptParser(model: fashion, defaults: SubmitDefaults()).parse(text)
        #expect(jobs.map(\.parameters.classLabel) == [3, 4])
    }

    @Test func invalidUTF8IsAnErrorWithLineAndColumn() {
        do {
            _ = try InputText.decode(Array("dress\ncoat ".utf8) + [0xC3, 0x28] + Array(" x\n".utf8))
            Issue.record("invalid UTF-8 was accepted")
        } catch {
            #expect(error.errors.count == 1 && error.errors[0].line == 2 && error.errors[0].column == 6, "\(error)")
        }
    }

    @Test func duplicateJSONKeysAreRefusedNamingTheKey() {
        let e = errors(#"{"class": "dress", "seed": 1, "seed": 2}"#, format: .jsonl)
        #expect(e.count == 1 && e[0].field == "seed" && e[0].line == 1 && e[0].column == 31, "\(e)")
        // The same key in two different objects is fine.
        #expect(errors(#"{"class": "dress", "seed": 1}"# + "\n" + #"{"class": "coat", "seed": 1}"#, format: .jsonl).isEmpty)
    }
}
