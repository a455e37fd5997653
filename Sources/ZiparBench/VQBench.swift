import Foundation
import Kernels
import Model

/// VQ decoder results, as written to `--json`.
struct VQPoint: Codable {
    var grid: Int; var pixels: Int; var gflop: Double
    var seconds: Double; var gflops: Double
    var torchSeconds: Double?; var speedup: Double?
    var peakRSS: Int?; var torchPeakRSS: Int?
    /// The convolution mode ("tuned", or one algorithm forced) and the weights' bytes.
    var algorithm: String?; var weightBytes: Int?
    /// The first decode, which plans every layer (measures, or reads the plan cache).
    var firstDecodeSeconds: Double?
}
/// One planned layer shape: the algorithm chosen and each candidate's time on the measured crop.
struct PlanPoint: Codable {
    var shape: String; var algorithm: String; var source: String
    var milliseconds: [String: Double]; var errors: [String: Double]
}
struct VQReport: Codable { var config: String; var weightBytes: Int; var points: [VQPoint] = []; var plans: [PlanPoint] = [] }

/// The official VQ-16 tokenizer decoder (codebook 16384 x 8, z 256, ch 128, ch_mult [1,1,2,2,4], 2 res blocks).
func vq16Config(grid: Int) -> VQConfig {
    VQConfig(codebookSize: 16384, imageSize: grid * 16)
}

