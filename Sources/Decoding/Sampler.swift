import Foundation
import JobCore
import Kernels

/// Turning logits into tokens: guidance, temperature, top-k / top-p, multinomial from a given uniform draw,
/// and the speculative-sampling pieces of ZipAR's adaptive window. All pure functions.
public enum Sampler {
    /// Classifier-free guidance: `uncond + (cond - uncond) * scale`.
    public static func guided(cond: [Float], uncond: [Float], scale: Float) -> [Float] {
        precondition(cond.count == uncond.count)
        var out = cond
        for i in out.indices { out[i] = uncond[i] + (cond[i] - uncond[i]) * scale }
        return out
    }

    /// The sampling distribution LlamaGen uses: logits / max(temperature, 1e-5), then top-k, then top-p
    /// (keep the smallest prefix of the sorted distribution whose mass reaches `topP`, at least one token),
    /// then min-p (not in LlamaGen: drop tokens below `minP` times the top probability), then softmax. Filtered tokens get probability exactly 0.
    public static func probabilities(logits: [Float], params p: SamplingParams) -> [Float] {
        let n = logits.count
        let t = max(p.temperature, 1e-5)
        var z = logits.map { $0 / t }
        let negInf = -Float.infinity
        if p.topK > 0 && p.topK < n {
            // Keep every logit >= the k-th largest (ties kept, like torch).
            let kth = kthLargest(z, p.topK)
            for i in 0..<n where z[i] < kth { z[i] = negInf }
        }
        if p.topP < 1 {
            let order = (0..<n).sorted { z[$0] != z[$1] ? z[$0] > z[$1] : $0 < $1 }
            let probs = softmax(z)
            var cumulative: Double = 0
            var remove = [Bool](repeating: false, count: n)
            for (rank, i) in order.enumerated() {
                // Remove tokens once the mass *before* them already exceeds top_p (the first is always kept).
                if rank > 0 && cumulative > Double(p.topP) { remove[i] = true }
                cumulative += Double(probs[i])
            }
            for i in 0..<n where remove[i] { z[i] = negInf }
        }
        if p.minP > 0 {
            // min-p: keep tokens with probability >= minP * the largest, i.e. logit >= max + log(minP)
            // (the same test on logits, no softmax needed; the most likely token always stays).
            let cut = (z.max() ?? 0) + Foundation.log(p.minP)
            for i in 0..<n where z[i] < cut { z[i] = negInf }
        }
        return softmax(z)
    }

    /// The k-th largest value (k from 1) by quickselect: expected O(n), where sorting a 16384-entry
    /// row per sampled token (LlamaGen's usual top-k 2000) cost about a millisecond.
    static func kthLargest(_ values: [Float], _ k: Int) -> Float {
        precondition(k >= 1 && k <= values.count)
        var a = values
        var lo = 0, hi = a.count - 1
        let target = k - 1                    // index in descending order
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {                    // Hoare partition, descending
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }

    /// Softmax of a vocabulary row with the kernels' vector exp (about 2 ulp): a row per sampled
    /// token per pass, 16384 exps for LlamaGen, so it shows in the per-pass time next to a 5 ms pass.
    public static func softmax(_ z: [Float]) -> [Float] {
        var out = z                           // an all -inf row comes back uniform
        VectorOps.softmax(&out)
        return out
    }

    /// Multinomial draw by inverse CDF in token order: the first token whose cumulative mass exceeds
    /// `u * total`. Never returns a zero-probability token.
    public static func draw(_ probs: [Float], uniform u: Double) -> Int {
        var total: Double = 0
        for p in probs { total += Double(p) }
        precondition(total > 0, "draw from an all-zero distribution")
        let target = u * total
        var cumulative: Double = 0
        var last = 0
        for (i, p) in probs.enumerated() where p > 0 {
            cumulative += Double(p)
            last = i
            if cumulative > target { return i }
        }
        return last
    }

    /// Probability of accepting a draft `x` proposed from `proposal` when the wider window predicts `target`:
    /// `min(1, target(x) / proposal(x))`.
    public static func acceptance(draft x: Int, proposal: [Float], target: [Float]) -> Double {
        let p = Double(proposal[x]), q = Double(target[x])
        if p <= 0 { return 1 }
        return min(1, q / p)
    }

    /// The distribution a rejected draft is resampled from: `norm(max(0, target - proposal))`.
    /// Falls back to `target` when the two are equal (then nothing is ever rejected anyway).
    public static func residual(proposal: [Float], target: [Float]) -> [Float] {
        precondition(proposal.count == target.count)
        var r = [Float](repeating: 0, count: target.count)
        var s: Double = 0
        for i in r.indices {
            let d = target[i] - proposal[i]
            if d > 0 { r[i] = d; s += Double(d) }
        }
        guard s > 0 else { return target }
        for i in r.indices { r[i] = Float(Double(r[i]) / s) }
        return r
    }

    /// One speculative verification step: accept `draft` with probability `acceptance`, else resample from
    /// the residual. Returns the token and whether the draft was accepted. The result is distributed
    /// exactly as `target` when `draft` was distributed as `proposal`.
    public static func verify(draft: Int, proposal: [Float], target: [Float],
                              acceptUniform r: Double, resampleUniform u: Double) -> (token: Int, accepted: Bool) {
        if r < acceptance(draft: draft, proposal: proposal, target: target) { return (draft, true) }
        return (draw(residual(proposal: proposal, target: target), uniform: u), false)
    }
}
