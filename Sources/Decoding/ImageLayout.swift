import Foundation

/// Where one request's image tokens sit in its model's token sequence, and which tokens the layout fixes
/// instead of sampling. The one place that maps grid (row, column) <-> sequence position; the window rules
/// (`RequestDecoder`) only speak of rows, columns and raster indices.
///
/// Two layouts:
/// - plain (LlamaGen): `prefixLength` class-token positions, then the grid in raster order with nothing
///   between rows: x(i,j) at `prefix + i*W + j`. Image token ids are the VQ codes themselves.
/// - end of row (Emu3, Chameleon / Lumina-mGPT, tools/train/text2img): the prompt (ending in the image's start,
///   meta text and [IMG] tokens), then every row followed by an end-of-row token: x(i,j) at
///   `prefix + i*(W+1) + j`, EOL(i) at `prefix + i*(W+1) + W`; after the last EOL a fixed suffix
///   (EOF, EOI, EOS). Image token ids are `imageTokenOffset + code`; the EOL and suffix tokens are known in
///   advance, so they are fed, never sampled.
public struct ImageLayout: Sendable, Equatable {
    /// The structural tokens of the end-of-row layout.
    public struct EndOfRow: Sendable, Equatable {
        /// Follows every row, the last one included.
        public var token: Int
        /// After the last row's end-of-row token (EOF, EOI, EOS for tools/train/text2img).
        public var suffix: [Int]
        public init(token: Int, suffix: [Int]) { self.token = token; self.suffix = suffix }
    }

    /// What sits at a sequence position.
    public enum Slot: Sendable, Equatable {
        case prefix(index: Int)
        case image(row: Int, column: Int)
        case endOfRow(row: Int)
        case suffix(index: Int)
    }

    public let rows: Int
    public let columns: Int
    /// Positions before x(0,0): LlamaGen's class tokens, or a text model's prompt.
    public let prefixLength: Int
    /// Vocabulary id of VQ code 0; codes are `0..<codebookSize`.
    public let imageTokenOffset: Int
    public let codebookSize: Int
    /// nil: the plain LlamaGen layout.
    public let endOfRow: EndOfRow?

    public init(rows: Int, columns: Int, prefixLength: Int, imageTokenOffset: Int = 0, codebookSize: Int,
                endOfRow: EndOfRow? = nil) {
        precondition(rows >= 1 && columns >= 1 && prefixLength >= 1 && codebookSize >= 1 && imageTokenOffset >= 0)
        self.rows = rows; self.columns = columns; self.prefixLength = prefixLength
        self.imageTokenOffset = imageTokenOffset; self.codebookSize = codebookSize; self.endOfRow = endOfRow
    }

    /// LlamaGen: `classTokens` prefix positions, then a `grid` x `grid` raster of codes.
    public static func plain(classTokens: Int, grid: Int, codebookSize: Int) -> ImageLayout {
        ImageLayout(rows: grid, columns: grid, prefixLength: classTokens, codebookSize: codebookSize)
    }

    public var hasEndOfRow: Bool { endOfRow != nil }
    public var imageTokens: Int { rows * columns }
    /// Positions from one row's first token to the next row's: W, or W + 1 with the end-of-row token.
    public var rowStride: Int { columns + (hasEndOfRow ? 1 : 0) }
    /// The whole sequence: prefix, rows (with their end-of-row tokens) and suffix.
    public var length: Int { prefixLength + rows * rowStride + (endOfRow?.suffix.count ?? 0) }
    /// The vocabulary ids a query may sample inside the grid: the image tokens only.
    public var imageVocabulary: Range<Int> { imageTokenOffset..<(imageTokenOffset + codebookSize) }

    // MARK: positions

    public func position(row i: Int, column j: Int) -> Int {
        precondition(i >= 0 && i < rows && j >= 0 && j < columns, "cell (\(i), \(j)) outside \(rows)x\(columns)")
        return prefixLength + i * rowStride + j
    }

    /// Position of image token `t` (raster index).
    public func position(ofToken t: Int) -> Int { position(row: t / columns, column: t % columns) }

    /// Position of row `i`'s end-of-row token (nil on the plain layout).
    public func endOfRowPosition(row i: Int) -> Int? {
        precondition(i >= 0 && i < rows)
        return hasEndOfRow ? prefixLength + i * rowStride + columns : nil
    }

    /// What sits at `position` (nil past the end of the sequence).
    public func slot(at position: Int) -> Slot? {
        precondition(position >= 0)
        if position < prefixLength { return .prefix(index: position) }
        let r = position - prefixLength
        if r < rows * rowStride {
            let (i, j) = r.quotientAndRemainder(dividingBy: rowStride)
            return j < columns ? .image(row: i, column: j) : .endOfRow(row: i)
        }
        let k = r - rows * rowStride
        return k < (endOfRow?.suffix.count ?? 0) ? .suffix(index: k) : nil
    }

    /// The token the layout fixes at `position` (end-of-row and suffix tokens), nil where it samples or
    /// where the prompt decides.
    public func forcedToken(at position: Int) -> Int? {
        guard let e = endOfRow else { return nil }
        switch slot(at: position) {
        case .endOfRow: return e.token
        case .suffix(let k): return e.suffix[k]
        default: return nil
        }
    }

    /// The raster index of the image token a query at `position` predicts: the first image token after it.
    /// Prefix positions before the last give `position - prefixLength + 1 <= 0` (LlamaGen's class tokens,
    /// which `cfgInterval` counts that way); past the last image token, `imageTokens`.
    public func predictedToken(afterPosition p: Int) -> Int {
        if p < prefixLength { return p - prefixLength + 1 }
        switch slot(at: p) {
        case .image(let i, let j): return i * columns + j + 1
        case .endOfRow(let i): return (i + 1) * columns
        default: return imageTokens
        }
    }

    // MARK: ids

    /// The vocabulary id fed for VQ code `code`.
    public func vocabularyID(code: Int) -> Int {
        precondition(code >= 0 && code < codebookSize, "code \(code) outside 0..<\(codebookSize)")
        return imageTokenOffset + code
    }

    /// The VQ code of vocabulary id `id` (nil for a non-image id).
    public func code(vocabularyID id: Int) -> Int? {
        imageVocabulary.contains(id) ? id - imageTokenOffset : nil
    }

    /// The logits a sampler may draw from inside the grid, indexed by code: the image ids' logits. Drawing
    /// from this slice is drawing from the full row with every other logit at -inf. `logits` is a row over
    /// the whole vocabulary, or already over the image ids alone (an engine whose head computes only those:
    /// then it is returned as it is, no copy).
    public func imageLogits(_ logits: [Float]) -> [Float] {
        if logits.count == codebookSize { return logits }
        precondition(logits.count >= imageVocabulary.upperBound, "\(logits.count) logits, image ids end at \(imageVocabulary.upperBound)")
        return Array(logits[imageVocabulary])
    }

    /// The tokens after the prefix for a finished grid of codes (raster order): the image ids with the
    /// end-of-row tokens and the suffix. What teacher forcing and tools/train/text2img's training sequences hold.
    public func imageSequence(codes: [Int]) -> [Int] {
        precondition(codes.count == imageTokens, "\(codes.count) codes for a \(rows)x\(columns) grid")
        var out: [Int] = []
        out.reserveCapacity(length - prefixLength)
        for i in 0..<rows {
            for j in 0..<columns { out.append(vocabularyID(code: codes[i * columns + j])) }
            if let e = endOfRow { out.append(e.token) }
        }
        return out + (endOfRow?.suffix ?? [])
    }
}
