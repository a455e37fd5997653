import Decoding
import Foundation
import Kernels
import Model

/// `--e2e` results, as written to `--json`.
struct E2ERow: Codable {
    var model: String; var storage: String; var policy: String; var cfg: Bool; var batch: Int
    var secondsPerImage: Double; var imagesPerSecond: Double
    /// The image's FLOPs (GPT: 2 per weight per token, twice with CFG; plus the VQ decode) at the FMA peak.
    var floorSecondsPerImage: Double; var ceilingImagesPerSecond: Double
    var torchSecondsPerImage: Double?
}

extension ZiparBench {
    /// GPT + VQ + PNG end to end, the worker's way: the scheduler's passes on this thread, each finished
    /// grid's VQ decode and PNG encode on a serial queue beside the next passes.
    func e2eCell(_ m: GPTModel, vq: VQDecoder, policy: WindowPolicy, batch: Int, cfgScale: Float) throws -> (perImage: Double, perSecond: Double) {
        let scheduler = BatchScheduler(model: m, batch: batch, maxQueries: 128)
        let queue = DispatchQueue(label: "zipar-bench.image")
        let group = DispatchGroup()
        final class Latencies: @unchecked Sendable { let lock = NSLock(); var values: [Double] = [] }
        let latencies = Latencies()
        let grid = m.config.grid, size = grid * vq.config.upsampling, channels = vq.config.outChannels
        let t0 = DispatchTime.now().uptimeNanoseconds
        for i in 0..<batch {
            try scheduler.add(GenerationRequest(id: "e2e-\(i)", classLabel: i % m.config.numClasses, policy: policy,
                                                sampling: SamplingParams(temperature: 1, topK: 0, topP: 1, cfgScale: cfgScale),
                                                seed: 11 &+ UInt64(i)))
        }
        while scheduler.inFlight > 0 {
            for r in scheduler.step() {
                let tokens = r.tokens
                queue.async(group: group) {
                    let image = PixelImage(decoderOutput: try! vq.decode(tokens: tokens, grid: grid), channels: channels, size: size)
                    _ = try! image.pngData()
                    let t = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                    latencies.lock.lock(); latencies.values.append(t); latencies.lock.unlock()
                }
            }
        }
        group.wait()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        return (latencies.values.reduce(0, +) / Double(latencies.values.count), Double(batch) / wall)
    }

    func e2eBench(storages: [WeightStorage], policies: [WindowPolicy], batches: [Int], large: Bool, peak: Double, torch: Bool) throws -> [E2ERow] {
        var shapes: [(String, Int)] = [("GPT-B", 16)]
        if large { shapes.append(("GPT-L", 24)) }
        var rows: [E2ERow] = []
        for (shape, grid) in shapes {
            let vq = VQDecoder(randomFor: vq16Config(grid: grid), seed: 1)
            let vqFlops = vq.flops(grid: grid)
            // PyTorch: tools/bench_torch.py (GPT, batch 1) + tools/bench_vq_torch.py (VQ), same threads.
            var torchGPT: [String: Double] = [:]
            var torchVQSeconds: Double? = nil
            if torch, let script = findTool("bench_torch.py"), shell([python, "-c", "import torch"]).status == 0 {
                let res = shell([python, script, "--shape", shape, "--grid", "\(grid)", "--threads", "\(KernelRuntime.threads)",
                                 "--policies", policies.map(\.description).joined(separator: ","), "--cfg", "1,\(cfgScale)", "--json", "-"])
                if res.status == 0, let line = res.out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                   let parsed = try? JSONDecoder().decode(TorchOut.self, from: Data(line.utf8)) {
                    for r in parsed.rows { torchGPT["\(r.policy)|\(r.cfg != 1)"] = r.seconds }
                } else { emit("torch e2e: bench_torch.py failed: \(res.err.suffix(300))") }
                torchVQSeconds = torchVQ(grid: grid, repeats: 1)?.seconds
            } else if torch {
                emit("torch e2e: skipped (torch or tools/bench_torch.py missing)")
            }
            for s in storages {
                let c = GPTConfig.official(shape, grid: grid)!
                let m = GPTModel(config: c, weights: GPTWeights(randomFor: c, seed: 1, storage: s))
                let gptFlops = 2.0 * Double(streamedParameters(m.weights)) * Double(c.imageTokens)
                for cfg in [false, true] {
                    for batch in batches {
                        for p in policies {
                            let r = try e2eCell(m, vq: vq, policy: p, batch: batch, cfgScale: cfg ? cfgScale : 1)
                            let flops = gptFlops * (cfg ? 2 : 1) + vqFlops
                            let t = batch == 1 ? torchGPT["\(p.description)|\(cfg)"].flatMap { g in torchVQSeconds.map { g + $0 } } : nil
                            rows.append(E2ERow(model: "\(shape) + VQ-16 \(grid * 16) px", storage: s.rawValue, policy: p.description, cfg: cfg,
                                               batch: batch, secondsPerImage: r.perImage, imagesPerSecond: r.perSecond,
                                               floorSecondsPerImage: flops / peak, ceilingImagesPerSecond: peak / flops,
                                               torchSecondsPerImage: t))
                        }
                    }
                }
            }
        }
        var t = Table("model", "weights", "policy", "cfg", "jobs", "s/image", "images/s", "arith. floor s", "ceiling img/s", "torch s/image", "vs torch")
        for r in rows {
            t.add([r.model, r.storage, r.policy, r.cfg ? f(Double(cfgScale)) : "off", "\(r.batch)", f(r.secondsPerImage, 2), f(r.imagesPerSecond, 2),
                   f(r.floorSecondsPerImage, 2), f(r.ceilingImagesPerSecond, 2), r.torchSecondsPerImage.map { f($0, 2) } ?? "-",
                   r.torchSecondsPerImage.map { f($0 / r.secondsPerImage, 1) + "x" } ?? "-"])
        }
        emit("end to end: GPT passes + VQ decode + PNG per image (VQ and PNG on a queue beside the passes, as the worker does),")
        emit("random weights, \(KernelRuntime.threads) threads; s/image = mean latency of an image (all jobs submitted at once);")
        emit("floor / ceiling = the image's FLOPs (GPT 2 per weight per token, x2 with CFG, + VQ) at the \(f(peak / 1e9, 0)) GFLOP/s FMA peak;")
        emit("torch = tools/bench_torch.py (GPT, batch 1) + tools/bench_vq_torch.py (VQ), fp32:")
        emit(t.render() + "\n")
        return rows
    }
}
