/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator for random weights and inputs in
/// benchmarks and measurements, the same numbers on every machine.
public struct SplitMix: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-0.5, 0.5).
    public mutating func float() -> Float { Float(next() >> 40) / Float(1 << 24) - 0.5 }
}
