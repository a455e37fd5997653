import Kernels

/// A linear layer with an optional bias, on a few rows at a time.
public struct DenseLayer: Sendable {
    public let weight: WeightMatrix          // [out][in]
    public let bias: FloatBuffer?            // [out]

    public init(weight: WeightMatrix, bias: FloatBuffer?) {
        precondition(bias.map { $0.count == weight.outFeatures } ?? true, "bias does not match the layer's outputs")
        self.weight = weight; self.bias = bias
    }

    /// `y = x W^T + b` for `rows` rows; `outputRows` restricts the outputs (and the bias) to those features.
    func apply(_ x: FloatBuffer, rows: Int, into y: FloatBuffer, outputRows: Range<Int>? = nil) {
        let selected = outputRows ?? 0..<weight.outFeatures
        weight.apply(x, rows: rows, into: y, outputRows: selected)
        if let bias { VectorOps.addBias(y, rows: rows, width: selected.count, bias: bias, biasOffset: selected.lowerBound) }
    }
}

/// Janus's generation path beside the language model's vocabulary: an image code enters through its own small
/// embedding and an MLP aligner (Linear, then GELU + Linear per further layer) instead of the token table, and
/// the logits of the codes come from an MLP head (Linear, GELU, Linear) on the final-normed hidden state
/// instead of the LM head. The engine sees one vocabulary: ids `firstID ..< firstID + codes` are the codes.
public struct ImageCodePath: Sendable {
    /// The id of code 0 (the language model's vocabulary size).
    public let firstID: Int
    public let embedding: FloatBuffer        // [codes][embedDim]
    public let codes: Int
    public let embedDim: Int
    public let aligner: [DenseLayer]         // embedDim -> ... -> dim, GELU between layers
    public let head: [DenseLayer]            // dim -> ... -> codes, GELU between layers

    public init(firstID: Int, embedding: FloatBuffer, codes: Int, embedDim: Int, aligner: [DenseLayer], head: [DenseLayer]) {
        precondition(embedding.count == codes * embedDim && !aligner.isEmpty && !head.isEmpty)
        precondition(aligner[0].weight.inFeatures == embedDim && head.last!.weight.outFeatures == codes)
        self.firstID = firstID; self.embedding = embedding; self.codes = codes; self.embedDim = embedDim
        self.aligner = aligner; self.head = head
    }

    public var ids: Range<Int> { firstID..<(firstID + codes) }

    /// The widest activation of the aligner or the head (scratch buffers are sized by it).
    var widest: Int { (aligner + head).map { max($0.weight.inFeatures, $0.weight.outFeatures) }.max() ?? 0 }

    /// Bytes a pass streams through the head (when it runs) and the aligner.
    public var streamedBytes: Int { (aligner + head).reduce(0) { $0 + $1.weight.byteCount } }
}
