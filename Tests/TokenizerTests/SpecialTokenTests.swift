import Foundation
import Testing
@testable import Tokenizer

/// Added tokens are matched before pre-tokenization: each maps to its one id and is never split.
@Suite struct SpecialTokenTests {
    @Test func emu3MarkersHaveTheirIds() throws {
        let tok = try TokenizerFixtures.tokenizer("emu3-like")
        #expect(tok.id(of: "<|endoftext|>") == 0)
        #expect(tok.id(of: "<|extra_0|>") == 1)
        #expect(tok.id(of: "<|extra_203|>") == 204)   // Emu3's BOS
        let boi = try #require(tok.id(of: "<|image start|>")), img = try #require(tok.id(of: "<|image token|>"))
        let eol = try #require(tok.id(of: "<|extra_200|>"))
        let ids = tok.encode("<|extra_203|>a cat<|image start|>16*16<|image token|><|extra_200|>")
        #expect(ids.first == 204)
        #expect(ids.contains(boi) && ids.contains(img) && ids.last == eol)
        #expect(tok.isSpecial(boi) && !tok.isSpecial(tok.id(of: "<|grid|>")!))
    }

    @Test(arguments: ["emu3-like", "chameleon-like"])
    func everySpecialTokenIsOneIdEvenInsideWords(name: String) throws {
        let tok = try TokenizerFixtures.tokenizer(name)
        let specials = tok.addedTokens.values.filter(\.special)
        #expect(specials.count > 100)
        for t in specials {
            #expect(tok.encode(t.content) == [t.id], "\(t.content)")
            let around = tok.encode("word\(t.content)word 12")
            #expect(around.filter { $0 == t.id }.count == 1, "\(t.content) inside a word")
            #expect(tok.decode(around, skipSpecialTokens: true) == "wordword 12")
        }
    }

    @Test func chameleonConventions() throws {
        let tok = try TokenizerFixtures.tokenizer("chameleon-like")
        #expect(tok.id(of: "<s>") == 0 && tok.id(of: "</s>") == 2 && tok.id(of: "<unk>") == 3)
        let boi = try #require(tok.id(of: "<racm3:break>")), eoi = try #require(tok.id(of: "<eoss>"))
        let newLine = try #require(tok.id(of: "<reserved08799>"))
        #expect(tok.encode("a red cat", addSpecialTokens: true).first == 0)
        let ids = tok.encode("<racm3:break>IMGIMGBZIMGIMGCAZ<reserved08799><eoss>")
        #expect(ids == [boi, tok.id(of: "IMGIMGBZ")!, tok.id(of: "IMGIMGCAZ")!, newLine, eoi])
    }

    /// A prefix of a special token, or a name that is not one, is ordinary text.
    @Test func nearMissesAreText() throws {
        let tok = try TokenizerFixtures.tokenizer("emu3-like")
        for text in ["<|extra_", "<|extra_999|>", "[BOS", "<|image"] {
            #expect(tok.encode(text).allSatisfy { !tok.isSpecial($0) }, "\(text)")
            #expect(tok.decode(tok.encode(text)) == text)
        }
    }
}
