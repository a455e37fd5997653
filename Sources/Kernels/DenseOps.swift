import Foundation

/// The pieces of a small MLP beside the transformer (Janus's generation aligner and head): a bias per output
/// feature and an exact GELU. They run on a few rows of a few thousand values a pass, so plain loops do.
extension VectorOps {
    /// `y[r][c] += bias[biasOffset + c]` for `rows` rows of `width` values (a layer computed over some of
    /// its outputs adds their slice of the bias).
    public static func addBias(_ y: FloatBuffer, rows: Int, width: Int, bias: FloatBuffer, biasOffset: Int = 0) {
        precondition(rows >= 0 && rows * width <= y.count && biasOffset >= 0 && biasOffset + width <= bias.count)
        let p = y.base, b = bias.base + biasOffset
        for r in 0..<rows {
            let row = p + r * width
            for c in 0..<width { row[c] += b[c] }
        }
    }

    /// `x = x * Phi(x)` over `count` values, Phi the standard normal CDF through erf: PyTorch's `nn.GELU()`
    /// (approximate = "none"), what transformers' ACT2FN["gelu"] is.
    public static func gelu(_ x: FloatBuffer, count: Int) {
        precondition(count >= 0 && count <= x.count)
        let p = x.base
        for i in 0..<count {
            let v = Double(p[i])
            p[i] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
        }
    }

}
