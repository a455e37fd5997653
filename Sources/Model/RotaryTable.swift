import Foundation
import Kernels

/// LlamaGen's 2-D rotary embedding as a table of (cos, sin) pairs per sequence position.
///
/// The head dimension is split in half: pairs in the first half rotate by the token's row, pairs in
/// the second half by its column, with frequencies `1 / base^(2m / (headDim/2))`. The class-token
/// prefix gets cos = 0 and sin = 0 — the official code's quirk, kept because trained weights depend
/// on it: q and k at those positions become zero vectors.
public struct RotaryTable: Sendable {
    public let headDim: Int
    public let table: FloatBuffer   // [position][headDim/2][cos, sin]

    public init(config c: GPTConfig) {
        headDim = c.headDim
        let half = c.headDim / 2          // pairs per head
        let quarter = half / 2            // pairs per axis
        var values = [Float](repeating: 0, count: c.sequenceLength * c.headDim)
        for t in 0..<c.imageTokens {
            let row = t / c.grid, col = t % c.grid
            let base = (c.clsTokenNum + t) * c.headDim
            for m in 0..<half {
                let axis = m < quarter ? row : col
                let k = m % quarter
                let freq = 1 / powf(c.ropeBase, Float(2 * k) / Float(half))
                let angle = Float(axis) * freq
                values[base + 2 * m] = cosf(angle)
                values[base + 2 * m + 1] = sinf(angle)
            }
        }
        table = FloatBuffer(values)
    }

    public func offset(position: Int) -> Int { position * headDim }
}
