import Foundation

/// What a random draw is for. Part of the key, so two draws for one token never share a number.
public enum DrawPurpose: UInt64, Sendable, CaseIterable {
    /// The final sample of a token (ntp, fixed-window zipar, and a row's first token at a full window).
    case sample = 1
    /// An adaptive draft of a row's first token, proposed at window k.
    case draft = 2
    /// The uniform `r` of the acceptance test at window k.
    case accept = 3
    /// A resample from the residual distribution at window k.
    case resample = 4
}

/// Counter-based random numbers: every draw is a pure function of (job seed, token index, purpose, round),
/// never a position in a shared stream. So a token's draws do not depend on which pass decodes it,
/// on what else shares the batch, or on the order jobs arrive in.
///
/// The mixing function is SplitMix64's finaliser (Steele, Lea, Flood 2014) applied to a chained key.
public enum CounterRNG {
    @inline(__always)
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits for the key.
    public static func bits(seed: UInt64, token: Int, purpose: DrawPurpose, round: Int = 0) -> UInt64 {
        var h = mix(seed)
        h = mix(h ^ UInt64(truncatingIfNeeded: token))
        h = mix(h ^ (purpose.rawValue << 32) ^ UInt64(truncatingIfNeeded: round & 0xFFFF_FFFF))
        return h
    }

    /// A uniform double in [0, 1) (53 random bits).
    public static func uniform(seed: UInt64, token: Int, purpose: DrawPurpose, round: Int = 0) -> Double {
        Double(bits(seed: seed, token: token, purpose: purpose, round: round) >> 11) * 0x1.0p-53
    }
}
