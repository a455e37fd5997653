/// Per-head LayerNorm, the query/key normalisation of Chameleon (and Lumina-mGPT).
///
/// Each head's `headDim` values are normalised on their own (mean 0, biased variance 1, like
/// `layer_norm` over the last axis), then scaled and shifted by that head's own weight and bias row:
/// the reference keeps one (weight, bias) row per head because its checkpoints were trained with
/// the heads split over model-parallel ranks and never reduced the statistics across them.
extension VectorOps {
    /// Normalises `heads` vectors of `headDim` values at `offset` in place.
    /// `weight` and `bias` are `[heads][headDim]`.
    public static func headLayerNorm(_ x: FloatBuffer, offset: Int, heads: Int, headDim: Int,
                                     weight: FloatBuffer, bias: FloatBuffer, eps: Float) {
        precondition(offset >= 0 && heads >= 0 && headDim > 0 && offset + heads * headDim <= x.count,
                     "head LayerNorm input out of range")
        precondition(weight.count == heads * headDim && bias.count == heads * headDim,
                     "head LayerNorm weight/bias must be [heads][headDim]")
        let w = weight.base, b = bias.base
        for h in 0..<heads {
            let v = x.base + offset + h * headDim
            // Double sums: the statistics then carry no error worth noticing next to f32 activations.
            var sum = 0.0
            for i in 0..<headDim { sum += Double(v[i]) }
            let mean = sum / Double(headDim)
            var squares = 0.0
            for i in 0..<headDim { let d = Double(v[i]) - mean; squares += d * d }
            let inverse = 1 / (squares / Double(headDim) + Double(eps)).squareRoot()
            let row = h * headDim
            for i in 0..<headDim {
                v[i] = Float((Double(v[i]) - mean) * inverse) * w[row + i] + b[row + i]
            }
        }
    }
}
