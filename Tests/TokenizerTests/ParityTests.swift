import Foundation
import Testing
@testable import Tokenizer

/// Ids and decoded text equal the `tokenizers` package's on every fixture line.
@Suite struct ParityTests {
    @Test(arguments: TokenizerFixtures.names)
    func idsMatchReference(name: String) throws {
        let tok = try TokenizerFixtures.tokenizer(name)
        let ref = try TokenizerFixtures.reference(name)
        let lines = TokenizerFixtures.lines
        try #require(lines.count == ref.ids.count && lines.count > 2000)
        var mismatches: [String] = []
        for (line, expected) in zip(lines, ref.ids) {
            let got = tok.encode(line)
            if got != expected {
                mismatches.append("\(TokenizerFixtures.show(line))\n  want \(expected)\n  got  \(got)")
            }
        }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.count) of \(lines.count) lines differ, first:\n\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test(arguments: TokenizerFixtures.names)
    func postProcessorMatchesReference(name: String) throws {
        let tok = try TokenizerFixtures.tokenizer(name)
        let ref = try TokenizerFixtures.reference(name)
        for (line, expected) in zip(TokenizerFixtures.lines, ref.withSpecial) {
            #expect(tok.encode(line, addSpecialTokens: true) == expected, "\(TokenizerFixtures.show(line))")
        }
    }

    @Test(arguments: TokenizerFixtures.names)
    func decodeMatchesReference(name: String) throws {
        let tok = try TokenizerFixtures.tokenizer(name)
        let ref = try TokenizerFixtures.reference(name)
        for c in ref.decode {
            let text = tok.decode(c.ids), skipped = tok.decode(c.ids, skipSpecialTokens: true)
            #expect(TokenizerFixtures.same(text, c.text), "\(c.ids): \(TokenizerFixtures.show(text)) != \(TokenizerFixtures.show(c.text))")
            #expect(TokenizerFixtures.same(skipped, c.skipSpecialText),
                    "\(c.ids) skip: \(TokenizerFixtures.show(skipped)) != \(TokenizerFixtures.show(c.skipSpecialText))")
        }
    }

    /// Byte-level tokenizers lose nothing: decode(encode(x)) gives x back (NFC-normalized for Emu3's).
    @Test(arguments: ["emu3-like", "chameleon-like"])
    func roundTrip(name: String) throws {
        let tok = try TokenizerFixtures.tokenizer(name)
        var failures: [String] = []
        for line in TokenizerFixtures.lines {
            let expected = name == "emu3-like" ? line.precomposedStringWithCanonicalMapping : line
            let back = tok.decode(tok.encode(line))
            if !TokenizerFixtures.same(back, expected) { failures.append(TokenizerFixtures.show(line)) }
        }
        #expect(failures.isEmpty, "\(failures.count) lines do not round-trip, first: \(failures.prefix(3))")
    }
}
