import Decoding
import Foundation
import JobCore
import Kernels
import Model

// Does a Jacobi window pay on a CPU? Speculative Jacobi decoding (sjd:K, zipar-sjd:S,K) cuts passes by
// guessing K tokens ahead and verifying them in the same pass, so its passes carry more queries. Whether
// that is a win depends on two things measured apart:
//   - how many guesses a trained model accepts, which random weights cannot tell (their near-uniform
//     distributions accept nearly every guess): taken from the bundled model, a trained 16x16 LlamaGen,
//     as a histogram of query tokens per pass for each policy;
//   - what a pass with q query tokens of one image costs at the real shapes (GPT-B 16x16, GPT-L 24x24,
//     random weights), measured on the engine like the sweep.
// Seconds per image = sum over the histogram of passes x pass time(q). The GPT-L rows apply the 16x16
// histogram to GPT-L's pass times (there is no trained 24x24 model here): they answer "what would the
// same acceptance cost at that size", not GPT-L's own pass counts.

/// One policy's passes on the bundled model: how many passes carried q query tokens, per image.
struct JacobiTrace: Codable {
    var policy: String
    var cfg: Bool
    var passesPerImage: Double
    var queriesPerImage: Double
    /// Query tokens per pass -> passes per image with that many.
    var histogram: [Int: Double]
}

struct JacobiRow: Codable {
    var model: String
    var storage: String
    var policy: String
    var cfg: Bool
    var passesPerImage: Double
    var queriesPerPass: Double
    var secondsPerImage: Double
    /// secondsPerImage of ntp at the same model, storage and cfg over this row's.
    var speedupOverNTP: Double
}

/// Decodes `images` images one at a time (batch 1) per policy on `model` and counts query tokens per pass.
func jacobiTraces(_ model: GPTModel, policies: [WindowPolicy], cfgs: [Bool], cfgScale: Float, images: Int) throws -> [JacobiTrace] {
    var traces: [JacobiTrace] = []
    for cfg in cfgs {
        for policy in policies {
            var histogram: [Int: Double] = [:]
            var passes = 0, queries = 0
            for i in 0..<images {
                let scheduler = BatchScheduler(model: model, batch: 1, maxQueries: 256)
                try scheduler.add(GenerationRequest(id: "jacobi-\(i)", classLabel: i % model.config.numClasses, policy: policy,
                                                    sampling: SamplingParams(temperature: 1, topK: 0, topP: 1, cfgScale: cfg ? cfgScale : 1),
                                                    seed: 1000 + UInt64(i)))
                var done = false
                while !done {
                    done = !scheduler.step().isEmpty
                    histogram[scheduler.lastPassQueries, default: 0] += 1
                    passes += 1
                    queries += scheduler.lastPassQueries
                }
            }
            let n = Double(images)
            traces.append(JacobiTrace(policy: policy.description, cfg: cfg, passesPerImage: Double(passes) / n,
                                      queriesPerImage: Double(queries) / n, histogram: histogram.mapValues { $0 / n }))
        }
    }
    return traces
}

/// Seconds per image at a real shape: each trace's histogram priced by the engine's measured pass time
/// at that many queries of one image.
func jacobiCost(_ traces: [JacobiTrace], model: GPTModel, name: String, storage: WeightStorage, repeats: Int,
                bandwidth: Double, flops: Double) -> [JacobiRow] {
    let counts = Set(traces.flatMap { $0.histogram.keys }).sorted()
    // The sweep's one-image passes (half the image decoded), fastest of `repeats` interleaved rounds.
    let sweep = engineSweep(model, queryCounts: counts, repeats: repeats, bandwidth: bandwidth, flops: flops)
    var passSeconds: [Int: Double] = [:]
    for p in sweep.points { passSeconds[p.queries] = p.msPerPass / 1e3 }
    var rows: [JacobiRow] = []
    for t in traces {
        let seconds = t.histogram.reduce(0) { $0 + $1.value * passSeconds[$1.key]! }
        rows.append(JacobiRow(model: name, storage: storage.rawValue, policy: t.policy, cfg: t.cfg, passesPerImage: t.passesPerImage,
                              queriesPerPass: t.queriesPerImage / t.passesPerImage, secondsPerImage: seconds, speedupOverNTP: .nan))
    }
    for i in rows.indices {
        if let ntp = rows.first(where: { $0.policy == "ntp" && $0.cfg == rows[i].cfg }) {
            rows[i].speedupOverNTP = ntp.secondsPerImage / rows[i].secondsPerImage
        }
    }
    return rows
}

/// The whole section: traces on the bundled model, then priced at GPT-B and GPT-L for each storage.
func jacobiBench(bundled: String, policies: [WindowPolicy], storages: [WeightStorage], shapes: [(String, Int)],
                 cfgScale: Float, images: Int, repeats: Int, bandwidth: Double, flops: Double) throws -> [JacobiRow] {
    let trained = try ModelBundle(directory: bundled, storage: .f32).gpt
    let traces = try jacobiTraces(trained, policies: policies, cfgs: [false, true], cfgScale: cfgScale, images: images)
    emit("Jacobi windows on a CPU: acceptance from the trained bundled model (\(bundled), \(images) images per policy,")
    emit("batch 1, temperature 1), pass cost measured at the real shapes (random weights); s/image = sum of passes x")
    emit("pass time at their query count. GPT-L rows price the 16x16 acceptance at GPT-L's pass times.")
    var rows: [JacobiRow] = []
    for (name, grid) in shapes {
        for s in storages {
            guard let c = GPTConfig.official(name, grid: grid) else { continue }
            let model = GPTModel(config: c, weights: .randomLlamaGen(c, seed: 1, storage: s))
            rows += jacobiCost(traces, model: model, name: "\(name) \(grid)x\(grid)", storage: s, repeats: repeats,
                               bandwidth: bandwidth, flops: flops)
        }
    }
    var t = Table("model", "storage", "cfg", "policy", "passes/img", "queries/pass", "s/image", "x ntp")
    for r in rows {
        t.add([r.model, r.storage, r.cfg ? f(Double(cfgScale)) : "off", r.policy, f(r.passesPerImage, 1), f(r.queriesPerPass, 1),
               f(r.secondsPerImage, 2), f(r.speedupOverNTP, 2)])
    }
    emit(t.render() + "\n")
    return rows
}
