import Foundation

/// Row-wise vector kernels of the transformer: norms, activations, residuals, softmax.
/// Each works on `rows` rows of `width` values laid out back to back.
public enum VectorOps {
    /// RMSNorm: `y = x / sqrt(mean(x^2) + eps) * weight`, as LlamaGen (and llama) compute it.
    public static func rmsNorm(_ x: FloatBuffer, rows: Int, width: Int, weight: FloatBuffer, eps: Float,
                               into y: FloatBuffer) {
        precondition(rows * width <= x.count && rows * width <= y.count && weight.count == width)
        let w = weight.base
        for r in 0..<rows {
            let xr = x.base + r * width, yr = y.base + r * width
            var ss: Float = 0
            for i in 0..<width { ss += xr[i] * xr[i] }
            let inv = 1 / (ss / Float(width) + eps).squareRoot()
            for i in 0..<width { yr[i] = xr[i] * inv * w[i] }
        }
    }

    /// `a = silu(a) * b` elementwise over `count` values: the SwiGLU gate.
    public static func siluGate(_ a: FloatBuffer, _ b: FloatBuffer, count: Int) {
        precondition(count <= a.count && count <= b.count)
        let ap = a.base, bp = b.base
        for i in 0..<count {
            let v = ap[i]
            ap[i] = v / (1 + expf(-v)) * bp[i]
        }
    }

    /// `x += y` over `count` values: a residual connection.
    public static func add(_ y: FloatBuffer, into x: FloatBuffer, count: Int) {
        precondition(count <= x.count && count <= y.count)
        let xp = x.base, yp = y.base
        for i in 0..<count { xp[i] += yp[i] }
    }

    /// Rotates `heads` vectors of `headDim` values at `offset` by interleaved pairs
    /// (x[2m], x[2m+1]) with `table[m] = (cos, sin)` stored at `tableOffset` as cos, sin, cos, sin...
    public static func rotate(_ x: FloatBuffer, offset: Int, heads: Int, headDim: Int,
                              table: FloatBuffer, tableOffset: Int) {
        precondition(offset + heads * headDim <= x.count && tableOffset + headDim <= table.count)
        let t = table.base + tableOffset
        for h in 0..<heads {
            let v = x.base + offset + h * headDim
            for m in 0..<(headDim / 2) {
                let c = t[2 * m], s = t[2 * m + 1]
                let a = v[2 * m], b = v[2 * m + 1]
                v[2 * m] = a * c - b * s
                v[2 * m + 1] = b * c + a * s
            }
        }
    }

    /// Softmax in place over one row of `count` values at `offset`.
    public static func softmax(_ x: FloatBuffer, offset: Int, count: Int) {
        precondition(offset + count <= x.count)
        softmax(x.base + offset, count)
    }

    static func softmax(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n > 0 else { return }
        var m = -Float.infinity
        for i in 0..<n where p[i] > m { m = p[i] }
        var sum: Float = 0
        for i in 0..<n { let e = expf(p[i] - m); p[i] = e; sum += e }
        let inv = 1 / sum
        for i in 0..<n { p[i] *= inv }
    }

    /// Embedding lookup: copies row `row` of a `[rows, width]` table into `y` at `offset`.
    public static func gatherRow(_ table: FloatBuffer, row: Int, width: Int, into y: FloatBuffer, offset: Int) {
        precondition((row + 1) * width <= table.count, "embedding row \(row) out of range")
        y.copy(from: table, srcOffset: row * width, offset: offset, count: width)
    }
}
