import Foundation

/// Backoff before retry `attempt` (1-based): base * 2^(attempt-1), capped, times a jitter in [0.5, 1].
public func retryBackoff(attempt: Int, base: Double = 1, cap: Double = 300,
                         jitter: Double = Double.random(in: 0.5...1)) -> Double {
    let exp = min(max(attempt - 1, 0), 30)
    return min(cap, base * pow(2, Double(exp))) * jitter
}
