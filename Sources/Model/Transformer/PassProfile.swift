import Foundation

/// Where the time of forward passes goes, summed over passes (the bench prints it per pass).
/// Off by default: an engine times its stages only while `DecoderEngine.profile` is set.
public final class PassProfile {
    public enum Stage: Int, CaseIterable, Sendable {
        case matmul       // the layers' matrix products (streaming the weights)
        case attention    // attention over the KV caches
        case head         // the output projection to the vocabulary
        case other        // embeddings, norms, RoPE, cache writes, SwiGLU, residuals
    }

    public var seconds = [Double](repeating: 0, count: Stage.allCases.count)   // [stage]
    public var passes = 0

    public init() {}

    /// Mean milliseconds per pass spent in `stage`.
    public func msPerPass(_ stage: Stage) -> Double {
        passes == 0 ? 0 : seconds[stage.rawValue] * 1e3 / Double(passes)
    }
}

/// Charges the time since the last lap to a stage; does nothing when there is no profile.
struct StageClock {
    let profile: PassProfile?
    var last: UInt64

    init(_ profile: PassProfile?) {
        self.profile = profile
        last = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
    }

    mutating func lap(_ stage: PassProfile.Stage) {
        guard let profile else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        profile.seconds[stage.rawValue] += Double(now - last) * 1e-9
        last = now
    }
}
