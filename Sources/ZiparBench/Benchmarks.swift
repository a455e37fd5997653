import Decoding
import Foundation
import JobCore
import Kernels
import Model

/// Results, as written to `--json`.
struct MatmulPoint: Codable { var rows: Int; var kernelMs: Double; var blasMs: Double; var kernelOverFloor: Double }
struct StageTimes: Codable { var matmul: Double; var attention: Double; var head: Double; var other: Double }
struct SweepPoint: Codable {
    var queries: Int; var msPerPass: Double; var overOneQuery: Double; var overFloor: Double
    /// The pass's FLOPs (2 per weight per query) at the kernel's in-cache rate.
    var computeFloorMs: Double
    var spreadMsPerPass: Double; var spreadOverOneQuery: Double
    /// Milliseconds per one-image pass by stage (a separate profiled run).
    var stages: StageTimes
}
struct PolicyRow: Codable {
    var policy: String; var batch: Int; var cfg: Bool
    var passes: Int; var passesPerImage: Double
    var secondsPerImage: Double      // mean latency of one image (submit to finish)
    var msPerPass: Double; var overFloor: Double
    var stepReduction: Double; var latencyReduction: Double; var imagesPerSecond: Double
    /// Milliseconds per pass outside the engine: sampling, CFG mixing, acceptance, scheduling.
    var outsideMsPerPass: Double
}
struct ModelReport: Codable {
    var name: String; var storage: String; var parameters: Int; var streamedBytes: Int
    /// Weights every query is multiplied by, and tokens per image (for the compute ceiling).
    var streamedParameters: Int; var imageTokens: Int
    var floorMs: Double
    /// The floor of the pass sweep: the weight bytes at the median of the streaming reads measured before
    /// its rounds (each round's passes are compared with their own round's read, see `engineSweep`).
    var sweepFloorMs: Double? = nil
    var matmul: [MatmulPoint] = []
    var crossoverRows: Int? = nil
    var sweep: [SweepPoint] = []
    var policies: [PolicyRow] = []
}
struct TorchRow: Codable { var policy: String; var cfg: Bool; var passes: Int; var secondsPerImage: Double; var oursSecondsPerImage: Double?; var speedup: Double? }
struct TorchReport: Codable { var status: String; var torchVersion: String?; var threads: Int?; var rows: [TorchRow] = [] }
struct RSSReport: Codable { var storage: String; var jobs: Int; var weightBytes: Int; var cacheBytes: Int; var peakRSS: Int; var overWeights: Double }
struct TargetCheck: Codable { var target: String; var value: String; var met: Bool? }
struct BenchReport: Codable {
    var machine: MachineInfo
    var bandwidthOneThread: Double
    var bandwidthAllThreads: Double
    /// The rate the floor is computed from: the best of the two.
    var bandwidth: Double
    /// Peak multiply-add rate of all kernel threads, FLOP/s (an FMA loop).
    var peakFlops: Double
    /// The matmul kernel's rate with its weights in cache (16 rows), FLOP/s, per storage.
    var kernelFlops: [String: Double] = [:]
    var models: [ModelReport] = []
    var torch: TorchReport? = nil
    var rss: [RSSReport] = []
    var targets: [TargetCheck] = []
}

/// Every weight matrix a pass streams, in pass order.
func passMatrices(_ w: DecoderWeights) -> [WeightMatrix] {
    w.layers.flatMap(\.matrices) + [w.output]
}

/// Weights a pass multiplies every query by (all matrices, the output head included).
func streamedParameters(_ w: DecoderWeights) -> Int {
    passMatrices(w).reduce(0) { $0 + $1.outFeatures * $1.inFeatures }
}

/// Bytes of the whole model in memory (matrices, embeddings, norms).
func modelBytes(_ w: DecoderWeights) -> Int {
    let vectors = (w.inputs.classes?.count ?? 0) + w.inputs.tokens.outFeatures * w.inputs.tokens.inFeatures + w.norm.count
        + w.layers.reduce(0) { $0 + $1.attentionNorm.count + $1.ffnNorm.count }
    return w.streamedBytes + vectors * 4
}

