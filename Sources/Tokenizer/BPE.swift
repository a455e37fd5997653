/// tokenizer.json's BPE `model`: turns one pre-tokenized piece into ids by applying merges in rank order.
///
/// Tokens are keyed by their UTF-8 bytes, not by `String`: Swift compares strings by canonical equivalence,
/// so "é" and "e\u{301}" would be one dictionary key, while a vocabulary may hold both as different tokens.
struct BPEModel: Sendable {
    struct Pair: Hashable, Sendable { let left: Int, right: Int }

    let vocab: [[UInt8]: Int]
    let idToToken: [Int: String]
    /// (left id, right id) -> (rank: position in `merges`, id of the merged token)
    let merges: [Pair: (rank: Int, id: Int)]
    let unkId: Int?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?

    init(_ node: JSONNode) throws {
        if let dropout = try node.optional("dropout"), (dropout.value as? Double ?? 0) > 0 {
            throw TokenizerError.unsupported(path: node.path + ".dropout", what: "BPE dropout (not deterministic)")
        }
        var vocab: [[UInt8]: Int] = [:]
        var idToToken: [Int: String] = [:]
        for (token, idNode) in try node.required("vocab").entries() {
            let id = try idNode.int()
            vocab[Array(token.utf8)] = id
            idToToken[id] = token
        }
        self.vocab = vocab
        self.idToToken = idToToken

        continuingSubwordPrefix = try node.optionalString("continuing_subword_prefix")
        endOfWordSuffix = try node.optionalString("end_of_word_suffix")
        var merges: [Pair: (rank: Int, id: Int)] = [:]
        for (rank, m) in try node.required("merges").array().enumerated() {
            let (a, b) = try BPEModel.mergeParts(m)
            guard let l = vocab[Array(a.utf8)], let r = vocab[Array(b.utf8)] else {
                throw TokenizerError.invalidField(path: m.path, reason: "merge '\(a)' + '\(b)' uses a token not in model.vocab")
            }
            // With a subword prefix ("##"), the right token's prefix is dropped in the merged token.
            let right = continuingSubwordPrefix.flatMap { b.hasPrefix($0) ? String(b.dropFirst($0.count)) : nil } ?? b
            guard let merged = vocab[Array((a + right).utf8)] else {
                throw TokenizerError.invalidField(path: m.path, reason: "merged token '\(a + right)' is not in model.vocab")
            }
            if merges[Pair(left: l, right: r)] == nil { merges[Pair(left: l, right: r)] = (rank, merged) }
        }
        self.merges = merges

        if let unk = try node.optionalString("unk_token") {
            guard let id = vocab[Array(unk.utf8)] else {
                throw TokenizerError.invalidField(path: node.path + ".unk_token", reason: "'\(unk)' is not in model.vocab")
            }
            unkId = id
        } else { unkId = nil }
        fuseUnk = try node.bool("fuse_unk", default: false)
        byteFallback = try node.bool("byte_fallback", default: false)
        ignoreMerges = try node.bool("ignore_merges", default: false)
    }

    /// A merge is "a b" (older files) or ["a", "b"] (newer files, which allow spaces in tokens).
    private static func mergeParts(_ m: JSONNode) throws -> (String, String) {
        if let s = m.value as? String {
            let parts = s.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.invalidField(path: m.path, reason: "merge '\(s)' is not two tokens separated by one space")
            }
            return (String(parts[0]), String(parts[1]))
        }
        let pair = try m.array()
        guard pair.count == 2 else { throw TokenizerError.invalidField(path: m.path, reason: "a merge pair needs exactly 2 tokens") }
        return (try pair[0].string(), try pair[1].string())
    }

    func id(of token: String) -> Int? { vocab[Array(token.utf8)] }

    /// The ids of one piece.
    func tokenize(_ piece: String) -> [Int] {
        if ignoreMerges, let whole = id(of: piece) { return [whole] }
        var symbols = initialSymbols(piece)
        // Repeatedly merge the pair of lowest rank, the leftmost among equals: the order `tokenizers`'
        // priority queue produces. Pieces are short, so the quadratic scan is cheaper than a heap.
        while symbols.count > 1 {
            var best: (pos: Int, rank: Int, id: Int)? = nil
            for i in 0..<(symbols.count - 1) {
                if let m = merges[Pair(left: symbols[i], right: symbols[i + 1])], m.rank < (best?.rank ?? Int.max) {
                    best = (i, m.rank, m.id)
                }
            }
            guard let b = best else { break }
            symbols[b.pos] = b.id
            symbols.remove(at: b.pos + 1)
        }
        return symbols
    }

    /// One symbol per Unicode scalar (with the subword prefix / word suffix when configured); scalars not in
    /// the vocabulary become byte-fallback tokens <0xXX>, else the unknown token (runs fused when `fuse_unk`),
    /// else are dropped, which is what `tokenizers` does without an unk_token.
    private func initialSymbols(_ piece: String) -> [Int] {
        var out: [Int] = []
        var pendingUnk = false
        let scalars = Array(piece.unicodeScalars)
        for (i, scalar) in scalars.enumerated() {
            var s = String(scalar)
            if i > 0, let p = continuingSubwordPrefix { s = p + s }
            if i == scalars.count - 1, let e = endOfWordSuffix { s += e }
            if let id = id(of: s) {
                if pendingUnk, let u = unkId { out.append(u) }
                pendingUnk = false
                out.append(id)
                continue
            }
            if byteFallback {
                let bytes = String(scalar).utf8.map { id(of: "<0x" + hex($0) + ">") }
                if bytes.allSatisfy({ $0 != nil }) {
                    if pendingUnk, let u = unkId { out.append(u) }
                    pendingUnk = false
                    out.append(contentsOf: bytes.compactMap { $0 })
                    continue
                }
            }
            guard let u = unkId else { continue }
            if pendingUnk && !fuseUnk { out.append(u) }
            pendingUnk = true
        }
        if pendingUnk, let u = unkId { out.append(u) }
        return out
    }

    private func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
