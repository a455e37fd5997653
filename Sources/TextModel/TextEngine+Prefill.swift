import Model

extension TextEngine {
    /// The logits after every position of `tokens` (row t predicts token t + 1), fed from position 0 of
    /// a fresh sequence in passes of `chunk` queries (default `maxQueries`), so the KV-cache path runs as
    /// in generation. For tests and prompts; the sequence is closed again.
    public func prefillLogits(tokens: [Int], chunk: Int? = nil) throws -> [[Float]] {
        guard !tokens.isEmpty else { return [] }
        guard tokens.count <= maxPositions else {
            throw ModelError.badInput("\(tokens.count) tokens but the engine's caches hold \(maxPositions) positions")
        }
        if let bad = tokens.firstIndex(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
            throw ModelError.badInput("token \(tokens[bad]) at index \(bad) is outside the vocabulary of \(model.config.vocabSize)")
        }
        let step = min(max(chunk ?? maxQueries, 1), maxQueries)
        let sequence = try openSequence()
        defer { closeSequence(sequence) }
        var out: [[Float]] = []
        out.reserveCapacity(tokens.count)
        for start in stride(from: 0, to: tokens.count, by: step) {
            let batch = (start..<min(start + step, tokens.count)).map {
                TextQuery(sequence: sequence, position: $0, token: tokens[$0])
            }
            let logits = forward(batch)
            for i in 0..<logits.count { out.append(logits.row(i)) }
        }
        return out
    }
}
