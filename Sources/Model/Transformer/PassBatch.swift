/// A handle to one sequence's KV cache inside a `DecoderEngine`: the cache pool's slot.
public struct SequenceID: Hashable, Sendable, CustomStringConvertible {
    public let slot: Int
    public init(slot: Int) { self.slot = slot }
    public var description: String { "seq\(slot)" }
}

/// One input token of a forward pass: (sequence, position, input).
public struct DecoderQuery: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        /// A class-token prefix position (LlamaGen): the class embedding (or the null class for CFG).
        case classLabel(Int)
        /// A vocabulary id (for LlamaGen: the VQ code).
        case token(Int)

        public var tokenValue: Int? { if case .token(let t) = self { return t } else { return nil } }
    }

    public var sequence: SequenceID
    /// Position in the sequence, which is also the RoPE position.
    public var position: Int
    public var input: Input
    /// False for queries whose only job is to write K/V (prompt tokens, a placeholder's real token): no head.
    public var wantsLogits: Bool
    /// Filled positions this query must not attend to (masked attention only): the in-flight drafts of rows
    /// above, under speculative Jacobi decoding across rows.
    public var hidden: [Range<Int>]

    public init(sequence: SequenceID, position: Int, input: Input, wantsLogits: Bool = true, hidden: [Range<Int>] = []) {
        self.sequence = sequence; self.position = position; self.input = input; self.wantsLogits = wantsLogits
        self.hidden = hidden
    }
}

/// The queries of one forward pass, field by field: element r of every array belongs to query r, which
/// is row r of every activation buffer of the pass.
public struct PassBatch: Sendable, Equatable {
    public private(set) var sequences: [SequenceID] = []         // [query]
    public private(set) var positions: [Int] = []                // [query]
    public private(set) var inputs: [DecoderQuery.Input] = []    // [query]
    public private(set) var wantsLogits: [Bool] = []             // [query]
    public private(set) var hidden: [[Range<Int>]] = []          // [query][range]

    public init() {}

    public init(_ queries: some Sequence<DecoderQuery>) {
        for q in queries { append(q) }
    }

    public var count: Int { positions.count }
    public var isEmpty: Bool { positions.isEmpty }

    public mutating func append(_ q: DecoderQuery) {
        sequences.append(q.sequence); positions.append(q.position); inputs.append(q.input)
        wantsLogits.append(q.wantsLogits); hidden.append(q.hidden)
    }

    /// Query r, reassembled (tests, toy engines).
    public subscript(r: Int) -> DecoderQuery {
        DecoderQuery(sequence: sequences[r], position: positions[r], input: inputs[r], wantsLogits: wantsLogits[r], hidden: hidden[r])
    }

    /// Every query, reassembled.
    public var queries: [DecoderQuery] { (0..<count).map { self[$0] } }
}

extension PassBatch: ExpressibleByArrayLiteral {
    public init(arrayLiteral queries: DecoderQuery...) { self.init(queries) }
}
