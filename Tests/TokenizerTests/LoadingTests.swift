import Foundation
import Testing
@testable import Tokenizer

/// A malformed tokenizer.json fails with an error that names the problem and where it is.
@Suite struct LoadingTests {
    static let minimal = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}"#

    func error(_ json: String) -> TokenizerError? {
        do { _ = try Tokenizer(data: Data(json.utf8)); return nil } catch { return error as? TokenizerError }
    }

    @Test func minimalFileLoads() throws {
        let tok = try Tokenizer(data: Data(Self.minimal.utf8))
        #expect(tok.encode("abab") == [2, 2])   // no pre-tokenizer: one piece
        #expect(tok.decode([2, 0]) == "ab a")  // no decoder: tokens joined by spaces
    }

    @Test func malformedFilesNameTheProblem() {
        let cases: [(String, String)] = [
            ("not json", "not valid JSON"),
            ("[1, 2]", "top level is not an object"),
            (#"{"normalizer": null}"#, "missing field 'model'"),
            (#"{"model": {"type": "BPE", "merges": []}}"#, "missing field 'model.vocab'"),
            (#"{"model": {"type": "WordPiece", "vocab": {}}}"#, "model 'WordPiece'"),
            (#"{"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}}"#, "'model.vocab.a': expected an integer"),
            (#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}}"#, "'model.merges[0]'"),
            (#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}}"#, "not two tokens"),
            (#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}"#, "model.unk_token"),
            (#"{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}}"#,
             "pre_tokenizer.pattern.Regex"),
            (#"{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Bogus"}]}}"#,
             "pre_tokenizer type 'Bogus' at 'pre_tokenizer.pretokenizers[0]'"),
            (#"{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}}"#,
             "split behavior 'Sideways'"),
            (#"{"model": {"type": "BPE", "vocab": {}, "merges": []}, "added_tokens": [{"content": "<x>"}]}"#, "added_tokens[0].id"),
        ]
        for (json, expected) in cases {
            let e = error(json)
            #expect(e != nil, "\(json) should fail")
            #expect(e?.description.contains(expected) == true, "\(json): \(e.map(String.init(describing:)) ?? "no error") lacks \(expected)")
        }
    }

    /// ICU's `\s` is Oniguruma's (what `tokenizers` uses): U+000B and U+0085 included, U+200B and U+001C not.
    @Test func whitespaceClassMatchesOniguruma() throws {
        let r = try TokenRegex(pattern: #"\s+"#, path: "t")
        #expect(r.matches(in: "a\u{0B}\u{85}\u{3000} b").count == 1)
        #expect(r.matches(in: "a\u{200B}\u{1C}b").isEmpty)
        let notSpace = try TokenRegex(pattern: #"[^\s\p{L}]+"#, path: "t")
        #expect(notSpace.segments(of: "1\u{0B}2").map(\.text) == ["1", "\u{0B}", "2"])
        #expect(try TokenRegex(pattern: #"\S+"#, path: "t").matches(in: "ab\u{85}cd").count == 2)
    }
}
