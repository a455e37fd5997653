import Foundation
import Kernels

/// Plain 1-D RoPE over sequence positions, as a table of (cos, sin) per position and pair.
///
/// Pair m of a head turns by `position * theta^(-2m / headDim)`. The reference pairs element m with
/// element m + headDim/2 ("rotate half"); the weights are loaded with their query/key rows reordered so
/// that pair m sits at (2m, 2m+1), which is the pairing `VectorOps.rotate` implements (see TextModelWeights).
/// The angle is formed in f32 like the reference (f32 inverse frequency times f32 position) so long
/// sequences drift exactly as they do there; only cos and sin themselves are taken in double.
public struct TextRotaryTable: Sendable {
    public let headDim: Int
    public let positions: Int
    public let table: FloatBuffer   // [position][headDim/2][cos, sin]

    public init(headDim: Int, positions: Int, theta: Float) {
        precondition(headDim % 2 == 0 && positions > 0)
        self.headDim = headDim
        self.positions = positions
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
        table = FloatBuffer(values)
    }

    public func offset(position: Int) -> Int { position * headDim }
}
