/// A fast deterministic stream of uniform values (xorshift64) for random benchmark and test weights: the
/// head of a 7-8B model alone is up to 756 M values, so the generator must cost a few nanoseconds a value.
package struct UniformNoise {
    var state: UInt64

    package init(seed: UInt64) { state = seed | 1 }

    /// `n` values uniform in [-std * sqrt(3), std * sqrt(3)) (standard deviation `std`).
    package mutating func values(_ n: Int, std: Float) -> [Float] {
        let scale = std * 2 * Float(3).squareRoot() / Float(1 << 24)
        let shift = std * Float(3).squareRoot()
        return map(n) { Float($0) * scale - shift }
    }

    /// `n` values `(u - 0.5) * std * 3.46` for u uniform in [0, 1): LlamaGen's random weights, formed this
    /// way since they were first drawn, so a seed keeps giving the same tiny test models.
    package mutating func centered(_ n: Int, std: Float) -> [Float] {
        map(n) { (Float($0) / Float(1 << 24) - 0.5) * std * 3.46 }
    }

    /// The top 24 bits of each of the next `n` states, through `transform`.
    private mutating func map(_ n: Int, _ transform: (UInt64) -> Float) -> [Float] {
        var s = state
        let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            for i in 0..<n {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                buffer[i] = transform(s >> 40)
            }
            initialized = n
        }
        state = s
        return out
    }
}
