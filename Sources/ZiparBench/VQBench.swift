import Foundation
import Kernels
import Model

/// VQ decoder results, as written to `--json`.
struct VQPoint: Codable {
    var grid: Int; var pixels: Int; var gflop: Double
    var seconds: Double; var gflops: Double
    var torchSeconds: Double?; var speedup: Double?
    var peakRSS: Int?; var torchPeakRSS: Int?
    /// The 3x3 convolutions' algorithm ("auto", "direct", "Winograd 2x2", "Winograd 4x4") and the weights' bytes.
    var algorithm: String?; var weightBytes: Int?
}
struct ConvPoint: Codable {
    var shape: String; var directMs: Double; var im2colMs: Double; var directGflops: Double; var im2colGflops: Double
    /// Winograd F(2x2, 3x3) and F(4x4, 3x3) on the same layer (GFLOP/s below count the direct FLOPs).
    var winograd2Ms: Double; var winograd4Ms: Double
}
struct VQReport: Codable { var config: String; var weightBytes: Int; var points: [VQPoint] = []; var convs: [ConvPoint] = [] }

/// The official VQ-16 tokenizer decoder (codebook 16384 x 8, z 256, ch 128, ch_mult [1,1,2,2,4], 2 res blocks).
func vq16Config(grid: Int) -> VQConfig {
    VQConfig(codebookSize: 16384, imageSize: grid * 16)
}

/// One 3x3 convolution layer alone: direct kernel, Winograd F(2x2) and F(4x4), and the old im2col +
/// OpenBLAS sgemm (`ImageOps.conv2d`).
func convLayerPoint(channels: Int, outChannels: Int, side: Int, repeats: Int) -> ConvPoint {
    var rng = SplitMix(seed: 3)
    let x = (0..<(channels * side * side)).map { _ in rng.float() }
    let w = (0..<(outChannels * channels * 9)).map { _ in rng.float() * 0.05 }
    let b = (0..<outChannels).map { _ in rng.float() }
    func conv(_ algorithm: Conv2D.Algorithm) -> Conv2D {
        Conv2D(weight: w, bias: b, inChannels: channels, outChannels: outChannels, kernel: 3, algorithm: algorithm)
    }
    let direct = conv(.direct), wino2 = conv(.winograd2x2), wino4 = conv(.winograd4x4)
    let xb = FloatBuffer(x)
    let xp = ImageOps.pad(xb, channels: channels, height: side, width: side)
    let y = FloatBuffer(uninitialized: outChannels * side * side)
    let flops = 2.0 * Double(channels * outChannels * 9 * side * side)
    let directS = timed(repeats: repeats) { direct.apply(padded: xp, height: side, width: side, into: y) }
    let wino2S = timed(repeats: repeats) { wino2.apply(padded: xp, height: side, width: side, into: y) }
    let wino4S = timed(repeats: repeats) { wino4.apply(padded: xp, height: side, width: side, into: y) }
    let im2col = timed(repeats: max(1, repeats / 2)) {
        _ = ImageOps.conv2d(x, channels: channels, height: side, width: side, weight: w, bias: b, outChannels: outChannels, kernel: 3)
    }
    return ConvPoint(shape: "\(channels)->\(outChannels) 3x3 at \(side)x\(side)", directMs: directS * 1e3, im2colMs: im2col * 1e3,
                     directGflops: flops / directS / 1e9, im2colGflops: flops / im2col / 1e9,
                     winograd2Ms: wino2S * 1e3, winograd4Ms: wino4S * 1e3)
}

