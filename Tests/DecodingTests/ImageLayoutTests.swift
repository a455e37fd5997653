import Testing
@testable import Decoding

@Suite struct ImageLayoutTests {
    static let plain = ImageLayout.plain(classTokens: 2, grid: 4, codebookSize: 64)
    /// tools/train/text2img's shape at 3x4: a 5-token prompt, EOL 5, suffix EOF EOI EOS, image ids from 460.
    static let endOfRow = ImageLayout(rows: 3, columns: 4, prefixLength: 5, imageTokenOffset: 460, codebookSize: 512,
                                      endOfRow: .init(token: 5, suffix: [6, 7, 2]))

    @Test func plainPositionsAreLlamaGens() {
        let l = Self.plain
        #expect(l.position(row: 0, column: 0) == 2 && l.position(row: 1, column: 0) == 6 && l.position(ofToken: 15) == 17)
        #expect(l.endOfRowPosition(row: 0) == nil && l.rowStride == 4 && l.length == 18)
        #expect(l.forcedToken(at: 5) == nil && l.vocabularyID(code: 7) == 7)
    }

    @Test func endOfRowPositions() {
        let l = Self.endOfRow
        #expect(l.rowStride == 5 && l.length == 5 + 3 * 5 + 3)
        #expect(l.position(row: 0, column: 0) == 5 && l.position(row: 1, column: 0) == 10 && l.position(row: 2, column: 3) == 18)
        #expect(l.endOfRowPosition(row: 0) == 9 && l.endOfRowPosition(row: 2) == 19)
        #expect(l.forcedToken(at: 9) == 5 && l.forcedToken(at: 14) == 5 && l.forcedToken(at: 8) == nil)
        #expect(l.forcedToken(at: 20) == 6 && l.forcedToken(at: 21) == 7 && l.forcedToken(at: 22) == 2)
        #expect(l.slot(at: 4) == .prefix(index: 4) && l.slot(at: 23) == nil)
    }

    @Test(arguments: [ImageLayoutTests.plain, ImageLayoutTests.endOfRow])
    func positionsRoundTrip(_ l: ImageLayout) {
        var images = 0, rowEnds = 0
        for p in 0..<l.length {
            switch l.slot(at: p) {
            case .image(let i, let j)?:
                #expect(l.position(row: i, column: j) == p)
                images += 1
            case .endOfRow(let i)?:
                #expect(l.endOfRowPosition(row: i) == p)
                rowEnds += 1
            case .prefix(let k)?: #expect(k == p)
            case .suffix?: #expect(l.hasEndOfRow)
            case nil: Issue.record("position \(p) inside the sequence has no slot")
            }
        }
        #expect(images == l.imageTokens && rowEnds == (l.hasEndOfRow ? l.rows : 0))
        for t in 0..<l.imageTokens { #expect(l.slot(at: l.position(ofToken: t)) == .image(row: t / l.columns, column: t % l.columns)) }
        for code in [0, 1, l.codebookSize - 1] { #expect(l.code(vocabularyID: l.vocabularyID(code: code)) == code) }
    }

    /// The query at a position predicts the next image token: LlamaGen's `position - prefix + 1`, and on the
    /// end-of-row layout the end-of-row token and the last token of a row both predict the next row's first.
    @Test func predictedTokens() {
        let p = Self.plain
        #expect(p.predictedToken(afterPosition: 0) == 0 - 1 && p.predictedToken(afterPosition: 1) == 0)
        #expect(p.predictedToken(afterPosition: 2) == 1 && p.predictedToken(afterPosition: 17) == 16)
        let e = Self.endOfRow
        #expect(e.predictedToken(afterPosition: 4) == 0 && e.predictedToken(afterPosition: 5) == 1)
        #expect(e.predictedToken(afterPosition: 8) == 4 && e.predictedToken(afterPosition: 9) == 4)
        #expect(e.predictedToken(afterPosition: 18) == 12 && e.predictedToken(afterPosition: 19) == 12)
    }

    @Test func imageSequenceAndLogits() {
        let e = Self.endOfRow
        let codes = Array(0..<12)
        let seq = e.imageSequence(codes: codes)
        #expect(seq.count == e.length - e.prefixLength)
        #expect(Array(seq[0..<5]) == [460, 461, 462, 463, 5] && Array(seq.suffix(4)) == [5, 6, 7, 2])
        let logits = (0..<972).map { Float($0) }
        let image = e.imageLogits(logits)
        #expect(image.count == 512 && image.first == 460 && image.last == 971)
        let raw = (0..<64).map { Float($0) }
        #expect(Self.plain.imageLogits(raw) == raw)
    }
}
