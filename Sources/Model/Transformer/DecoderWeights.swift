import Kernels

/// The weights of a `TransformerSpec`, in the engine's own arrangement. Each family's loader fills it from
/// its checkpoint's names (`DecoderWeights.llamaGen`, the text families' `DecoderWeights(checkpoint:...)`);
/// the engine never sees a checkpoint name.
public struct DecoderWeights: Sendable {
    public struct Layer: Sendable {
        public let attentionNorm: FloatBuffer   // [dim]
        public let wqkv: WeightMatrix           // [q: heads | k: kvHeads | v: kvHeads][headDim][dim], RoPE pairs interleaved
        public let queryNorm: HeadNorm?         // Chameleon's per-head LayerNorm on queries: [heads][headDim]
        public let keyNorm: HeadNorm?           // ... and on keys: [kvHeads][headDim]
        public let wo: WeightMatrix             // [dim][heads * headDim]
        public let ffnNorm: FloatBuffer         // [dim]
        /// [gate: ffnHidden | up: ffnHidden][dim]: SwiGLU's two input projections stacked into one matrix, so a
        /// pass runs one product (one thread hand-off, one cold start of the weight stream, one quantization
        /// of the activations at int8) where it would run two. Stacking rows is exact at every storage: each
        /// row keeps its own values (and int8 scales).
        public let gateUp: WeightMatrix
        public let down: WeightMatrix           // [dim][ffnHidden]

        public init(attentionNorm: FloatBuffer, wqkv: WeightMatrix, queryNorm: HeadNorm? = nil, keyNorm: HeadNorm? = nil,
                    wo: WeightMatrix, ffnNorm: FloatBuffer, gateUp: WeightMatrix, down: WeightMatrix) {
            precondition((queryNorm == nil) == (keyNorm == nil), "query and key norms come together")
            precondition(gateUp.outFeatures == 2 * down.inFeatures, "gateUp is not [2 ffnHidden][dim]")
            self.attentionNorm = attentionNorm; self.wqkv = wqkv; self.queryNorm = queryNorm; self.keyNorm = keyNorm
            self.wo = wo; self.ffnNorm = ffnNorm; self.gateUp = gateUp; self.down = down
        }

        /// Every matrix a pass streams through this layer, in the order it does.
        public var matrices: [WeightMatrix] { [wqkv, wo, gateUp, down] }

        /// Bytes a pass streams through this layer's matrices.
        public var streamedBytes: Int { matrices.reduce(0) { $0 + $1.byteCount } }
    }

    /// One weight and bias row per head (a per-head LayerNorm's parameters).
    public struct HeadNorm: Sendable {
        public let weight: FloatBuffer          // [heads][headDim]
        public let bias: FloatBuffer            // [heads][headDim]
        public init(weight: FloatBuffer, bias: FloatBuffer) { self.weight = weight; self.bias = bias }
    }

    /// What a query's input may be: a vocabulary id, or (LlamaGen) a row of the class table.
    public struct Inputs: Sendable {
        /// [vocab][dim], gathered row by row (f32 or f16; int8 models keep it f16).
        public let tokens: WeightMatrix
        /// [classRows][dim] for class-conditional models (LlamaGen: num_classes + 1, the last row the null
        /// class of classifier-free guidance); nil for text models.
        public let classes: FloatBuffer?
        public let classRows: Int
        /// Janus: image codes as ids past the token table, with their own embedding, aligner and head.
        public let imageCodes: ImageCodePath?

        public init(tokens: WeightMatrix, classes: FloatBuffer? = nil, classRows: Int = 0, imageCodes: ImageCodePath? = nil) {
            precondition((classes == nil) == (classRows == 0))
            precondition(classes.map { $0.count == classRows * tokens.inFeatures } ?? true, "class table is not [classRows][dim]")
            precondition(imageCodes.map { $0.firstID >= tokens.outFeatures } ?? true, "image codes overlap the token table")
            self.tokens = tokens; self.classes = classes; self.classRows = classRows; self.imageCodes = imageCodes
        }

        /// Every id an input may carry: the token table's, then the image codes'.
        public var vocabularySize: Int { imageCodes.map { $0.ids.upperBound } ?? tokens.outFeatures }
    }

    public let inputs: Inputs
    public let layers: [Layer]
    public let norm: FloatBuffer                // [dim]: the final RMSNorm
    public let output: WeightMatrix             // [vocab][dim]: the head (the token table itself when tied)

    public init(inputs: Inputs, layers: [Layer], norm: FloatBuffer, output: WeightMatrix) {
        self.inputs = inputs; self.layers = layers; self.norm = norm; self.output = output
    }

    /// How the matrices keep their values.
    public var storage: WeightStorage { output.storage }

    /// Bytes a pass streams: every layer matrix and the head once (embeddings are gathered, not streamed).
    public var streamedBytes: Int { layers.reduce(output.byteCount) { $0 + $1.streamedBytes } }

    /// Bytes of the layers alone (the head runs only for queries that want logits).
    public var layerBytes: Int { layers.reduce(0) { $0 + $1.streamedBytes } }

    public var parameterCount: Int {
        func count(_ m: WeightMatrix) -> Int { m.outFeatures * m.inFeatures }
        let perLayer = layers.reduce(0) { total, l in
            total + l.attentionNorm.count + l.ffnNorm.count + l.matrices.reduce(0) { $0 + count($1) }
                + (l.queryNorm.map { 2 * $0.weight.count } ?? 0) + (l.keyNorm.map { 2 * $0.weight.count } ?? 0)
        }
        let tied = output === inputs.tokens
        return (inputs.classes?.count ?? 0) + count(inputs.tokens) + norm.count + (tied ? 0 : count(output)) + perLayer
    }
}
