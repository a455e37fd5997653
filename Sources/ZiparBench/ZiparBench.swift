import ArgumentParser
import CLISupport
import Decoding
import Foundation
import JobCore
import Kernels
import Model
import ModelCLI

@main
struct ZiparBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-bench",
        abstract: "Speed of the LlamaGen GPT forward pass and of ZipAR decoding on this machine.",
        discussion: """
        Measures this machine's streaming-read bandwidth, and from it the floor per pass (weight bytes /
        bandwidth). Then, per model: the matrix products alone against OpenBLAS (crossover), a sweep of
        pass time against the number of query tokens straight on the engine, and a table of policies
        (ntp, zipar:S, adaptive:SMIN) x batch (1, 8) x CFG (off, on) through the batch scheduler. Also the
        peak RSS of a worker with 8 jobs in flight, and, when torch is installed, tools/bench/bench_torch.py
        on the same threads. Build with -c release.
        """,
        version: ziparVersion)

    static func main() { mainAsTool() }

    @Option(help: "Bundled model directory (skipped when absent).")
    var model = "models/fashion-16"

    @Flag(help: "Also run random weights at the GPT-L shape on a 24x24 grid (slow).")
    var large = false

    @Option(help: "Models to run, comma separated: gpt-b, bundled, gpt-l (default: gpt-b,bundled, plus gpt-l with --large; with --e2e: gpt-b, gpt-l).")
    var only: CommaList<BenchModel>?

    @Flag(help: "Fast smoke run: few repeats, ntp and zipar:8 only, no CFG rows, no torch, no RSS probe.")
    var quick = false

    @Option(help: "Write every result as JSON to this file.")
    var json: String?

    @Option(help: "Weight storages to measure, comma separated (f32, f16, int8; 'both' is the deprecated spelling of f32,f16).")
    var storage = StorageList.all

    @Option(help: "Kernel threads (default: all online cores).")
    var threads: Int?

    @Option(help: "Policies for the table, comma separated (ntp, zipar:S, adaptive:SMIN).")
    var policies = CommaList<WindowPolicy>([.ntp, .zipar(window: 8), .zipar(window: 4), .adaptive(minWindow: 4)])

    @Option(help: "Policies of the --e2e table, comma separated; official:S is ZipAR on the official code's schedule, the one the official scripts run, so it is the like-for-like row.")
    var e2ePolicies = CommaList<WindowPolicy>([.ntp, .official(window: 8), .official(window: 4), .zipar(window: 4)])

    @Option(help: "Batch sizes (jobs in flight) for the table, comma separated.")
    var batches = CommaList([1, 8])

    @Option(help: "Guidance scale of the 'cfg on' rows.")
    var cfgScale: Float = 4

    @Option(help: "Rounds of the policy table (default 2, 1 with --quick) and of the --e2e batch-1 cells, ours and the official scripts' (default 2); every cell reports its fastest round, so one disturbed run does not skew a ratio.")
    var rounds: Int?

    @Flag(help: "Skip the policy table (kernels, sweep and floor only).")
    var kernelsOnly = false

    @Flag(help: "Skip the PyTorch side-by-side.")
    var noTorch = false

    @Option(help: "The PyTorch reference script (default: tools/bench/bench_torch.py, found from the working directory up).")
    var torchScript: String?

    @Option(help: "Python interpreter for the side-by-side.")
    var python = "python3"

    @Option(help: .hidden)
    var rssProbe: WeightStorage?

    @Flag(help: "Only the VQ decoder section (VQ-16: the convolution plan per layer, decode time per --vq-convolutions mode, torch side-by-side, RSS).")
    var vqOnly = false

    @Option(help: "Token grids of the VQ section, comma separated (16 = 256 px, 24 = 384 px).")
    var vqGrids = CommaList([16])

    @Option(help: "Convolution modes the VQ section decodes with, comma separated: tuned (measured per layer), heuristic, direct, winograd2x2, winograd4x4, gemm.")
    var vqConvolutions = CommaList<ConvModeArgument>([ConvModeArgument(mode: .tuned)])

    @Option(help: .hidden)
    var vqRssProbe: Int?

    @Flag(help: "Only the end-to-end table: GPT + VQ + PNG per image (GPT-B + VQ-16 256 px; with --large also GPT-L + VQ-16 384 px), --storage x --e2e-policies x CFG off/on x --batches, beside the official LlamaGen/ZipAR scripts (tools/bench/bench_official.py, when ZIPAR_REPO names a checkout of the ZipAR repository; else our PyTorch code).")
    var e2e = false

    @Flag(help: "Only the text-to-image families at their real sizes (Lumina-mGPT-7B 768 px, Emu3-Gen-8B 720 px; Janus-Pro-1B / 7B 384 px with --text-models): passes of --text-layers random f16 layers and the full head, extrapolated to per-image seconds for --text-policies with and without CFG.")
    var text = false

    @Option(help: "Families of --text, comma separated (lumina, emu3, janus-pro-1b, janus-pro-7b).")
    var textModels = CommaList<TextFamily>([.lumina, .emu3])

    @Option(help: "Layers --text builds and times (the per-image figures extrapolate them to the model's depth: 32, Janus-Pro 24 / 30).")
    var textLayers = 2

    @Option(help: "Policies of the --text table, comma separated: ntp, zipar:S, official:S (the authors' Lumina loop; official:16 is Lumina-mGPT's default).")
    var textPolicies = CommaList<WindowPolicy>([.ntp, .zipar(window: 16), .zipar(window: 8), .zipar(window: 4), .official(window: 16)])

    @Flag(help: "Only the Jacobi table: do sjd:K / zipar-sjd:S,K windows pay on this CPU? Acceptance (query tokens per pass) from the trained bundled model, pass cost at GPT-B 16x16 (and GPT-L 24x24 with --large or --only gpt-l) for each --storage, CFG off and on.")
    var jacobi = false

    @Option(help: "Policies of --jacobi, comma separated (zipar-sjd:S,K is written zipar-sjd:S/K here).")
    var jacobiPolicies = CommaList<WindowPolicy>([.ntp, .zipar(window: 4), .sjd(jacobiWindow: 4), .sjd(jacobiWindow: 8), .ziparSJD(window: 8, jacobiWindow: 4), .ziparSJD(window: 4, jacobiWindow: 4)])

    @Option(help: "Images per policy and CFG setting that --jacobi decodes on the bundled model.")
    var jacobiImages = 20

    @Option(help: "Instruction sets to measure, comma separated (scalar, avx2, avx2-vnni, avx512; avx2 is plain AVX2 as on Haswell to Zen 3, avx2-vnni adds AVX-VNNI int8 products where the CPU has them): one run per ISA, each in a fresh process with our kernels (ZK_ISA), OpenBLAS (OPENBLAS_CORETYPE) and PyTorch (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA) capped alike, so an AVX-512 machine prints the AVX2 tables too. Default: the CPU's own, in this process.")
    var isa: CommaList<ISAName>?

    @OptionGroup var log: LogOptions

    @Flag(help: .hidden)
    var torchOnly = false

    mutating func run() throws {
        if let isa {
            let status = InstructionSetRuns.run(isas: isa.values.map(\.rawValue))
            if status != 0 { throw ExitCode(status) }
            return
        }
        if let t = threads { KernelRuntime.threads = t }
        if let probe = rssProbe { try runRSSProbe(storage: probe); return }
        if let g = vqRssProbe { runVQRSSProbe(grid: g); return }
        if torchOnly {
            _ = torchSideBySide(BenchReport(machine: MachineInfo.current(), bandwidthOneThread: 0, bandwidthAllThreads: 0, bandwidth: 0, peakFlops: 0))
            return
        }
        if storage.deprecatedBoth { warnDeprecated("--storage both", use: "--storage f32,f16") }
        let storages = storage.values
        let policyList = quick ? [.ntp, .zipar(window: 8)] : policies.values
        let batchList = batches.values
        let cfgList = quick ? [false] : [false, true]
        let repeats = quick ? 3 : 9

        let machine = MachineInfo.current()
        emit("zipar-bench  \(machine.cpu), \(machine.cores) cores, \(machine.kernelThreads) kernel threads, \(machine.instructionSet), load \(machine.loadAverage)")
        emit("runtime: \(KernelRuntime.describe()); CPU reports \(KernelRuntime.supportedInstructionSet); convolutions \(ConvPlanner.shared.mode)"
             + (KernelRuntime.blasCoreIsModern ? "" : " -- MISMATCH: OpenBLAS runs a fallback core (hot paths: own kernels)"))
        if text {
            try runTextBench(families: textModels.values, measuredLayers: max(textLayers, 1), policies: textPolicies.values,
                             queryCounts: quick ? [1, 4, 16, 48] : [1, 2, 4, 8, 16, 32, 48], rounds: max(1, rounds ?? (quick ? 2 : 5)))
            return
        }
        if jacobi {
            let picked = only?.values ?? (large ? [.gptB, .gptL] : [.gptB])
            let shapes = (picked.contains(.gptB) ? [("GPT-B", 16)] : []) + (picked.contains(.gptL) ? [("GPT-L", 24)] : [])
            let bw = KernelRuntime.readBandwidth(megabytes: 256, repeats: 3)
            let rows = try jacobiBench(bundled: model, policies: jacobiPolicies.values, storages: storage.values, shapes: shapes,
                                       cfgScale: cfgScale, images: quick ? 4 : jacobiImages, repeats: quick ? 2 : 5,
                                       bandwidth: bw, flops: KernelRuntime.peakFlops() ?? 257e9)
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try enc.encode(rows).write(to: URL(fileURLWithPath: json))
            }
            return
        }
        if e2e {
            let peak = KernelRuntime.peakFlops() ?? 257e9
            // --only picks the shapes (gpt-b, gpt-l); without it GPT-B, plus GPT-L with --large.
            let picked = only?.values ?? (large ? [.gptB, .gptL] : [.gptB])
            let shapes = (picked.contains(.gptB) ? [("GPT-B", 16)] : []) + (picked.contains(.gptL) ? [("GPT-L", 24)] : [])
            guard !shapes.isEmpty else { throw ValidationError("--e2e runs gpt-b and/or gpt-l (--only)") }
            let rows = try e2eBench(storages: storage.values, policies: e2ePolicies.values, batches: batches.values, shapes: shapes,
                                    peak: peak, torch: !noTorch, rounds: rounds ?? 2)
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try enc.encode(rows).write(to: URL(fileURLWithPath: json))
            }
            return
        }
        if vqOnly {
            let vq = vqBench(grids: vqGrids.values, repeats: quick ? 2 : 3, torch: !noTorch, modes: vqConvolutions.values.map(\.mode))
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try enc.encode(vq).write(to: URL(fileURLWithPath: json))
            }
            return
        }
        let bw1 = KernelRuntime.readBandwidth(megabytes: quick ? 256 : 512, repeats: quick ? 3 : 7, threads: 1)
        let bwAll = KernelRuntime.readBandwidth(megabytes: quick ? 256 : 512, repeats: quick ? 3 : 7)
        // The floor uses the best rate any thread count reached (under background load one thread
        // can beat two).
        let bw = max(bw1, bwAll)
        emit(String(format: "streaming read: %.1f GB/s with 1 thread, %.1f GB/s with %d threads; floor uses %.1f GB/s\n",
                   bw1 / 1e9, bwAll / 1e9, KernelRuntime.threads, bw / 1e9))
        let peak = KernelRuntime.peakFlops() ?? .nan
        var kernelRate: [WeightStorage: Double] = [:]
        for st in storages { kernelRate[st] = inCacheKernelRate(storage: st, rows: 16) }
        emit(String(format: "multiply-add rate, %d threads: %.0f GFLOP/s peak (FMA loop); the matmul kernel, weights in cache, 16 rows: %@",
                   KernelRuntime.threads, peak / 1e9,
                   storages.map { String(format: "%.0f GFLOP/s %@", kernelRate[$0]! / 1e9, $0.rawValue) }.joined(separator: ", ")))
        emit("(a pass at n queries does 2 x n FLOPs per weight; its compute floor below uses the kernel's rate)\n")
        let flops = peak
        var report = BenchReport(machine: machine, bandwidthOneThread: bw1, bandwidthAllThreads: bwAll, bandwidth: bw,
                                 peakFlops: flops, kernelFlops: Dictionary(uniqueKeysWithValues: kernelRate.map { ($0.key.rawValue, $0.value) }))

        // Models: GPT-B random (default), the bundled model when present, GPT-L random with --large.
        var models: [(String, () throws -> GPTModel?, WeightStorage)] = []
        let chosen = Set(only?.values ?? (large ? [.gptB, .bundled, .gptL] : [.gptB, .bundled]))
        for s in storages where chosen.contains(.gptB) {
            models.append(("GPT-B random 16x16", { GPTModel(config: GPTConfig.official("GPT-B", grid: 16)!, weights: .randomLlamaGen(GPTConfig.official("GPT-B", grid: 16)!, seed: 1, storage: s)) }, s))
        }
        for s in storages where chosen.contains(.bundled) {
            let dir = model
            models.append(("bundled \(URL(fileURLWithPath: dir).lastPathComponent)", {
                guard FileManager.default.fileExists(atPath: dir + "/config.json"),
                      FileManager.default.fileExists(atPath: dir + "/gpt.safetensors") else { return nil }
                return try ModelBundle(directory: dir, storage: s).gpt
            }, s))
        }
        if chosen.contains(.gptL) {
            for s in storages {
                models.append(("GPT-L random 24x24", { GPTModel(config: GPTConfig.official("GPT-L", grid: 24)!, weights: .randomLlamaGen(GPTConfig.official("GPT-L", grid: 24)!, seed: 2, storage: s)) }, s))
            }
        }

        for (name, load, s) in models {
            guard let m = try load() else {
                emit("== \(name) [\(s)]: skipped: \(model) not found (no config.json / gpt.safetensors)\n")
                continue
            }
            let isB = name.hasPrefix("GPT-B")
            var r = ModelReport(name: name, storage: s.rawValue, parameters: m.weights.parameterCount,
                                streamedBytes: m.weights.streamedBytes,
                                streamedParameters: streamedParameters(m.weights), imageTokens: m.config.imageTokens,
                                floorMs: Double(m.weights.streamedBytes) / bw * 1e3)
            emit("== \(name) [\(s)]: \(f(Double(r.parameters) / 1e6)) M parameters, \(mb(r.streamedBytes)) streamed per pass, floor \(f(r.floorMs, 2)) ms/pass")

            if isB {
                r.matmul = matmulSweep(m.weights, rowsList: quick ? [1, 8, 16, 64] : [1, 2, 4, 8, 12, 16, 24, 32, 48, 64],
                                       repeats: repeats, bandwidth: bw)
                r.crossoverRows = crossover(r.matmul)
                var cross = KernelRuntime.blasCrossover
                switch s {
                case .f32: cross.f32 = r.crossoverRows
                case .f16: cross.f16 = r.crossoverRows
                case .int8: KernelRuntime.blasCrossoverInt8 = r.crossoverRows
                }
                KernelRuntime.blasCrossover = cross
                var t = Table("rows", "kernel ms", "OpenBLAS ms", "kernel/floor", "faster")
                for p in r.matmul {
                    t.add(["\(p.rows)", f(p.kernelMs, 2), f(p.blasMs, 2), f(p.kernelOverFloor, 2), p.kernelMs <= p.blasMs ? "kernel" : "OpenBLAS"])
                }
                emit("matrix products of one pass (all \(passMatrices(m.weights).count) matrices; fastest of \(repeats)):")
                emit(t.render())
                emit("OpenBLAS crossover: \(r.crossoverRows.map { "from \($0) rows" } ?? "none up to \(r.matmul.last!.rows) rows (kernel always)")\n")
            }

            let sweep = engineSweep(m, queryCounts: quick ? [1, 8, 16] : [1, 2, 4, 8, 16, 32, 64], repeats: repeats,
                                    bandwidth: bw, flops: kernelRate[s] ?? flops)
            r.sweep = sweep.points
            r.sweepFloorMs = Double(m.weights.streamedBytes) / sweep.bandwidth * 1e3
            var t = Table("queries", "one image ms", "x 1 query", "x floor", "compute floor ms", "16 images ms", "x 1 query")
            for p in r.sweep {
                t.add(["\(p.queries)", f(p.msPerPass, 2), f(p.overOneQuery, 2), f(p.overFloor, 2), f(p.computeFloorMs, 2),
                       f(p.spreadMsPerPass, 2), f(p.spreadOverOneQuery, 2)])
            }
            emit("forward pass vs query tokens (DecoderEngine, fastest of \(repeats) rounds; one image = ZipAR rows sharing a KV cache, 16 images = a batch;")
            emit("x floor = against the memory floor; compute floor = the pass's FLOPs at the kernel's in-cache rate):")
            emit(t.render())
            emit(String(format: "x floor: each round's pass against the streaming read measured just before that round, median of the rounds;"
                        + " reads %.1f GB/s (median; start of run %.1f), floor %.2f ms/pass\n", sweep.bandwidth / 1e9, bw / 1e9, r.sweepFloorMs!))
            var st = Table("queries", "matmul ms", "attention ms", "head ms", "other ms", "total ms")
            for p in r.sweep {
                st.add(["\(p.queries)", f(p.stages.matmul, 2), f(p.stages.attention, 2), f(p.stages.head, 2), f(p.stages.other, 2),
                        f(p.stages.matmul + p.stages.attention + p.stages.head + p.stages.other, 2)])
            }
            emit("where a one-image pass spends its time (DecoderEngine.profile; timing adds a few us):")
            emit(st.render() + "\n")

            if !kernelsOnly {
                r.policies = try policyTable(m, policies: policyList, batches: batchList, cfgs: cfgList, floorMs: r.floorMs,
                                             rounds: max(1, rounds ?? (quick ? 1 : 2)))
            }
            report.models.append(r)
        }

        let withB = chosen.contains(.gptB)
        if !quick && !noTorch && !kernelsOnly && storages.contains(.f32) && withB {
            report.torch = torchSideBySide(report)
        } else {
            emit("torch side-by-side: skipped (\(quick ? "--quick" : noTorch ? "--no-torch" : kernelsOnly ? "--kernels-only" : !withB ? "needs gpt-b" : "needs f32"))\n")
        }
        if !quick && withB {
            for s in storages {
                if let probe = spawnRSSProbe(storage: s) { report.rss.append(probe) }
            }
            if !report.rss.isEmpty {
                var t = Table("storage", "jobs", "weights", "KV caches", "peak RSS", "RSS/weights")
                for p in report.rss { t.add([p.storage, "\(p.jobs)", mb(p.weightBytes), mb(p.cacheBytes), mb(p.peakRSS), f(p.overWeights, 2)]) }
                emit("peak memory of a worker, GPT-B 16x16, 8 jobs with CFG in flight:")
                emit(t.render() + "\n")
            }
        }

        report.targets = evaluateTargets(report)
        var tt = Table("target", "measured", "met")
        for c in report.targets { tt.add([c.target, c.value, c.met.map { $0 ? "yes" : "NO" } ?? "-"]) }
        emit("targets (issue 6):")
        emit(tt.render())

        if let json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(report).write(to: URL(fileURLWithPath: json))
            emit("\nwrote \(json)")
        }
    }

    func policyTable(_ m: GPTModel, policies: [WindowPolicy], batches: [Int], cfgs: [Bool], floorMs: Double,
                     rounds: Int) throws -> [PolicyRow] {
        // Every cell `rounds` times, round after round, keeping each cell's fastest run.
        struct Cell: Hashable { var cfg: Bool; var batch: Int; var policy: Int }
        var best: [Cell: PolicyRun] = [:]
        for _ in 0..<rounds {
            for cfg in cfgs {
                for batch in batches {
                    for (i, p) in policies.enumerated() {
                        let run = try runPolicy(m, policy: p, batch: batch, cfgScale: cfg ? cfgScale : 1, seed: 7)
                        let cell = Cell(cfg: cfg, batch: batch, policy: i)
                        if let old = best[cell], old.wall <= run.wall { continue }
                        best[cell] = run
                    }
                }
            }
        }
        var rows: [PolicyRow] = []
        var t = Table("policy", "batch", "cfg", "passes", "passes/img", "s/image", "ms/pass", "outside", "x floor", "steps -", "latency -", "lat/steps", "images/s")
        for cfg in cfgs {
            for batch in batches {
                let ntp = policies.firstIndex { if case .ntp = $0 { return true } else { return false } }
                    .flatMap { best[Cell(cfg: cfg, batch: batch, policy: $0)] }
                for (i, p) in policies.enumerated() {
                    guard let run = best[Cell(cfg: cfg, batch: batch, policy: i)] else { continue }
                    let msPerPass = run.wall / Double(run.passes) * 1e3
                    let stepCut = ntp.map { 1 - run.passesPerImage / $0.passesPerImage } ?? .nan
                    let latCut = ntp.map { 1 - run.latency / $0.latency } ?? .nan
                    let row = PolicyRow(policy: p.description, batch: batch, cfg: cfg, passes: run.passes,
                                        passesPerImage: run.passesPerImage, secondsPerImage: run.latency,
                                        msPerPass: msPerPass, overFloor: msPerPass / floorMs,
                                        stepReduction: stepCut, latencyReduction: latCut,
                                        imagesPerSecond: Double(run.images) / run.wall,
                                        outsideMsPerPass: (run.wall - run.engineSeconds) / Double(run.passes) * 1e3)
                    rows.append(row)
                    t.add([row.policy, "\(batch)", cfg ? "\(f(Double(cfgScale)))" : "off", "\(row.passes)", f(row.passesPerImage, 0),
                           f(row.secondsPerImage, 2), f(row.msPerPass, 1), f(row.outsideMsPerPass, 2), f(row.overFloor, 2), pct(row.stepReduction),
                           pct(row.latencyReduction), f(row.latencyReduction / row.stepReduction, 2), f(row.imagesPerSecond, 2)])
                }
            }
        }
        emit("policies through the batch scheduler, fastest of \(rounds) round\(rounds == 1 ? "" : "s") per cell")
        emit("(s/image = mean latency of one image; outside = ms per pass spent outside the engine: sampling,")
        emit(" CFG, acceptance, scheduling; steps/latency - = reduction vs ntp):")
        emit(t.render() + "\n")
        return rows
    }

    // MARK: PyTorch side-by-side

    func findTorchScript() -> String? {
        if let torchScript { return FileManager.default.fileExists(atPath: torchScript) ? torchScript : nil }
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            let p = dir.appendingPathComponent("tools/bench/bench_torch.py").path
            if FileManager.default.fileExists(atPath: p) { return p }
            dir.deleteLastPathComponent()
        }
        return nil
    }

    func torchSideBySide(_ report: BenchReport) -> TorchReport {
        guard let script = findTorchScript() else {
            emit("torch side-by-side: skipped: tools/bench/bench_torch.py not found\n")
            return TorchReport(status: "skipped: tools/bench/bench_torch.py not found")
        }
        let check = shell([python, "-c", "import torch; print(torch.__version__)"])
        guard check.status == 0 else {
            emit("torch side-by-side: skipped: torch not installed (\(python) -c 'import torch' failed with status \(check.status): \(check.err.suffix(300)))\n")
            return TorchReport(status: "skipped: torch not installed")
        }
        emit("torch side-by-side: running \(script) (torch \(check.out.trimmingCharacters(in: .whitespacesAndNewlines)), \(KernelRuntime.threads) threads) ...")
        let res = shell([python, script, "--threads", "\(KernelRuntime.threads)", "--policies", "ntp,zipar:8", "--cfg", "1,\(cfgScale)", "--json", "-"])
        guard res.status == 0, let data = res.out.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map({ Data($0.utf8) }),
              let parsed = try? JSONDecoder().decode(TorchOut.self, from: data) else {
            emit("torch side-by-side: failed (status \(res.status)): \(res.err.suffix(400))\n")
            return TorchReport(status: "failed: \(res.err.suffix(200))")
        }
        var out = TorchReport(status: "ok", torchVersion: parsed.torch, threads: parsed.threads)
        let ours = report.models.first { $0.name.hasPrefix("GPT-B") && $0.storage == "f32" }
        var t = Table("policy", "cfg", "torch passes", "torch s/image", "ours f32 s/image", "speed-up", "ours f16 s/image", "speed-up")
        let oursF16 = report.models.first { $0.name.hasPrefix("GPT-B") && $0.storage == "f16" }
        for r in parsed.rows {
            let mine = ours?.policies.first { $0.policy == r.policy && $0.batch == 1 && $0.cfg == (r.cfg != 1) }
            let mine16 = oursF16?.policies.first { $0.policy == r.policy && $0.batch == 1 && $0.cfg == (r.cfg != 1) }
            let row = TorchRow(policy: r.policy, cfg: r.cfg != 1, passes: r.passes, secondsPerImage: r.seconds,
                               oursSecondsPerImage: mine?.secondsPerImage, speedup: mine.map { r.seconds / $0.secondsPerImage })
            out.rows.append(row)
            t.add([r.policy, r.cfg != 1 ? "on" : "off", "\(r.passes)", f(r.seconds, 2), mine.map { f($0.secondsPerImage, 2) } ?? "-",
                   row.speedup.map { f($0, 1) + "x" } ?? "-", mine16.map { f($0.secondsPerImage, 2) } ?? "-",
                   mine16.map { f(r.seconds / $0.secondsPerImage, 1) + "x" } ?? "-"])
        }
        emit("GPT-B 16x16 random weights, batch 1, fp32 torch (tools/bench/bench_torch.py) vs ours:")
        emit(t.render())
        emit("(for reference, the official LlamaGen/ZipAR scripts as measured on a 2-core machine of this kind, 2 threads:")
        emit(" ntp 9.4 s (cfg off) / 15.0 s (cfg 2); zipar window 8, 144 passes, 7.6 s / 8.3 s; see docs/speed.md)\n")
        return out
    }

    struct TorchOut: Codable {
        struct Row: Codable { var policy: String; var cfg: Double; var passes: Int; var seconds: Double }
        var torch: String; var threads: Int; var rows: [Row]
    }

    // MARK: peak RSS in a fresh process

    func spawnRSSProbe(storage: WeightStorage) -> RSSReport? {
        var args = [currentExecutable(), "--rss-probe", storage.rawValue]
        if let threads { args += ["--threads", "\(threads)"] }
        let res = shell(args)
        guard res.status == 0, let line = res.out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let r = try? JSONDecoder().decode(RSSReport.self, from: Data(line.utf8)) else {
            emit("RSS probe (\(storage)) failed: \(res.err.suffix(300))")
            return nil
        }
        return r
    }

    func runRSSProbe(storage s: WeightStorage) throws {
        let c = GPTConfig.official("GPT-B", grid: 16)!
        let m = GPTModel(config: c, weights: .randomLlamaGen(c, seed: 1, storage: s))
        let jobs = 8
        let scheduler = BatchScheduler(model: m, batch: jobs, maxQueries: 64)
        let requests = (0..<jobs).map { GenerationRequest(id: "rss-\($0)", classLabel: $0, policy: .zipar(window: 4),
                                                          sampling: SamplingParams(cfgScale: 4), seed: UInt64($0)) }
        _ = try scheduler.run(requests)
        let weights = modelBytes(m.weights)
        let peak = procStatus("VmHWM") ?? 0
        let r = RSSReport(storage: s.rawValue, jobs: jobs, weightBytes: weights, cacheBytes: scheduler.engine.cacheBytes,
                          peakRSS: peak, overWeights: Double(peak) / Double(weights))
        emit(String(data: try JSONEncoder().encode(r), encoding: .utf8)!)
    }
}

