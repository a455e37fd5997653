import Foundation

/// A Hugging Face `tokenizer.json` tokenizer (BPE model), encoding and decoding exactly as the
/// `tokenizers` package does. Pipeline of `encode`:
///   added tokens matched in the raw text -> normalizer -> added tokens matched in the normalized text
///   -> pre-tokenizer pieces -> BPE ids -> post-processor (only when adding special tokens).
public struct Tokenizer: Sendable {
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let decoder: Decoder?
    let postProcessor: PostProcessor?
    let addedTokens: [Int: AddedToken]
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.invalidJSON("cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(data: data)
    }

    public init(data: Data) throws {
        let root = try JSONNode.parse(data)
        let modelNode = try root.required("model")
        let type = try modelNode.optionalString("type") ?? "BPE"   // older files omit the model type
        guard type == "BPE" else { throw TokenizerError.unsupported(path: "model.type", what: "model '\(type)' (only BPE)") }
        model = try BPEModel(modelNode)
        normalizer = try root.optional("normalizer").map(Normalizer.init)
        preTokenizer = try root.optional("pre_tokenizer").map(PreTokenizer.init)
        decoder = try root.optional("decoder").map(Decoder.init)
        postProcessor = try root.optional("post_processor").map(PostProcessor.init)
        let added = try root.optional("added_tokens")?.array().map(AddedToken.init) ?? []
        addedTokens = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized })
        // A normalized token is looked for in normalized text, so its content is normalized the same way.
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized))
    }

    /// The ids of `text`. `addSpecialTokens` applies the post-processor (e.g. Chameleon's leading <s>).
    public func encode(_ text: String, addSpecialTokens: Bool = false) -> [Int] {
        var ids: [Int] = []
        for segment in rawMatcher.split(text) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let raw):
                let normalized = normalizer?.apply(raw) ?? raw
                for inner in normalizedMatcher.split(normalized) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let t):
                        let pieces = preTokenizer?.apply([t]) ?? [t]
                        for p in pieces { ids += model.tokenize(p) }
                    }
                }
            }
        }
        return addSpecialTokens ? (postProcessor?.apply(ids) ?? ids) : ids
    }

    /// The text of `ids`; unknown ids are skipped, as in `tokenizers`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        let tokens = ids.compactMap { id -> String? in
            if let a = addedTokens[id] { return skipSpecialTokens && a.special ? nil : a.content }
            return model.idToToken[id]
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The id of a token (added tokens first, then the model's vocabulary).
    public func id(of token: String) -> Int? {
        addedTokens.values.first { $0.content.unicodeScalars.elementsEqual(token.unicodeScalars) }?.id ?? model.id(of: token)
    }

    /// The token of an id.
    public func token(of id: Int) -> String? { addedTokens[id]?.content ?? model.idToToken[id] }

    /// Whether `id` is an added token marked special (never split, dropped by `decode(skipSpecialTokens:)`).
    public func isSpecial(_ id: Int) -> Bool { addedTokens[id]?.special ?? false }

    /// Number of ids: the model's vocabulary plus added tokens beyond it.
    public var vocabularySize: Int {
        max((model.idToToken.keys.max() ?? -1), (addedTokens.keys.max() ?? -1)) + 1
    }
}
