import ArgumentParser
import CLISupport
import Decoding
import Foundation
import JobCore
import Kernels
import Model
import TextModel

// `zipar-bench --text`: what the text-to-image families cost per image on this machine, at their real
// sizes. A 7-8B model's weights (13-15 GB in f16) would take minutes to fill with random values and most of
// the machine's memory, and every layer costs the same, so only a few layers are built and timed; the
// per-image figures are extrapolations from them to the full depth (the report says so beside each table).

/// One text-to-image family at its published shape and native resolution.
struct TextFamilyShape {
    var name: String
    /// The public config's decoder (all its layers); the bench builds `measuredLayers` of them.
    var config: TextModelConfig
    /// Image tokens per side: native pixels / the VQ's downsampling.
    var rows: Int, columns: Int
    var pixels: String
    /// Tokens before the first image token (instruction, caption, image header); part of every query's
    /// context.
    var promptTokens: Int

    /// Every row is followed by a fixed end-of-row token (Emu3, Lumina-mGPT); Janus-Pro's raster has none.
    var endOfRow = true
    /// Said beside the family's table: how the measured model differs from the real one (Janus's head).
    var note: String? = nil

    /// Sequence positions of the image: every row followed by its end-of-row token, where the layout has one.
    var imagePositions: Int { rows * (columns + (endOfRow ? 1 : 0)) }

    /// The passes of one image under `policy` on this family's layout (nil: no pass model for the policy).
    func schedule(_ policy: WindowPolicy) -> [TextPass]? {
        endOfRow ? endOfRowSchedule(rows: rows, columns: columns, policy: policy) : rasterSchedule(rows: rows, columns: columns, policy: policy)
    }

    /// The KV cache the timed passes attend to: the prompt plus half the image, the mean context of the
    /// image's queries (attention cost grows linearly with it, so the mean gives the per-image total).
    var meanContext: Int { promptTokens + imagePositions / 2 }

    /// Lumina-mGPT-7B is Chameleon-7B (its public config.json): hidden 4096, 32 layers, 32 heads without
    /// GQA, intermediate 11008, vocabulary 65536, rope theta 1e4, per-head query/key LayerNorm. 768 px images
    /// through the 16x VQ are 48 x 48 tokens, each row ended by <reserved08803>: 48 x 49 = 2352 positions.
    static let lumina = TextFamilyShape(
        name: "Lumina-mGPT-7B",
        config: TextModelConfig(family: .chameleon, hiddenSize: 4096, intermediateSize: 11008, layers: 32, heads: 32,
                                kvHeads: 32, vocabSize: 65536, maxPositions: 4096, ropeTheta: 10_000),
        rows: 48, columns: 48, pixels: "768 px", promptTokens: 64)

    /// Emu3-Gen (8B; its public config.json): hidden 4096, 32 layers, 32 heads with 8 key/value heads,
    /// intermediate 14336, vocabulary 184622, rope theta 1e6, 9216 positions. 720 x 720 px through the 8x VQ
    /// are 90 x 90 tokens, each row ended by <|extra_200|>: 90 x 91 = 8190 positions.
    static let emu3 = TextFamilyShape(
        name: "Emu3-Gen-8B",
        config: TextModelConfig(family: .emu3, hiddenSize: 4096, intermediateSize: 14336, layers: 32, heads: 32,
                                kvHeads: 8, vocabSize: 184_622, maxPositions: 9216, ropeTheta: 1_000_000),
        rows: 90, columns: 90, pixels: "720 px", promptTokens: 64)
}

/// `--text-models`: which families to time.
enum TextFamily: String, CaseIterable, ExpressibleByArgument {
    case lumina, emu3
    case janusPro1B = "janus-pro-1b", janusPro7B = "janus-pro-7b"
    var shape: TextFamilyShape {
        switch self {
        case .lumina: return .lumina
        case .emu3: return .emu3
        case .janusPro1B: return .janusPro1B
        case .janusPro7B: return .janusPro7B
        }
    }
}

