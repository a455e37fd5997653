import Kernels

/// The logits of one pass, a view of the engine's buffer: valid until the engine's next `forward`.
/// Each row holds the logits of `vocabulary` only - the ids the caller samples from (a text-to-image model's
/// image tokens); the head computed no other row of the output matrix.
public struct PassLogits {
    let buffer: FloatBuffer             // [logits row][vocabulary.count]: the engine's, not a copy
    /// The ids a row covers: element k of a row is the logit of id `vocabulary.lowerBound + k`.
    public let vocabulary: Range<Int>
    /// For each logits row, the index of its query in the pass.
    public let queryRows: [Int]

    public init(buffer: FloatBuffer, vocabulary: Range<Int>, queryRows: [Int]) {
        self.buffer = buffer; self.vocabulary = vocabulary; self.queryRows = queryRows
    }

    public var count: Int { queryRows.count }

    /// Logits row `i` (the i-th query that asked for logits), copied out of the engine's buffer.
    public func row(_ i: Int) -> [Float] {
        buffer.array(offset: i * vocabulary.count, count: vocabulary.count)
    }

    /// The logits of every query of the pass, in query order: nil where a query asked for none.
    public func byQuery(passSize: Int) -> [[Float]?] {
        var out = [[Float]?](repeating: nil, count: passSize)
        for (i, q) in queryRows.enumerated() { out[q] = row(i) }
        return out
    }
}
