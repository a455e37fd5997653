/// GPT-2's reversible map from bytes to printable Unicode scalars: byte-level BPE vocabularies are written
/// in these scalars, so a text's UTF-8 bytes are mapped before the model and mapped back when decoding.
enum ByteLevel {
    /// byte -> scalar. Printable Latin-1 bytes map to themselves; the other 68 to U+0100, U+0101, ... in order.
    static let byteToScalar: [Unicode.Scalar] = {
        var printable = Set<Int>()
        printable.formUnion(33...126); printable.formUnion(161...172); printable.formUnion(174...255)
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next = 256
        for b in 0..<256 {
            if printable.contains(b) { table[b] = Unicode.Scalar(UInt8(b)) } else {
                table[b] = Unicode.Scalar(UInt32(next))!
                next += 1
            }
        }
        return table
    }()

    static let scalarToByte: [Unicode.Scalar: UInt8] = {
        Dictionary(uniqueKeysWithValues: byteToScalar.enumerated().map { ($0.element, UInt8($0.offset)) })
    }()

    /// GPT-2's pre-tokenization regex, used by the ByteLevel pre-tokenizer when `use_regex` is true.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// `text`'s UTF-8 bytes written as byte-level scalars.
    static func encode(_ text: String) -> String {
        var s = String.UnicodeScalarView()
        for b in text.utf8 { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// The inverse of `encode` for one token: nil when some scalar is not a byte-level scalar
    /// (then the decoder keeps the token's own UTF-8, as `tokenizers` does for added tokens).
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            guard let b = scalarToByte[s] else { return nil }
            out.append(b)
        }
        return out
    }
}
