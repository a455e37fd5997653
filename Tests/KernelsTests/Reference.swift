import Foundation
@testable import Kernels

/// Deterministic test data and the naive loops the kernels are checked against (in Double).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
}

enum Naive {
    /// y[r][o] = sum_k x[r][k] w[o][k]; also returns sum_k |x||w| per output (the error scale).
    static func matmul(x: [Float], rows: Int, w: (Int, Int) -> Float, out: Int, inF: Int) -> (y: [Double], scale: [Double]) {
        var y = [Double](repeating: 0, count: rows * out), s = y
        for r in 0..<rows {
            for o in 0..<out {
                var acc = 0.0, mag = 0.0
                for k in 0..<inF {
                    let p = Double(x[r * inF + k]) * Double(w(o, k))
                    acc += p; mag += abs(p)
                }
                y[r * out + o] = acc; s[r * out + o] = mag
            }
        }
        return (y, s)
    }

    static func attention(q: [Float], keys: [Float], values: [Float], last: Int, filled: [Bool]?, mask: Bool,
                          heads: Int, kvHeads: Int, headDim hd: Int) -> [Double] {
        var out = [Double](repeating: 0, count: heads * hd)
        let stride = kvHeads * hd, group = heads / kvHeads
        for h in 0..<heads {
            let kvh = h / group
            var scores: [(Int, Double)] = []
            for p in 0...last {
                if mask, let filled, !filled[p] { continue }
                var d = 0.0
                for i in 0..<hd { d += Double(q[h * hd + i]) * Double(keys[p * stride + kvh * hd + i]) }
                scores.append((p, d / Double(hd).squareRoot()))
            }
            guard let m = scores.map(\.1).max() else { continue }
            let e = scores.map { ($0.0, Foundation.exp($0.1 - m)) }
            let sum = e.reduce(0) { $0 + $1.1 }
            for (p, w) in e {
                for i in 0..<hd { out[h * hd + i] += w / sum * Double(values[p * stride + kvh * hd + i]) }
            }
        }
        return out
    }

    static func softmax(_ x: [Float]) -> [Double] {
        let m = Double(x.max() ?? 0)
        let e = x.map { $0 == -.infinity ? 0 : Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// Largest |a - b| relative to a per-element scale (plus a floor for values near zero).
func worstError(_ got: [Float], _ want: [Double], scale: [Double]? = nil, floor: Double = 1e-6) -> Double {
    precondition(got.count == want.count)
    var worst = 0.0
    for i in got.indices {
        let s = max(scale?[i] ?? abs(want[i]), floor)
        worst = max(worst, abs(Double(got[i]) - want[i]) / s)
    }
    return worst
}
