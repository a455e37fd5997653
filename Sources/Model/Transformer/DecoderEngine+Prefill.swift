extension DecoderEngine {
    /// The logits after every position of `tokens` (row t predicts token t + 1), fed from position 0 of
    /// a fresh sequence in passes of `chunk` queries (default `maxQueries`), so the KV-cache path runs as
    /// in generation. For parity tests and prompts; the sequence is closed again.
    public func prefillLogits(tokens: [Int], chunk: Int? = nil) throws -> [[Float]] {
        try prefillLogits(inputs: tokens.map { .token($0) }, chunk: chunk)
    }

    /// `prefillLogits` over any inputs (LlamaGen's class prefix, then image tokens).
    public func prefillLogits(inputs: [DecoderQuery.Input], wantsLogits: (Int) -> Bool = { _ in true },
                              chunk: Int? = nil) throws -> [[Float]] {
        guard !inputs.isEmpty else { return [] }
        guard inputs.count <= maxPositions else {
            throw ModelError.badInput("\(inputs.count) inputs but the engine's caches hold \(maxPositions) positions")
        }
        let vocab = model.spec.vocabSize, classRows = model.weights.inputs.classRows
        for (k, input) in inputs.enumerated() {
            switch input {
            case .token(let t) where t < 0 || t >= vocab:
                throw ModelError.badInput("token \(t) at index \(k) is outside the vocabulary of \(vocab)")
            case .classLabel(let c) where c < 0 || c >= classRows:
                throw ModelError.badInput("class \(c) at index \(k) is outside 0..<\(classRows)")
            default: break
            }
        }
        let step = min(max(chunk ?? maxQueries, 1), maxQueries)
        let sequence = try openSequence()
        defer { closeSequence(sequence) }
        var out: [[Float]] = []
        out.reserveCapacity(inputs.count)
        for start in stride(from: 0, to: inputs.count, by: step) {
            let batch = PassBatch((start..<min(start + step, inputs.count)).map {
                DecoderQuery(sequence: sequence, position: $0, input: inputs[$0], wantsLogits: wantsLogits($0))
            })
            let logits = forward(batch)
            for i in 0..<logits.count { out.append(logits.row(i)) }
        }
        return out
    }
}