/// FLOP/s of the skinny-matmul kernel on a matrix that stays in L2 (256 x 768, split over the
/// threads): its arithmetic ceiling, what a pass approaches once it has enough queries to be
/// compute-bound rather than memory-bound.
func inCacheKernelRate(storage: WeightStorage, rows: Int) -> Double {
    var rng = SplitMix(seed: 9)
    let out = 256, inF = 768
    let w = WeightMatrix(outFeatures: out, inFeatures: inF, values: (0..<(out * inF)).map { _ in rng.float() }, storage: storage)
    let x = FloatBuffer((0..<(rows * inF)).map { _ in rng.float() })
    let y = FloatBuffer(count: rows * out)
    let calls = 400
    func run() { for _ in 0..<calls { w.apply(x, rows: rows, into: y, path: .kernel) } }
    run()
    // A capability, so the best of several runs (a preempted run only measures the neighbours).
    let t = (0..<7).map { _ in seconds(run) }.min()!
    return 2.0 * Double(out * inF * rows * calls) / t
}

/// Time of the matrix products alone (one pass's worth) per row count, own kernel vs OpenBLAS.
func matmulSweep(_ weights: DecoderWeights, rowsList: [Int], repeats: Int, bandwidth: Double) -> [MatmulPoint] {
    let mats = passMatrices(weights)
    let maxIn = mats.map(\.inFeatures).max()!, maxOut = mats.map(\.outFeatures).max()!
    let maxRows = rowsList.max()!
    var rng = SplitMix(seed: 5)
    let x = FloatBuffer((0..<(maxRows * maxIn)).map { _ in rng.float() })
    let y = FloatBuffer(count: maxRows * maxOut)
    let floor = Double(weights.streamedBytes) / bandwidth
    return rowsList.map { rows in
        func pass(_ path: MatmulPath) -> Double {
            fastest(repeats: repeats) { for m in mats { m.apply(x, rows: rows, into: y, path: path) } }
        }
        let k = pass(.kernel), b = pass(.blas)
        return MatmulPoint(rows: rows, kernelMs: k * 1e3, blasMs: b * 1e3, kernelOverFloor: k / floor)
    }
}

/// Smallest row count from which OpenBLAS beats the kernel (by 3%) at every larger measured count;
/// nil unless that holds for at least two measured counts (one noisy point must not flip the policy).
func crossover(_ points: [MatmulPoint]) -> Int? {
    var best: Int? = nil, wins = 0
    for p in points.sorted(by: { $0.rows > $1.rows }) {
        if p.blasMs < p.kernelMs * 0.97 { best = p.rows; wins += 1 } else { break }
    }
    return wins >= 2 ? best : nil
}

