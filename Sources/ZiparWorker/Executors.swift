import Decoding
import Foundation
import JobStore
import Model
import Runner

/// Decodes jobs of one model with its continuous-batching scheduler. Lives on the worker's decode queue.
final class ModelExecutor: JobExecutor {
    let bundle: ModelBundle
    let scheduler: BatchScheduler
    let model: String
    let capacity: Int

    init(bundle: ModelBundle, batch: Int, maxQueries: Int) {
        self.bundle = bundle
        self.model = bundle.config.name
        self.capacity = batch
        scheduler = BatchScheduler(model: bundle.gpt, batch: batch, maxQueries: maxQueries)
    }

    /// Checks at load what jobs will need, so a broken model fails at start and not after every job has
    /// been decoded: the VQ decoder must be there, one pass must run and one token grid must decode.
    static func probe(_ bundle: ModelBundle) throws {
        guard bundle.vq != nil else { throw ModelError.missingFile(bundle.directory + "/vq.safetensors") }
        let scheduler = BatchScheduler(model: bundle.gpt, batch: 1, maxQueries: 2)
        try scheduler.add(GenerationRequest(id: "probe", classLabel: 0))
        _ = scheduler.step()
        _ = try bundle.image(tokens: [Int](repeating: 0, count: bundle.config.gpt.imageTokens))
    }

    /// Parameters that break a rule (`JobParameters.validate(for:)`, run by the scheduler) fail the job
    /// for good: another attempt would break it again.
    func start(_ job: ClaimedJob) throws {
        do {
            try scheduler.add(GenerationRequest(id: job.id.uuidString, parameters: try job.parameters.get()))
        } catch {
            throw JobError("model \(model): \(error)", permanent: true)
        }
    }

    /// Finished token grids leave as `ImageWork`: the worker runs the VQ decode and PNG encode beside
    /// the next passes.
    func step() -> [(UUID, Result<ImageWork, JobError>)] {
        let grid = bundle.config.gpt.grid
        let bundle = self.bundle
        return scheduler.step().compactMap { r in
            guard let id = UUID(uuidString: r.id) else { return nil }
            return (id, .success(ImageWork {
                let started = Date()
                do {
                    let image = try bundle.image(tokens: r.tokens)
                    let decoded = Date()
                    let png = try image.pngData()
                    let stages = StageSeconds(gpt: r.stats.wallSeconds, vq: decoded.timeIntervalSince(started),
                                              png: Date().timeIntervalSince(decoded))
                    // decode_ms covers the whole decode: the passes and the image.
                    return .success(JobOutput(png: png, width: image.width, height: image.height, passes: r.stats.passes,
                                              ntpPasses: grid * grid, tokens: r.stats.tokens, queries: r.stats.queries,
                                              decodeSeconds: stages.gpt + stages.vq + stages.png,
                                              passSeconds: r.stats.passSeconds, stages: stages, decodeOrder: r.decodeStep,
                                              drafts: r.stats.drafts, accepted: r.stats.accepted))
                } catch {
                    return .failure(JobError("image decode failed: \(error)", permanent: false))
                }
            }))
        }
    }

    func cancel(_ id: UUID) { scheduler.cancel(id: id.uuidString) }
}

/// A model that did not load: each of its jobs fails (and is retried elsewhere up to max_attempts)
/// with the load error, while the worker keeps serving its other models.
final class BrokenExecutor: JobExecutor {
    let model: String
    let reason: String
    let capacity: Int
    init(model: String, reason: String, capacity: Int) { self.model = model; self.reason = reason; self.capacity = capacity }
    func start(_ job: ClaimedJob) throws { throw JobError(reason, permanent: false) }
    func step() -> [(UUID, Result<ImageWork, JobError>)] { [] }
    func cancel(_ id: UUID) {}
}

/// Testing aid (`--simulate-pass-ms`): ZipAR-shaped pass counts and a gray PNG, no network.
final class SimulatedExecutor: JobExecutor {
    let config: ModelConfig
    let model: String
    let capacity: Int
    let passMs: Double
    private var jobs: [UUID: (left: Int, total: Int, started: Date, passes: [Double])] = [:]

    init(config: ModelConfig, capacity: Int, passMs: Double) {
        self.config = config; self.model = config.name; self.capacity = capacity; self.passMs = passMs
    }

    func start(_ job: ClaimedJob) throws {
        let grid = config.gpt.grid
        let limits = ModelLimits(grid: grid, numClasses: config.gpt.numClasses, supportsGuidance: true)
        let policy: WindowPolicy
        do {
            let p = try job.parameters.get()
            try p.validate(for: limits)
            policy = p.policy
        } catch {
            throw JobError("\(error)", permanent: true)
        }
        let passes: Int
        switch policy {
        case .ntp, .sjd: passes = grid * grid
        case .zipar(let s), .adaptive(let s), .ziparSJD(let s, _): passes = (grid - 1) * s + grid
        }
        jobs[job.id] = (passes, passes, Date(), [])
    }

    func step() -> [(UUID, Result<ImageWork, JobError>)] {
        let t0 = Date()
        Thread.sleep(forTimeInterval: passMs / 1000)
        let dt = Date().timeIntervalSince(t0)
        var out: [(UUID, Result<ImageWork, JobError>)] = []
        for (id, var j) in jobs {
            j.left -= 1; j.passes.append(dt)
            jobs[id] = j
            if j.left <= 0 {
                jobs[id] = nil
                let side = config.gpt.grid * (config.vq?.upsampling ?? 1)
                let image = PixelImage(width: side, height: side, channels: 1, pixels: [UInt8](repeating: 128, count: side * side))
                do {
                    out.append((id, .success(.ready(JobOutput(png: try image.pngData(), width: side, height: side, passes: j.total,
                                                       ntpPasses: config.gpt.grid * config.gpt.grid,
                                                       tokens: config.gpt.grid * config.gpt.grid, queries: config.gpt.grid * config.gpt.grid,
                                                       decodeSeconds: Date().timeIntervalSince(j.started), passSeconds: j.passes)))))
                } catch {
                    out.append((id, .failure(JobError("png: \(error)", permanent: false))))
                }
            }
        }
        return out
    }

    func cancel(_ id: UUID) { jobs[id] = nil }
}
