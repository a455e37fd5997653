import Foundation
import Testing
@testable import Decoding
import JobCore

@Suite struct SamplerTests {
    @Test func counterRNGIsAPureFunctionOfItsKey() {
        let a = CounterRNG.uniform(seed: 1, token: 5, purpose: .sample)
        #expect(a == CounterRNG.uniform(seed: 1, token: 5, purpose: .sample))
        #expect(a != CounterRNG.uniform(seed: 2, token: 5, purpose: .sample))
        #expect(a != CounterRNG.uniform(seed: 1, token: 6, purpose: .sample))
        #expect(a != CounterRNG.uniform(seed: 1, token: 5, purpose: .draft))
        #expect(CounterRNG.uniform(seed: 1, token: 5, purpose: .accept, round: 3)
                != CounterRNG.uniform(seed: 1, token: 5, purpose: .accept, round: 4))
        // Roughly uniform.
        let xs = (0..<10_000).map { CounterRNG.uniform(seed: 9, token: $0, purpose: .sample) }
        #expect(xs.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = xs.reduce(0, +) / Double(xs.count)
        #expect(abs(mean - 0.5) < 0.01)
    }

    @Test func drawIsInverseCDF() {
        let p: [Float] = [0.2, 0, 0.5, 0.3]
        #expect(Sampler.draw(p, uniform: 0) == 0)
        #expect(Sampler.draw(p, uniform: 0.19) == 0)
        #expect(Sampler.draw(p, uniform: 0.21) == 2)
        #expect(Sampler.draw(p, uniform: 0.71) == 3)
        #expect(Sampler.draw(p, uniform: 0.999999) == 3)
    }

    @Test func topKAndTopPFilter() {
        let logits: [Float] = [1, 4, 2, 3]
        let k2 = Sampler.probabilities(logits: logits, params: SamplingParams(topK: 2))
        #expect(k2[0] == 0 && k2[2] == 0 && k2[1] > k2[3] && k2[3] > 0)
        // softmax([1,4,2,3]) ~ [0.032, 0.644, 0.087, 0.237]: top-p 0.7 keeps 4 and 3 (0.644 < 0.7).
        let p7 = Sampler.probabilities(logits: logits, params: SamplingParams(topP: 0.7))
        #expect(p7[0] == 0 && p7[2] == 0 && p7[1] > 0 && p7[3] > 0)
        let p5 = Sampler.probabilities(logits: logits, params: SamplingParams(topP: 0.5))
        #expect(p5 == [0, 1, 0, 0])
        // Temperature 0 is greedy.
        let g = Sampler.probabilities(logits: logits, params: SamplingParams(temperature: 0))
        #expect(g[1] > 0.999)
    }

    @Test func minPKeepsTokensWithinAFactorOfTheTop() {
        // p = [0.5, 0.3, 0.15, 0.05]: min_p 0.5 keeps p >= 0.25 (tokens 0, 1), renormalised.
        let logits = [0.5, 0.3, 0.15, 0.05].map { Float(Foundation.log($0)) }
        let kept = Sampler.probabilities(logits: logits, params: SamplingParams(minP: 0.5))
        #expect(abs(kept[0] - 0.625) < 1e-5 && abs(kept[1] - 0.375) < 1e-5 && kept[2] == 0 && kept[3] == 0)
        let all = Sampler.probabilities(logits: logits, params: SamplingParams(minP: 0))
        #expect(all.allSatisfy { $0 > 0 })
        // Always at least the top token, whatever min_p.
        let top = Sampler.probabilities(logits: logits, params: SamplingParams(minP: 0.999))
        #expect(top == [1, 0, 0, 0])
    }

    @Test func kthLargestMatchesSorting() {
        var state: UInt64 = 12345
        for n in [1, 2, 3, 7, 100, 1000] {
            // Few distinct values, so ties are common.
            let xs = (0..<n).map { _ -> Float in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float((state >> 33) % 17) - 8
            }
            let sorted = xs.sorted(by: >)
            for k in Set([1, 2, n / 2 + 1, n].filter { $0 >= 1 && $0 <= n }) {
                #expect(Sampler.kthLargest(xs, k) == sorted[k - 1], "n \(n) k \(k)")
            }
        }
    }

    @Test func softmaxMatchesDoublePrecision() {
        let z: [Float] = (0..<16384).map { Float(($0 * 7919) % 1000) / 50 - 10 } + [-.infinity]
        let got = Sampler.softmax(z)
        let m = Double(z.max()!)
        let e = z.map { $0 == -.infinity ? 0 : Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        var worst = 0.0
        for (g, w) in zip(got, e) { worst = max(worst, abs(Double(g) - w / s) / max(w / s, 1e-12)) }
        #expect(worst < 1e-5)
        #expect(got.last == 0)
        #expect(Sampler.softmax([-.infinity, -.infinity]) == [0.5, 0.5])
    }

    @Test func guidanceMixesLogits() {
        let g = Sampler.guided(cond: [1, 2], uncond: [0, 4], scale: 2)
        #expect(g == [2, 0])
    }

    @Test func acceptanceIsOneWhenTargetIsAtLeastProposal() {
        let p: [Float] = [0.5, 0.3, 0.2]
        let q: [Float] = [0.6, 0.3, 0.1]
        #expect(Sampler.acceptance(draft: 0, proposal: p, target: q) == 1)
        #expect(Sampler.acceptance(draft: 1, proposal: p, target: q) == 1)
        #expect(abs(Sampler.acceptance(draft: 2, proposal: p, target: q) - 0.5) < 1e-6)
        // Accepted for every r < 1 when q >= p.
        for r in stride(from: 0.0, to: 1.0, by: 0.05) {
            let v = Sampler.verify(draft: 0, proposal: p, target: q, acceptUniform: r, resampleUniform: 0.5)
            #expect(v.accepted && v.token == 0)
        }
    }

    @Test func residualIsNormalisedPositivePart() {
        let p: [Float] = [0.5, 0.3, 0.2]
        let q: [Float] = [0.2, 0.3, 0.5]
        let r = Sampler.residual(proposal: p, target: q)
        #expect(r == [0, 0, 1])
        let q2: [Float] = [0.1, 0.5, 0.4]
        let r2 = Sampler.residual(proposal: p, target: q2)
        // max(0, q - p) = [0, 0.2, 0.2] -> [0, 0.5, 0.5]
        #expect(abs(r2[0]) < 1e-6 && abs(r2[1] - 0.5) < 1e-5 && abs(r2[2] - 0.5) < 1e-5)
        // A rejected draft is resampled from the residual.
        let v = Sampler.verify(draft: 0, proposal: p, target: q2, acceptUniform: 0.99, resampleUniform: 0.1)
        #expect(!v.accepted && v.token == 1)
        // Equal distributions: residual falls back to the target.
        #expect(Sampler.residual(proposal: p, target: p) == p)
    }

    @Test func verificationSamplesExactlyFromTheTarget() {
        // Draft from p, verify against q: the output must be distributed as q (speculative sampling).
        let p: [Float] = [0.6, 0.3, 0.1]
        let q: [Float] = [0.2, 0.3, 0.5]
        var counts = [0, 0, 0]
        let n = 60_000
        for t in 0..<n {
            let x = Sampler.draw(p, uniform: CounterRNG.uniform(seed: 3, token: t, purpose: .draft))
            let v = Sampler.verify(draft: x, proposal: p, target: q,
                                   acceptUniform: CounterRNG.uniform(seed: 3, token: t, purpose: .accept),
                                   resampleUniform: CounterRNG.uniform(seed: 3, token: t, purpose: .resample))
            counts[v.token] += 1
        }
        for i in 0..<3 { #expect(abs(Double(counts[i]) / Double(n) - Double(q[i])) < 0.01) }
    }

    @Test func policyParsing() throws {
        #expect(try WindowPolicy(parsing: "ntp") == .ntp)
        #expect(try WindowPolicy(parsing: "zipar:8") == .zipar(window: 8))
        #expect(try WindowPolicy(parsing: "Adaptive:4") == .adaptive(minWindow: 4))
        #expect(throws: PolicyError.self) { try WindowPolicy(parsing: "zipar") }
        #expect(throws: PolicyError.self) { try WindowPolicy(parsing: "zipar:0") }
        #expect(throws: PolicyError.self) { try WindowPolicy(parsing: "fast") }
        let limits = ModelLimits(grid: 16, numClasses: 10, supportsGuidance: true)
        #expect(throws: ParameterError.self) { try JobParameters(policy: .zipar(window: 17)).validate(for: limits) }
        #expect(try WindowPolicy(parsing: "official:8") == .official(window: 8))
        #expect(try WindowPolicy(parsing: "zipar:8+official").description == "official:8")
        #expect(throws: PolicyError.self) { try WindowPolicy(parsing: "ntp+official") }
    }
}

/// One home for a job's parameters: the rules, the key table and the JSON form agree.
@Suite struct JobParametersTests {
    let limits = ModelLimits(grid: 16, numClasses: 10, supportsGuidance: true)

    @Test func rulesNameTheField() {
        func field(_ p: JobParameters) -> String? {
            do { try p.validate(for: limits); return nil } catch { return error.field }
        }
        #expect(field(JobParameters(classLabel: 3)) == nil)
        #expect(field(JobParameters(classLabel: 10)) == "class")
        #expect(field(JobParameters(sampling: SamplingParams(temperature: 0))) == nil)      // greedy
        #expect(field(JobParameters(sampling: SamplingParams(temperature: -1))) == "temperature")
        #expect(field(JobParameters(sampling: SamplingParams(topK: 1 << 30))) == "top_k")
        #expect(field(JobParameters(sampling: SamplingParams(topP: Float(1e-300)))) == "top_p")
        #expect(field(JobParameters(sampling: SamplingParams(cfgScale: .nan))) == "cfg")
        #expect(field(JobParameters(sampling: SamplingParams(cfgInterval: -1))) == "cfg_interval")
        #expect(field(JobParameters(seed: UInt64.max)) == "seed")
        let noNull = ModelLimits(grid: 16, numClasses: 10, supportsGuidance: false)
        #expect(throws: ParameterError.self) { try JobParameters(sampling: SamplingParams(cfgScale: 2)).validate(for: noNull) }
    }

    @Test func valuesRoundTripThroughTheFieldTable() throws {
        let p = JobParameters(classLabel: 4, policy: .official(window: 6),
                              sampling: SamplingParams(temperature: 0.5, topK: 40, topP: 0.9, minP: 0.05, cfgScale: 2.5, cfgInterval: 100),
                              seed: 77)
        let back = try JobParameters(values: Dictionary(uniqueKeysWithValues: p.values.map { ($0.key, $0.value) }))
        #expect(back == p)
        let json = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(JobParameters.self, from: json) == p)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"policy\":\"official:6\"") && text.contains("\"top_k\":40"))
    }

    @Test func everyFieldHasADistinctKeyAndColumn() {
        let f = JobParameters.fields
        #expect(Set(f.map(\.key)).count == f.count && Set(f.map(\.column)).count == f.count)
        #expect(f.allSatisfy { !$0.help.isEmpty })
    }
}