/// Forward passes straight on the engine with `n` query tokens, two ways: all in one half-decoded
/// image (ZipAR's case: several rows of one image share its KV cache), and spread over up to 16
/// half-decoded images (continuous batching: one query per image, each with its own cache).
///
/// `x floor` pairs each pass with the streaming read measured just before its round (256 MB, the faster
/// of two reads) and is the median over the rounds of pass time / that round's floor. A VM's memory
/// bandwidth swings by tens of percent within a minute (45-79 GB/s within one run on a 2-core Zen 5), so
/// a floor measured at the start, or the best read of the run against the fastest pass, compares
/// moments that need not share a bandwidth. Returns the points and the median of the rounds' reads.
func engineSweep(_ model: GPTModel, queryCounts: [Int], repeats: Int, bandwidth: Double,
                 flops: Double) -> (points: [SweepPoint], bandwidth: Double) {
    let c = model.config
    let maxImages = 16
    let engine = model.engine(maxQueries: max(64, queryCounts.max()!), maxSequences: maxImages)
    let seqs = (0..<maxImages).map { _ in try! engine.openSequence() }
    let half = c.imageTokens / 2
    // Prefill the top half of every image (untimed).
    for s in seqs {
        var batch: [DecoderQuery] = [DecoderQuery(sequence: s, position: 0, input: .classLabel(0), wantsLogits: false)]
        for t in 0..<half {
            batch.append(DecoderQuery(sequence: s, position: c.clsTokenNum + t, input: .token(t % c.vocabSize), wantsLogits: false))
            if batch.count == engine.maxQueries { _ = engine.forward(batch); batch = [] }
        }
        if !batch.isEmpty { _ = engine.forward(batch) }
    }
    let lowerRows = c.grid - half / c.grid
    // One image: query j sits in row (half/grid + j % lowerRows), column j / lowerRows.
    func oneImage(_ n: Int) -> [DecoderQuery] {
        (0..<n).map { j -> DecoderQuery in
            let t = (half / c.grid + j % lowerRows) * c.grid + (j / lowerRows) % c.grid
            return DecoderQuery(sequence: seqs[0], position: c.clsTokenNum + t, input: .token(j % c.vocabSize))
        }
    }
    // Spread: query j in image j % 16, at the middle of its lower half.
    func spread(_ n: Int) -> [DecoderQuery] {
        (0..<n).map { j -> DecoderQuery in
            let t = half + c.grid / 2 + j / maxImages
            return DecoderQuery(sequence: seqs[j % maxImages], position: c.clsTokenNum + t, input: .token(j % c.vocabSize))
        }
    }
    // Rounds over every query count, so the ratios to the 1-query pass compare passes timed
    // seconds apart, not minutes: background load on a shared machine drifts. ms/pass is the fastest
    // round per count (what the machine can do); x floor pairs each round with its own read (above).
    let batches = queryCounts.map { (oneImage($0), spread($0)) }
    var times = [[Double]](repeating: [], count: queryCounts.count), spreadTimes = times
    var roundBandwidth: [Double] = []
    let probe = KernelRuntime.ReadProbe(megabytes: 256)
    for round in -1..<repeats {                   // round -1 warms up
        if round >= 0 { roundBandwidth.append(probe?.bandwidth(repeats: 2) ?? bandwidth) }
        for (i, (one, wide)) in batches.enumerated() {
            // Each timed pass follows an untimed one of the same shape, as in a decode, where like passes
            // run back to back: right after a 64-query pass a 1-query one ran 15-30% slower for a few
            // milliseconds (int8 products on Zen 5, both ISAs), a cost of the sweep's order, not of the pass.
            _ = engine.forward(one)
            let t = seconds { _ = engine.forward(one) }
            _ = engine.forward(wide)
            let tSpread = seconds { _ = engine.forward(wide) }
            if round >= 0 { times[i].append(t); spreadTimes[i].append(tSpread) }
        }
    }
    let bytes = Double(model.weights.streamedBytes)
    var points: [SweepPoint] = []
    let oneQuery = times[queryCounts.firstIndex(of: 1) ?? 0].min()!
    for (i, n) in queryCounts.enumerated() {
        let s = times[i].min()!, sSpread = spreadTimes[i].min()!
        let profile = PassProfile()
        engine.profile = profile
        for _ in 0..<repeats { _ = engine.forward(batches[i].0) }
        engine.profile = nil
        let stages = StageTimes(matmul: profile.msPerPass(.matmul), attention: profile.msPerPass(.attention),
                                head: profile.msPerPass(.head), other: profile.msPerPass(.other))
        let passFlops = 2.0 * Double(streamedParameters(model.weights)) * Double(n)
        let overFloor = median(zip(times[i], roundBandwidth).map { time, read in time * read / bytes })
        points.append(SweepPoint(queries: n, msPerPass: s * 1e3, overOneQuery: s / oneQuery, overFloor: overFloor,
                                 computeFloorMs: passFlops / flops * 1e3,
                                 spreadMsPerPass: sSpread * 1e3, spreadOverOneQuery: sSpread / oneQuery, stages: stages))
    }
    for s in seqs { engine.closeSequence(s) }
    return (points, median(roundBandwidth))
}

/// One policy x batch x CFG cell through the continuous-batching scheduler.
struct PolicyRun {
    var passes: Int; var passesPerImage: Double; var latency: Double; var wall: Double; var images: Int
    /// Seconds inside DecoderEngine.forward (the rest of `wall` is sampling and scheduling).
    var engineSeconds: Double
}

func runPolicy(_ model: GPTModel, policy: WindowPolicy, batch: Int, cfgScale: Float, seed: UInt64) throws -> PolicyRun {
    // Room for every query of 8 CFG jobs under zipar:4 in one pass (up to ~80), so batching never splits a pass.
    let scheduler = BatchScheduler(model: model, batch: batch, maxQueries: 128)
    let requests = (0..<batch).map { i in
        GenerationRequest(id: "bench-\(i)", classLabel: i % model.config.numClasses, policy: policy,
                          sampling: SamplingParams(temperature: 1, topK: 0, topP: 1, cfgScale: cfgScale),
                          seed: seed &+ UInt64(i))
    }
    var results: [GenerationResult] = []
    let profile = PassProfile()
    scheduler.decoderEngine?.profile = profile
    let wall = try seconds { results = try scheduler.run(requests) }
    let latency = results.map(\.stats.wallSeconds).reduce(0, +) / Double(results.count)
    let perImage = Double(results.map(\.stats.passes).reduce(0, +)) / Double(results.count)
    return PolicyRun(passes: scheduler.passCount, passesPerImage: perImage, latency: latency, wall: wall, images: batch,
                     engineSeconds: profile.seconds.reduce(0, +))
}
