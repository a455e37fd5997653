import CKernels

/// Row-wise vector kernels of the transformer: norms, activations, residuals, softmax.
/// Each works on `rows` rows of `width` values laid out back to back. The loops live in CKernels
/// (AVX2 with a vector exp, scalar fallback).
public enum VectorOps {
    /// RMSNorm: `y = x / sqrt(mean(x^2) + eps) * weight`, as LlamaGen (and llama) compute it.
    public static func rmsNorm(_ x: FloatBuffer, rows: Int, width: Int, weight: FloatBuffer, eps: Float,
                               into y: FloatBuffer) {
        precondition(rows >= 0 && rows * width <= x.count && rows * width <= y.count && weight.count == width)
        zk_rmsnorm(x.base, Int32(rows), Int32(width), weight.base, eps, y.base)
    }

    /// The SwiGLU gate over `rows` rows of a stacked gate|up product: row r of `gateUp` holds the gate's
    /// `hidden` values, then the up projection's; `out[r, i] = silu(gate[r, i]) * up[r, i]`, rows `hidden`
    /// apart. `out` may be `gateUp` itself (the rows then pack into its front).
    public static func siluGate(_ gateUp: FloatBuffer, rows: Int, hidden: Int, into out: FloatBuffer) {
        precondition(rows >= 0 && hidden >= 0 && rows * 2 * hidden <= gateUp.count && rows * hidden <= out.count)
        // Row r writes out[r*hidden ..< (r+1)*hidden], never past the gate values of row r it reads (2 r hidden):
        // in place, a row only overwrites values already used.
        for r in 0..<rows {
            let g = gateUp.base + r * 2 * hidden
            zk_silu_gate(out.base + r * hidden, g, g + hidden, hidden)
        }
    }

    /// `x += y` over `count` values: a residual connection.
    public static func add(_ y: FloatBuffer, into x: FloatBuffer, count: Int) {
        precondition(count >= 0 && count <= x.count && count <= y.count)
        zk_add(x.base, y.base, count)
    }

    /// Rotates `heads` vectors of `headDim` values at `offset` by interleaved pairs
    /// (x[2m], x[2m+1]) with `table[m] = (cos, sin)` stored at `tableOffset` as cos, sin, cos, sin...
    public static func rotate(_ x: FloatBuffer, offset: Int, heads: Int, headDim: Int,
                              table: FloatBuffer, tableOffset: Int) {
        precondition(offset >= 0 && offset + heads * headDim <= x.count && tableOffset >= 0 && tableOffset + headDim <= table.count)
        zk_rope(x.base + offset, Int32(heads), Int32(headDim), table.base + tableOffset)
    }

    /// Softmax in place over one row of `count` values at `offset`.
    public static func softmax(_ x: FloatBuffer, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= x.count)
        softmax(x.base + offset, count)
    }

    /// Softmax in place over a whole array (the sampler's vocabulary rows). -inf entries get
    /// exactly 0; an all -inf row becomes uniform.
    public static func softmax(_ x: inout [Float]) {
        x.withUnsafeMutableBufferPointer { b in
            if let p = b.baseAddress, b.count > 0 { softmax(p, b.count) }
        }
    }

    static func softmax(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        zk_softmax(p, Int32(n))
    }

    /// `e^x` elementwise with the kernels' vector exp (about 2 ulp; inputs below -87.3 give 0).
    public static func exp(_ x: FloatBuffer, into y: FloatBuffer, count: Int) {
        precondition(count >= 0 && count <= x.count && count <= y.count)
        zk_exp(x.base, y.base, count)
    }

    /// Embedding lookup: copies row `row` of a `[rows, width]` table into `y` at `offset`.
    public static func gatherRow(_ table: FloatBuffer, row: Int, width: Int, into y: FloatBuffer, offset: Int) {
        precondition(row >= 0 && (row + 1) * width <= table.count, "embedding row \(row) out of range")
        y.copy(from: table, srcOffset: row * width, offset: offset, count: width)
    }
}
