import Foundation
import Kernels

/// Rotary position embedding as a table of (cos, sin) per sequence position and pair of a head:
/// `table[position][pair][cos, sin]`. The engine rotates pair m of a head as the elements (2m, 2m+1);
/// each family's builder decides the angles, so the engine never knows which RoPE it runs.
public struct RotaryTable: Sendable {
    public let headDim: Int
    public let positions: Int
    public let table: FloatBuffer   // [position][headDim/2][cos, sin]

    init(headDim: Int, positions: Int, values: [Float]) {
        precondition(values.count == positions * headDim)
        self.headDim = headDim; self.positions = positions; table = FloatBuffer(values)
    }

    public func offset(position: Int) -> Int { position * headDim }

    /// LlamaGen's 2-D RoPE: the head dimension is split in half, pairs in the first half rotate by the token's
    /// row, pairs in the second half by its column, with frequencies `1 / base^(2m / (headDim/2))`. The
    /// class-token prefix gets cos = 0 and sin = 0 - the official code's quirk, kept because trained weights
    /// depend on it: q and k at those positions become zero vectors.
    public static func llamaGen(headDim: Int, grid: Int, prefix: Int, base: Float) -> RotaryTable {
        let half = headDim / 2            // pairs per head
        let quarter = half / 2            // pairs per axis
        let positions = prefix + grid * grid
        var values = [Float](repeating: 0, count: positions * headDim)
        for t in 0..<grid * grid {
            let row = t / grid, col = t % grid
            let start = (prefix + t) * headDim
            for m in 0..<half {
                let axis = m < quarter ? row : col
                let k = m % quarter
                let freq = 1 / powf(base, Float(2 * k) / Float(half))
                let angle = Float(axis) * freq
                values[start + 2 * m] = cosf(angle)
                values[start + 2 * m + 1] = sinf(angle)
            }
        }
        return RotaryTable(headDim: headDim, positions: positions, values: values)
    }

    /// Plain 1-D RoPE over sequence positions (Llama, Emu3, Chameleon): pair m turns by
    /// `position * theta^(-2m / headDim)`. These references pair element m with m + headDim/2 ("rotate
    /// half"); their loaders reorder the query/key rows so that pair m sits at (2m, 2m+1) instead, which
    /// leaves every score q.k unchanged. The angle is formed in f32 like the references (f32 inverse
    /// frequency times f32 position), so long sequences drift exactly as they do there; only cos and sin
    /// themselves are taken in double.
    public static func sequence(headDim: Int, positions: Int, theta: Float) -> RotaryTable {
        precondition(headDim % 2 == 0 && positions > 0)
        let half = headDim / 2
        let inverseFrequencies = (0..<half).map { m in 1 / powf(theta, Float(2 * m) / Float(headDim)) }
        var values = [Float](repeating: 0, count: positions * headDim)
        for p in 0..<positions {
            for m in 0..<half {
                let angle = Double(Float(p) * inverseFrequencies[m])
                values[p * headDim + 2 * m] = Float(cos(angle))
                values[p * headDim + 2 * m + 1] = Float(sin(angle))
            }
        }
        return RotaryTable(headDim: headDim, positions: positions, values: values)
    }
}