extension ZiparBench {
    func vqBench(grids: [Int], repeats: Int, torch: Bool, modes: [ConvPlanner.Mode]) -> VQReport {
        let seed: UInt64 = 1
        emit("== VQ-16 decoder (codebook 16384, embed 8, z 256, ch 128, ch_mult [1,1,2,2,4], 2 res blocks), random weights (tools/vq_random.py)")
        emit("\(CPUInfo.modelName); \(KernelRuntime.describe())")
        let planner = ConvPlanner.shared
        let savedMode = planner.mode
        defer { planner.mode = savedMode }
        var report = VQReport(config: "VQ-16", weightBytes: 0)
        var t = Table("image", "convolutions", "GFLOP", "ours s", "GFLOP/s", "torch s", "speed-up", "weights", "ours peak RSS", "torch peak RSS")
        for grid in grids {
            let tokens = VQRandom.tokens(codebookSize: 16384, count: grid * grid, seed: seed)
            var points: [VQPoint] = []
            for mode in modes {
                planner.mode = mode
                // A fresh decoder per mode: a layer keeps the packing its first call chose.
                let decoder = VQDecoder(randomFor: vq16Config(grid: grid), seed: seed)
                let gflop = decoder.flops(grid: grid) / 1e9
                let tuneStart = Date()
                _ = try! decoder.decode(tokens: tokens, grid: grid)     // plans every layer (measured or from the cache)
                let firstSeconds = Date().timeIntervalSince(tuneStart)
                let s = timed(repeats: repeats) { _ = try! decoder.decode(tokens: tokens, grid: grid) }
                var p = VQPoint(grid: grid, pixels: grid * 16, gflop: gflop, seconds: s, gflops: gflop / s)
                p.algorithm = "\(mode)"; p.weightBytes = decoder.weightBytes; p.firstDecodeSeconds = firstSeconds
                report.weightBytes = max(report.weightBytes, decoder.weightBytes)
                p.peakRSS = spawnVQRSSProbe(grid: grid, mode: mode)
                points.append(p)
                if mode == .tuned { report.plans += planTable(grid: grid) }
            }
            let tr = torch ? torchVQ(grid: grid, repeats: repeats) : nil
            if let tr { emit("PyTorch VQ at \(grid)x\(grid): ISA \(tr.capability ?? "?") (ATEN_CPU_CAPABILITY=\(ProcessInfo.processInfo.environment["ATEN_CPU_CAPABILITY"] ?? "unset"), ONEDNN_MAX_CPU_ISA=\(ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"] ?? "unset"))") }
            for var p in points {
                if let tr { p.torchSeconds = tr.seconds; p.torchPeakRSS = tr.peak_rss; p.speedup = tr.seconds / p.seconds }
                report.points.append(p)
                t.add(["\(p.pixels) px (\(grid)x\(grid))", p.algorithm ?? "-", f(p.gflop, 0), f(p.seconds, 3), f(p.gflops, 0),
                       p.torchSeconds.map { f($0, 3) } ?? "-", p.speedup.map { f($0, 2) + "x" } ?? "-", p.weightBytes.map(mb) ?? "-",
                       p.peakRSS.map(mb) ?? "-", p.torchPeakRSS.map(mb) ?? "-"])
            }
        }
        emit("VQ decode of one image, fastest of \(repeats) after a first decode (which plans the layers), \(KernelRuntime.instructionSet), \(KernelRuntime.threads) threads;")
        emit("convolutions: tuned = measured per layer on this machine (table above), else one algorithm forced (ZK_CONV_ALGO);")
        emit("GFLOP/s count the direct FLOPs; peak RSS: a fresh process that builds the decoder and decodes one image:")
        emit(t.render() + "\n")
        return report
    }

    /// The planner's choices for the layers one decode used, with each candidate's time relative to the chosen one.
    func planTable(grid: Int) -> [PlanPoint] {
        var t = Table("layer", "chosen", "source", "GFLOP/s", "direct", "winograd2x2", "winograd4x4", "gemm", "worst error")
        var out: [PlanPoint] = []
        for (shape, c) in ConvPlanner.shared.planned {
            let best = c.seconds[c.algorithm.rawValue]
            // Measured on a crop: GFLOP/s from the crop's FLOPs (same width, fewer rows).
            let cropFlops = shape.flops * Double(ConvPlanner.shared.measuredRows(shape)) / Double(shape.height)
            func cell(_ a: ConvAlgorithm) -> String {
                guard let s = c.seconds[a.rawValue], let b = best else { return "-" }
                return f(s * 1e3, 2) + " ms (" + f(s / b, 2) + "x)"
            }
            t.add(["\(shape)", c.algorithm.rawValue, c.source, best.map { f(cropFlops / $0 / 1e9, 0) } ?? "-",
                   cell(.direct), cell(.winograd2x2), cell(.winograd4x4), cell(.gemm),
                   c.errors.values.max().map { String(format: "%.1e", $0) } ?? "-"])
            out.append(PlanPoint(shape: "\(shape)", algorithm: c.algorithm.rawValue, source: c.source,
                                 milliseconds: c.seconds.mapValues { $0 * 1e3 }, errors: c.errors))
        }
        emit("convolution plan for a \(grid)x\(grid) grid (\(KernelRuntime.instructionSet), \(KernelRuntime.threads) threads, OpenBLAS \(KernelRuntime.blasCore));")
        emit("times on the planner's crop of <= \(ConvPlanner.shared.maxMeasuredPositions) output positions, x the chosen one; error vs direct, relative to max |y|:")
        emit(t.render() + "\n")
        return out
    }

    struct TorchVQOut: Codable { var seconds: Double; var peak_rss: Int; var pixels_sum: Double; var capability: String? }

    func torchVQ(grid: Int, repeats: Int) -> TorchVQOut? {
        guard let script = findTool("bench/bench_vq_torch.py") else { emit("torch VQ: skipped: tools/bench/bench_vq_torch.py not found"); return nil }
        let check = shell([python, "-c", "import torch"])
        guard check.status == 0 else { emit("torch VQ: skipped: torch not installed"); return nil }
        let res = shell([python, script, "--threads", "\(KernelRuntime.threads)", "--grid", "\(grid)", "--repeats", "\(repeats)", "--json", "-"])
        guard res.status == 0, let line = res.out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let r = try? JSONDecoder().decode(TorchVQOut.self, from: Data(line.utf8)) else {
            emit("torch VQ: failed (status \(res.status)): \(res.err.suffix(300))"); return nil
        }
        return r
    }

    func spawnVQRSSProbe(grid: Int, mode: ConvPlanner.Mode) -> Int? {
        let exe = currentExecutable()
        var args = ["ZK_CONV_ALGO=\(mode)", exe, "--vq-rss-probe", "\(grid)"]
        if let threads { args += ["--threads", "\(threads)"] }
        let res = shell(args)
        guard res.status == 0, let line = res.out.split(separator: "\n").last(where: { $0.hasPrefix("vq-rss ") }),
              let v = Int(line.dropFirst("vq-rss ".count)) else {
            emit("VQ RSS probe failed: \(res.err.suffix(300))"); return nil
        }
        return v
    }

    func runVQRSSProbe(grid: Int) {
        let decoder = VQDecoder(randomFor: vq16Config(grid: grid), seed: 1)
        _ = try! decoder.decode(tokens: VQRandom.tokens(codebookSize: 16384, count: grid * grid, seed: 1), grid: grid)
        emit("vq-rss \(procStatus("VmHWM") ?? 0)")
    }

    func findTool(_ name: String) -> String? {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            let p = dir.appendingPathComponent("tools/" + name).path
            if FileManager.default.fileExists(atPath: p) { return p }
            dir.deleteLastPathComponent()
        }
        return nil
    }
}