// MARK: the schedule of one image on the end-of-row layout

/// One pass of an image: queries whose logits are sampled, and queries that only write K/V.
struct TextPass: Equatable { var sampled: Int; var kvOnly: Int }

/// The passes of one H x W image where every row is followed by a fixed end-of-row (EOL) token, counted
/// from the pass that samples x(0,0) to the one that samples x(H-1,W-1), as Tests/Fixtures/lumina-zipar-steps.json
/// (the official Lumina-mGPT ZipAR loop, measured) counts them. (Decoding's scheduler runs these schedules
/// on a model; this only counts them, which is all a pass-time estimate needs.)
///
/// - ntp: the reference loop, one query a pass; the EOL between two rows is sampled (forced) in a pass of its
///   own: H x (W + 1) - 1 passes.
/// - zipar:S: the EOLs are known in advance, so row i's first query (input: the EOL of row i-1, predicting
///   x(i,0)) runs as soon as row i-1 has S tokens. A row then takes W + 1 queries in consecutive passes:
///   W that sample its tokens and one that feeds x(i,W-1) only to write its K/V (its prediction would be
///   the fixed EOL), riding in a pass the image takes anyway; the last row's is not needed. Row i starts
///   S passes after row i-1, so x(i,j) is sampled in pass i*S + j and the image takes (H-1)*S + W passes.
///   The paper's rule holds: x(i,j) needs x(i-1, j..j+S-1), whose K/V the queries of row i-1 write at the
///   latest in the same pass, and queries of one pass see each other's K/V (DecoderEngine marks every slot of
///   the pass filled before the first layer).
/// - official:S: the authors' Lumina loop, whose window S counts the EOL slot: the zipar:(S-1) wavefront,
///   (H-1)*(S-1) + W passes (Lumina-mGPT's default, S = 16 at 48 x 48, is 753).
/// Returns nil for policies with no model here (adaptive and speculative Jacobi: their pass counts depend
/// on acceptances; official:1, which the loop refuses).
func endOfRowSchedule(rows h: Int, columns w: Int, policy: WindowPolicy) -> [TextPass]? {
    let window: Int
    switch policy {
    case .ntp: return Array(repeating: TextPass(sampled: 1, kvOnly: 0), count: h * (w + 1) - 1)
    case .zipar(let s) where s >= 1: window = min(s, w)
    case .official(let s) where s >= 2: window = min(s - 1, w)
    default: return nil
    }
    var passes = Array(repeating: TextPass(sampled: 0, kvOnly: 0), count: (h - 1) * window + w)
    for i in 0..<h {
        for j in 0..<w { passes[i * window + j].sampled += 1 }
        if i < h - 1 { passes[i * window + w].kvOnly += 1 }
    }
    return passes
}

// MARK: results

/// What one family's few layers measured, per query count (all queries of one sequence).
struct TextPassPoint: Codable {
    var queries: Int
    /// A pass of the measured layers without the head.
    var passMs: Double
    /// (pass - embedding gather) / measured layers.
    var layerMs: Double
    /// Final RMSNorm + the full-vocabulary head for `queries` rows.
    var headMs: Double
    /// The token embedding gather (the pass's only cost outside its layers, besides the head).
    var gatherMs: Double
    /// The whole model extrapolated: all layers + head + gather.
    var fullPassMs: Double
}

struct TextFamilyReport: Codable {
    var model: String; var pixels: String; var rows: Int; var columns: Int
    var hidden: Int; var layers: Int; var heads: Int; var kvHeads: Int; var intermediate: Int; var vocab: Int
    var measuredLayers: Int; var context: Int
    var layerBytes: Int; var headBytes: Int
    var points: [TextPassPoint]
}

