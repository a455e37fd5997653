import Kernels

/// A loaded decoder-only transformer: its shape, weights and rotary table. Immutable and shareable; the
/// mutable state of generation (KV caches, activations) lives in `DecoderEngine`. The families wrap one:
/// `GPTModel` (LlamaGen) and the text families' `TextTransformer`.
public final class DecoderModel: Sendable {
    public let spec: TransformerSpec
    public let weights: DecoderWeights
    public let rotary: RotaryTable

    public init(spec: TransformerSpec, weights: DecoderWeights, rotary: RotaryTable) {
        precondition(weights.layers.count == spec.layers, "\(weights.layers.count) layers for a \(spec.layers)-layer spec")
        precondition(rotary.headDim == spec.headDim && rotary.positions >= spec.positions, "rotary table does not cover the spec")
        precondition(weights.layers.allSatisfy { ($0.queryNorm != nil) == (spec.queryKeyNormEps != nil) },
                     "query/key norms present in the weights must match the spec")
        self.spec = spec; self.weights = weights; self.rotary = rotary
    }
}
