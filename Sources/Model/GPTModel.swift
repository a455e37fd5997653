import Foundation
import Kernels

/// A loaded LlamaGen GPT: config, weights and the rotary table. Immutable and shareable;
/// the mutable state of generation lives in `GPTEngine`.
public final class GPTModel: Sendable {
    public let config: GPTConfig
    public let weights: GPTWeights
    public let rotary: RotaryTable

    public init(config: GPTConfig, weights: GPTWeights) {
        self.config = config
        self.weights = weights
        rotary = RotaryTable(config: config)
    }

    public convenience init(config: GPTConfig, file: SafeTensorsFile, storage: WeightStorage = .f32) throws {
        self.init(config: config, weights: try GPTWeights(file: file, config: config, storage: storage))
    }

    /// The null class row used for the unconditional half of classifier-free guidance.
    public var nullClass: Int { weights.classRows - 1 }
    public var supportsGuidance: Bool { weights.classRows > config.numClasses }
}

/// Whether attention may look at cache slots whose token is not decoded yet.
public enum AttentionMode: String, Sendable, CaseIterable {
    /// Skip slots nobody has written: what the model saw in training.
    case masked
    /// Attend them as zero K/V, exactly like the official ZipAR code (zero-initialised cache,
    /// plain causal mask over absolute positions).
    case reference
}

/// One input token of a forward pass.
public struct GPTQuery: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        /// A class-token prefix position: the class embedding (or the null class for CFG).
        case classLabel(Int)
        /// An image token id.
        case token(Int)
    }

    public var sequence: SequenceID
    /// Position in the sequence: `0..<clsTokenNum` for the prefix, `clsTokenNum + t` for image token `t`.
    public var position: Int
    public var input: Input
    /// False for queries whose only job is to write K/V (a placeholder's real token): no output head.
    public var wantsLogits: Bool
    /// Positions this query must not attend to even when filled (masked attention only): the in-flight
    /// drafts of rows above, under speculative Jacobi decoding across rows.
    public var hidden: [Range<Int>]

    public init(sequence: SequenceID, position: Int, input: Input, wantsLogits: Bool = true, hidden: [Range<Int>] = []) {
        self.sequence = sequence; self.position = position; self.input = input; self.wantsLogits = wantsLogits
        self.hidden = hidden
    }
}

/// A handle to one sequence's KV cache inside a `GPTEngine`.
public struct SequenceID: Hashable, Sendable, CustomStringConvertible {
    public let slot: Int
    public var description: String { "seq\(slot)" }
}