/// One row of the per-image table, as written to `--json`.
struct TextImageRow: Codable {
    var model: String; var policy: String; var cfg: Bool
    var passes: Int
    /// Engine queries per pass (CFG twins included), K/V-only ones included.
    var meanQueriesPerPass: Double
    /// Extrapolated from `measuredLayers` measured layers to the model's depth.
    var secondsPerImage: Double
    /// ntp's seconds / this row's, same model and CFG (nil when ntp is not among the policies).
    var speedupVsNTP: Double?
    /// Weight bytes a pass streams (all layers, plus the head when it samples): the bandwidth floor per pass.
    var bytesPerPass: Double
    /// The image's weight bytes at the measured bandwidth, and its FLOPs at the kernel's in-cache rate.
    var bytesFloorSeconds: Double; var flopFloorSeconds: Double
    var measuredLayers: Int; var extrapolatedLayers: Int
}

struct TextBenchReport: Codable {
    var machine: MachineInfo
    var bandwidth: Double; var kernelFlops: Double
    var families: [TextFamilyReport]
    var rows: [TextImageRow]
}

// MARK: measuring

extension ZiparBench {
    func runTextBench(families: [TextFamily], measuredLayers: Int, policies: [WindowPolicy], queryCounts: [Int],
                      rounds: Int) throws {
        let bandwidth = max(KernelRuntime.readBandwidth(megabytes: 512, repeats: 3, threads: 1),
                            KernelRuntime.readBandwidth(megabytes: 512, repeats: 3))
        let kernelRate = inCacheKernelRate(storage: .f16, rows: 16)
        emit(String(format: "streaming read %.1f GB/s; the f16 matmul kernel, weights in cache, 16 rows: %.0f GFLOP/s (%d threads)\n",
                    bandwidth / 1e9, kernelRate / 1e9, KernelRuntime.threads))
        var report = TextBenchReport(machine: MachineInfo.current(), bandwidth: bandwidth, kernelFlops: kernelRate,
                                     families: [], rows: [])
        for family in families {
            let shape = family.shape
            let measured = try measureFamily(shape, layers: measuredLayers, queryCounts: queryCounts, rounds: rounds)
            report.families.append(measured)
            report.rows += imageRows(shape, measured, policies: policies, bandwidth: bandwidth, kernelRate: kernelRate)
        }
        emitImageTable(report.rows, measuredLayers: measuredLayers)
        if let json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(report).write(to: URL(fileURLWithPath: json))
            emit("wrote \(json)")
        }
    }

    /// Builds `layers` random f16 layers of the family (the head tied to the embedding: same bytes streamed,
    /// half the memory), fills one KV cache to the mean context, then times passes of 1..48 queries without
    /// the head and the head alone, in interleaved rounds (median of each), so drift hits every count alike.
    func measureFamily(_ shape: TextFamilyShape, layers: Int, queryCounts: [Int], rounds: Int) throws -> TextFamilyReport {
        let full = shape.config
        var c = full
        c.layers = layers
        c.tieWordEmbeddings = true
        let built = Date()
        let model = TextTransformer(config: c, weights: TextModelWeights.random(c, seed: 3, storage: .f16))
        let w = model.weights
        let maxQ = queryCounts.max() ?? 1
        let context = shape.meanContext
        let engine = model.engine(maxQueries: max(maxQ, 64), maxSequences: 1, maxPositions: context + maxQ + 1)
        let sequence = try engine.openSequence()
        var rng = SplitMix(seed: 5)
        func token() -> Int { Int(rng.next() % UInt64(c.vocabSize)) }
        let buildSeconds = Date().timeIntervalSince(built)
        // The cache's values only feed scores; what a pass costs depends on how many slots it reads.
        let prefill = seconds {
            for start in stride(from: 0, to: context, by: 64) {
                _ = engine.forward((start..<min(start + 64, context)).map {
                    DecoderQuery(sequence: sequence, position: $0, input: .token(token()), wantsLogits: false)
                })
            }
        }
        emit("== \(shape.name), \(shape.pixels) = \(shape.rows) x \(shape.columns) tokens"
             + (shape.endOfRow ? " + an end-of-row token a row" : " in raster order") + " "
             + "(\(shape.imagePositions) positions): hidden \(full.hiddenSize), \(full.layers) layers, \(full.heads) heads / "
             + "\(full.kvHeads) kv, intermediate \(full.intermediateSize), vocab \(full.vocabSize)\(full.queryKeyNorm ? ", qk-norm" : "")")
        emit("   built \(layers) random f16 layers (\(mb(w.layerBytes))) + head in \(f(buildSeconds, 1)) s; KV cache filled to "
             + "\(context) positions (\(shape.promptTokens) prompt + half the image) in \(f(prefill, 1)) s")
        if let note = shape.note { emit("   \(note)") }

        let d = c.hiddenSize
        let gatherOut = FloatBuffer(count: maxQ * d)
        let headIn = FloatBuffer(count: maxQ * d), headNormed = FloatBuffer(count: maxQ * d)
        let logits = FloatBuffer(count: maxQ * c.vocabSize)
        for r in 0..<maxQ { w.inputs.tokens.copyRow(token(), into: headIn, offset: r * d) }
        func pass(_ n: Int) {
            _ = engine.forward((0..<n).map { DecoderQuery(sequence: sequence, position: context + $0, input: .token(7 + $0), wantsLogits: false) })
        }
        func head(_ n: Int) {
            VectorOps.rmsNorm(headIn, rows: n, width: d, weight: w.norm, eps: c.rmsNormEps, into: headNormed)
            w.output.apply(headNormed, rows: n, into: logits)
        }
        func gather(_ n: Int) { for r in 0..<n { w.inputs.tokens.copyRow(7 + r, into: gatherOut, offset: r * d) } }
        for n in queryCounts { pass(n); head(n) }   // warm-up: page in, spin up the pool
        var passTimes = [Int: [Double]](), headTimes = [Int: [Double]](), gatherTimes = [Int: [Double]]()
        for _ in 0..<max(rounds, 1) {
            for n in queryCounts {
                passTimes[n, default: []].append(seconds { pass(n) })
                headTimes[n, default: []].append(seconds { head(n) })
                gatherTimes[n, default: []].append(seconds { gather(n) })
            }
        }
        var points: [TextPassPoint] = []
        var t = Table("queries", "\(layers)-layer pass ms", "per layer ms", "head ms", "\(full.layers) layers + head ms", "x 1 query")
        for n in queryCounts {
            let passMs = median(passTimes[n]!) * 1e3, headMs = median(headTimes[n]!) * 1e3, gatherMs = median(gatherTimes[n]!) * 1e3
            let layerMs = max(passMs - gatherMs, 0) / Double(layers)
            let fullMs = layerMs * Double(full.layers) + headMs + gatherMs
            points.append(TextPassPoint(queries: n, passMs: passMs, layerMs: layerMs, headMs: headMs, gatherMs: gatherMs, fullPassMs: fullMs))
            t.add(["\(n)", f(passMs, 1), f(layerMs, 2), f(headMs, 1), f(fullMs, 0), f(fullMs / points[0].fullPassMs, 2)])
        }
        emit("   passes of one sequence at \(context) positions (median of \(rounds) interleaved rounds); the \(full.layers)-layer column is "
             + "an extrapolation: per layer x \(full.layers) + the head (\(mb(w.output.byteCount)), measured at the full vocabulary):")
        emit(t.render() + "\n")
        return TextFamilyReport(model: shape.name, pixels: shape.pixels, rows: shape.rows, columns: shape.columns,
                                hidden: full.hiddenSize, layers: full.layers, heads: full.heads, kvHeads: full.kvHeads,
                                intermediate: full.intermediateSize, vocab: full.vocabSize, measuredLayers: layers,
                                context: context, layerBytes: w.layerBytes / layers, headBytes: w.output.byteCount, points: points)
    }

    /// Per-image estimates: every pass of the schedule priced from the measured points (CFG doubles each
    /// query: the conditional and the unconditional sequence).
    func imageRows(_ shape: TextFamilyShape, _ m: TextFamilyReport, policies: [WindowPolicy], bandwidth: Double,
                   kernelRate: Double) -> [TextImageRow] {
        let layerParams = Double(m.layerBytes) / 2, headParams = Double(m.headBytes) / 2   // f16: 2 bytes a weight
        let layerCurve = m.points.map { (Double($0.queries), $0.layerMs) }
        let headCurve = m.points.map { (Double($0.queries), $0.headMs) }
        let gatherCurve = m.points.map { (Double($0.queries), $0.gatherMs) }
        var rows: [TextImageRow] = []
        for cfg in [false, true] {
            for policy in policies {
                guard let schedule = shape.schedule(policy) else {
                    emit("   \(policy): no pass schedule for this policy on \(shape.name)'s layout; skipped")
                    continue
                }
                let twins = cfg ? 2.0 : 1.0
                var ms = 0.0, bytes = 0.0, flops = 0.0, queries = 0.0
                for p in schedule {
                    let all = Double(p.sampled + p.kvOnly) * twins, sampled = Double(p.sampled) * twins
                    ms += interpolate(layerCurve, all) * Double(m.layers) + interpolate(gatherCurve, all)
                        + (sampled > 0 ? interpolate(headCurve, sampled) : 0)
                    bytes += Double(m.layerBytes * m.layers) + (sampled > 0 ? Double(m.headBytes) : 0)
                    flops += 2 * (all * layerParams * Double(m.layers) + sampled * headParams)
                    queries += all
                }
                rows.append(TextImageRow(model: m.model, policy: policy.description, cfg: cfg, passes: schedule.count,
                                         meanQueriesPerPass: queries / Double(schedule.count), secondsPerImage: ms / 1e3,
                                         speedupVsNTP: nil,
                                         bytesPerPass: bytes / Double(schedule.count), bytesFloorSeconds: bytes / bandwidth,
                                         flopFloorSeconds: flops / kernelRate, measuredLayers: m.measuredLayers,
                                         extrapolatedLayers: m.layers))
            }
        }
        for (i, r) in rows.enumerated() {
            if let ntp = rows.first(where: { $0.policy == "ntp" && $0.cfg == r.cfg }) { rows[i].speedupVsNTP = ntp.secondsPerImage / r.secondsPerImage }
        }
        return rows
    }

    func emitImageTable(_ rows: [TextImageRow], measuredLayers: Int) {
        var t = Table("model", "policy", "cfg", "passes", "queries/pass", "GB/pass", "est. s/image", "est. min", "x vs ntp",
                      "bytes floor s", "FLOP floor s")
        for r in rows {
            t.add([r.model, r.policy, r.cfg ? "on" : "off", "\(r.passes)", f(r.meanQueriesPerPass, 1), f(r.bytesPerPass / 1e9, 2),
                   f(r.secondsPerImage, 0), f(r.secondsPerImage / 60, 1), r.speedupVsNTP.map { f($0, 2) + "x" } ?? "-",
                   f(r.bytesFloorSeconds, 0), f(r.flopFloorSeconds, 0)])
        }
        emit("per image, f16 weights, \(KernelRuntime.threads) threads, one image at a time. EXTRAPOLATED: every pass of the schedule is priced")
        emit("from \(measuredLayers) measured random layers x the model's depth + the measured head, at the mean context; not a run of")
        emit("the whole model. cfg on: every query runs twice (conditional + unconditional). VQ decoding not included.")
        emit("GB/pass = weight bytes a pass streams; bytes floor = the image's bytes at the measured bandwidth; FLOP floor = its")
        emit("FLOPs (2 per weight per query) at the kernel's in-cache rate:")
        emit(t.render() + "\n")
    }
}

/// Piecewise-linear in the number of queries through the measured points, extended along the last segment
/// past the largest count measured.
func interpolate(_ points: [(Double, Double)], _ x: Double) -> Double {
    guard let first = points.first else { return .nan }
    if points.count == 1 || x <= first.0 { return first.1 }
    for k in 1..<points.count where x <= points[k].0 || k == points.count - 1 {
        let (x0, y0) = points[k - 1], (x1, y1) = points[k]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
    return first.1
}
