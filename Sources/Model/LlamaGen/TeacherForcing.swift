extension DecoderEngine {
    /// Teacher-forced logits of a LlamaGen model: feeds the class token(s) and `tokens[0..<n-1]` and returns,
    /// for each image position t, the logits that predict `tokens[t]` (what PyTorch's training forward
    /// computes). `chunk` queries go into each pass, so the KV-cache path is exercised as in generation.
    public func teacherForcedLogits(config c: GPTConfig, classLabel: Int, tokens: [Int], chunk: Int? = nil) throws -> [[Float]] {
        guard tokens.count <= c.imageTokens else {
            throw ModelError.badInput("\(tokens.count) tokens but the grid holds \(c.imageTokens)")
        }
        // Prefix positions all carry the class embedding (cls_token_num is 1 for c2i models); only the last
        // of them predicts an image token.
        let inputs = Array(repeating: DecoderQuery.Input.classLabel(classLabel), count: c.clsTokenNum)
            + tokens.dropLast().map { .token($0) }
        return try prefillLogits(inputs: inputs, wantsLogits: { $0 >= c.clsTokenNum - 1 }, chunk: chunk)
    }
}