extension ZiparBench {
    func vqBench(grids: [Int], repeats: Int, torch: Bool) -> VQReport {
        let seed: UInt64 = 1
        emit("== VQ-16 decoder (codebook 16384, embed 8, z 256, ch 128, ch_mult [1,1,2,2,4], 2 res blocks), random weights (tools/vq_random.py)")
        var t0 = Table("layer", "direct ms", "GFLOP/s", "Winograd 2x2 ms", "Winograd 4x4 ms", "im2col+OpenBLAS ms", "GFLOP/s")
        var convs: [ConvPoint] = []
        for (c, o, s) in [(512, 512, 16), (256, 256, 64), (128, 128, 128), (128, 128, 256)] {
            let p = convLayerPoint(channels: c, outChannels: o, side: s, repeats: repeats)
            convs.append(p)
            t0.add([p.shape, f(p.directMs, 1), f(p.directGflops, 0), f(p.winograd2Ms, 1) + " (" + f(p.directMs / p.winograd2Ms, 2) + "x)",
                    f(p.winograd4Ms, 1) + " (" + f(p.directMs / p.winograd4Ms, 2) + "x)", f(p.im2colMs, 1), f(p.im2colGflops, 0)])
        }
        emit("one 3x3 convolution layer, \(KernelRuntime.instructionSet), \(KernelRuntime.threads) threads: direct kernel, Winograd (speed-up over direct), im2col + OpenBLAS sgemm:")
        emit(t0.render() + "\n")

        // The 3x3 algorithms to compare: ZIPAR_VQ_WINOGRAD=0,2,4 decodes once per ZK_WINOGRAD value
        // (0 direct, 2 / 4 the Winograd tile for the layers Conv2D's automatic choice takes), each
        // beside the same PyTorch run; unset: the automatic choice alone.
        let env = ProcessInfo.processInfo.environment
        let settings: [String?] = env["ZIPAR_VQ_WINOGRAD"].map { $0.split(separator: ",").map { String($0) } } ?? [nil]
        func label(_ setting: String?) -> String {
            switch setting { case nil: return "auto"; case "0": return "direct"; case let m?: return "Winograd \(m)x\(m)" }
        }
        var report = VQReport(config: "VQ-16", weightBytes: 0, convs: convs)
        var t = Table("image", "3x3 convs", "GFLOP", "ours s", "GFLOP/s", "torch s", "speed-up", "weights", "ours peak RSS", "torch peak RSS")
        for grid in grids {
            let tokens = VQRandom.tokens(codebookSize: 16384, count: grid * grid, seed: seed)
            var points: [VQPoint] = []
            for setting in settings {
                if let setting { setenv("ZK_WINOGRAD", setting, 1) }   // read by Conv2D at init, and by the RSS probe
                let decoder = VQDecoder(randomFor: vq16Config(grid: grid), seed: seed)
                let gflop = decoder.flops(grid: grid) / 1e9
                let s = timed(repeats: repeats) { _ = try! decoder.decode(tokens: tokens, grid: grid) }
                var p = VQPoint(grid: grid, pixels: grid * 16, gflop: gflop, seconds: s, gflops: gflop / s)
                p.algorithm = label(setting); p.weightBytes = decoder.weightBytes
                report.weightBytes = max(report.weightBytes, decoder.weightBytes)
                p.peakRSS = spawnVQRSSProbe(grid: grid)
                points.append(p)
            }
            if settings.contains(where: { $0 != nil }) {
                if let saved = env["ZK_WINOGRAD"] { setenv("ZK_WINOGRAD", saved, 1) } else { unsetenv("ZK_WINOGRAD") }
            }
            let tr = torch ? torchVQ(grid: grid, repeats: repeats) : nil
            for var p in points {
                if let tr { p.torchSeconds = tr.seconds; p.torchPeakRSS = tr.peak_rss; p.speedup = tr.seconds / p.seconds }
                report.points.append(p)
                t.add(["\(p.pixels) px (\(grid)x\(grid))", p.algorithm ?? "-", f(p.gflop, 0), f(p.seconds, 3), f(p.gflops, 0),
                       p.torchSeconds.map { f($0, 3) } ?? "-", p.speedup.map { f($0, 2) + "x" } ?? "-", p.weightBytes.map(mb) ?? "-",
                       p.peakRSS.map(mb) ?? "-", p.torchPeakRSS.map(mb) ?? "-"])
            }
        }
        emit("VQ decode of one image, fastest of \(repeats) after a warm-up, \(KernelRuntime.threads) threads; GFLOP/s count the direct")
        emit("FLOPs; peak RSS: a fresh process that builds the decoder and decodes one image:")
        emit(t.render() + "\n")
        return report
    }

    struct TorchVQOut: Codable { var seconds: Double; var peak_rss: Int; var pixels_sum: Double }

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

    func spawnVQRSSProbe(grid: Int) -> Int? {
        var exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        if exe.hasSuffix(" (deleted)") { exe.removeLast(" (deleted)".count) }
        var args = [exe, "--vq-rss-probe", "\(grid)"]
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
