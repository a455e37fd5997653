import Foundation

/// Deterministic "random" VQ decoder weights and token grids, bit-identical to `tools/vq_random.py`,
/// so a Swift decoder and the PyTorch reference decode the same image from the same weights without a
/// weight file (the benchmark's VQ-16 side-by-side, and the VQ-16-layout parity fixture).
///
/// Value i of tensor `name`: `z = splitmix64(fnv1a64(name) ^ seed * 0x9E3779B97F4A7C15 + i)`,
/// `r = (z >> 40) / 2^24 * 2 - 1` (exact in Float); conv weights `r * sqrt(3 / fanIn)`, norm weights
/// `1 + 0.2 r`, biases `0.05 r`, the codebook `r` (rows not unit length: the lookup normalises).
public enum VQRandom {
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    static func splitmix(_ x: UInt64) -> UInt64 {
        var z = x &+ golden
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func key(_ name: String, _ seed: UInt64) -> UInt64 { fnv1a64(name) ^ (seed &* golden) }

    /// The tensor `name` of `shape` (OIHW for convolutions).
    public static func tensor(_ name: String, shape: [Int], seed: UInt64) -> [Float] {
        let n = shape.reduce(1, *), k = key(name, seed)
        let scale: Float, offset: Float
        if name == "quantize.embedding.weight" {
            scale = 1; offset = 0
        } else if shape.count == 4 {
            scale = Float((3.0 / Double(shape[1] * shape[2] * shape[3])).squareRoot()); offset = 0
        } else if name.hasSuffix(".bias") {
            scale = 0.05; offset = 0
        } else {
            scale = 0.2; offset = 1
        }
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let z = splitmix(k &+ UInt64(i))
            let r = Float(z >> 40) / 16_777_216 * 2 - 1
            let v = scale * r
            out[i] = offset == 0 ? v : v + offset
        }
        return out
    }

    /// `count` tokens below `codebookSize`.
    public static func tokens(codebookSize: Int, count: Int, seed: UInt64) -> [Int] {
        let k = key("tokens", seed)
        return (0..<count).map { Int(splitmix(k &+ UInt64($0)) % UInt64(codebookSize)) }
    }
}