/// Runs a command to completion, capturing its output (stderr through a file, so neither pipe can fill up).
/// This executable's path, for the probes and per-ISA runs that re-run it in a fresh process.
func currentExecutable() -> String {
    var exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    // Rebuilt while running: the link reads "... (deleted)"; the new binary sits at the same path.
    if exe.hasSuffix(" (deleted)") { exe.removeLast(" (deleted)".count) }
    return exe
}

func shell(_ args: [String]) -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    let errPath = NSTemporaryDirectory() + "zipar-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).err"
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)   // failure shows up as a nil handle below
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    guard let errHandle = FileHandle(forWritingAtPath: errPath) else { return (-1, "", "cannot create \(errPath)") }
    p.standardOutput = out
    p.standardError = errHandle
    do { try p.run() } catch { return (-1, "", "\(error)") }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    try? errHandle.close()
    let e = FileManager.default.contents(atPath: errPath) ?? Data()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// `--storage`: the weight storages to measure. `both` still reads as f32,f16 for one release.
struct StorageList: ExpressibleByArgument {
    var values: [WeightStorage]
    var deprecatedBoth = false
    static let all = StorageList(values: [.f32, .f16])
    init(values: [WeightStorage]) { self.values = values }
    init?(argument: String) {
        if argument == "both" { self.init(values: [.f32, .f16]); deprecatedBoth = true; return }
        guard let list = CommaList<WeightStorage>(argument: argument) else { return nil }
        self.init(values: list.values)
    }
    var defaultValueDescription: String { values.map(\.rawValue).joined(separator: ",") }
}

/// `--only`: which models to run.
enum BenchModel: String, CaseIterable, ExpressibleByArgument {
    case gptB = "gpt-b", bundled, gptL = "gpt-l"
}

extension ZiparBench: LogConfigurable { var logOptions: LogOptions { log } }
