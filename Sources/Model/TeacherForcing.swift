import Kernels

extension GPTEngine {
    /// Teacher-forced logits: feeds the class token and `tokens[0..<n-1]` and returns, for each image
    /// position t, the logits that predict `tokens[t]` (what PyTorch's training forward computes).
    /// `chunk` queries go into each pass, so the KV-cache path is exercised as in generation.
    public func teacherForcedLogits(classLabel: Int, tokens: [Int], chunk: Int? = nil) throws -> [[Float]] {
        let c = model.config
        guard tokens.count <= c.imageTokens else {
            throw ModelError.badInput("\(tokens.count) tokens but the grid holds \(c.imageTokens)")
        }
        guard classLabel >= 0 && classLabel < model.weights.classRows else {
            throw ModelError.badInput("class \(classLabel) is outside 0..<\(model.weights.classRows)")
        }
        if let bad = tokens.firstIndex(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw ModelError.badInput("token \(tokens[bad]) at index \(bad) is outside the vocabulary of \(c.vocabSize)")
        }
        let seq = try openSequence()
        defer { closeSequence(seq) }
        // Prefix positions all carry the class embedding (cls_token_num is 1 for c2i models).
        var queries = (0..<c.clsTokenNum).map {
            GPTQuery(sequence: seq, position: $0, input: .classLabel(classLabel), wantsLogits: $0 == c.clsTokenNum - 1)
        }
        queries += tokens.dropLast().enumerated().map {
            GPTQuery(sequence: seq, position: c.clsTokenNum + $0.offset, input: .token($0.element))
        }
        let step = chunk ?? maxQueries
        var out: [[Float]] = []
        var start = 0
        while start < queries.count {
            let batch = Array(queries[start..<min(start + step, queries.count)])
            let logits = forward(batch)
            for i in 0..<logits.count { out.append(logits.row(i)) }
            start += batch.count
        }
        return out
    }
}
