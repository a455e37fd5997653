import Decoding
import Foundation
import JobStore
import Model

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
        let engine = GPTEngine(model: bundle.gpt, maxQueries: maxQueries, maxSequences: 2 * batch)
        scheduler = BatchScheduler(engine: engine, limits: SchedulerLimits(maxRequestsInFlight: batch, maxQueriesPerPass: maxQueries))
    }

    func start(_ job: ClaimedJob) throws {
        let grid = bundle.config.gpt.grid
        let policy: WindowPolicy
        do {
            policy = try WindowPolicy(parsing: job.policy)
            try policy.validate(grid: grid)
        } catch {
            throw JobError("\(error)", permanent: true)
        }
        guard (0..<bundle.config.gpt.numClasses).contains(job.classLabel) else {
            throw JobError("class \(job.classLabel) is not in 0..<\(bundle.config.gpt.numClasses) of model \(model)", permanent: true)
        }
        let request = GenerationRequest(
            id: job.id.uuidString, classLabel: job.classLabel, policy: policy,
            sampling: SamplingParams(temperature: Float(job.temperature), topK: job.topK, topP: Float(job.topP),
                                     cfgScale: Float(job.cfgScale)),
            seed: UInt64(bitPattern: job.seed))
        do { try scheduler.add(request) } catch { throw JobError("\(error)", permanent: true) }
    }

    func step() -> [(UUID, Result<JobOutput, JobError>)] {
        let grid = bundle.config.gpt.grid
        return scheduler.step().compactMap { r in
            guard let id = UUID(uuidString: r.id) else { return nil }
            do {
                let image = try bundle.image(tokens: r.tokens)
                let png = try image.pngData()
                return (id, .success(JobOutput(png: png, width: image.width, height: image.height, passes: r.stats.passes,
                                               ntpPasses: grid * grid, tokens: r.stats.tokens, queries: r.stats.queries,
                                               decodeSeconds: r.stats.wallSeconds, passSeconds: r.stats.passSeconds)))
            } catch {
                return (id, .failure(JobError("image decode failed: \(error)", permanent: false)))
            }
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
    func step() -> [(UUID, Result<JobOutput, JobError>)] { [] }
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
        let policy: WindowPolicy
        do { policy = try WindowPolicy(parsing: job.policy); try policy.validate(grid: grid) } catch {
            throw JobError("\(error)", permanent: true)
        }
        let passes: Int
        switch policy {
        case .ntp: passes = grid * grid
        case .zipar(let s), .adaptive(let s): passes = (grid - 1) * s + grid
        }
        jobs[job.id] = (passes, passes, Date(), [])
    }

    func step() -> [(UUID, Result<JobOutput, JobError>)] {
        let t0 = Date()
        Thread.sleep(forTimeInterval: passMs / 1000)
        let dt = Date().timeIntervalSince(t0)
        var out: [(UUID, Result<JobOutput, JobError>)] = []
        for (id, var j) in jobs {
            j.left -= 1; j.passes.append(dt)
            jobs[id] = j
            if j.left <= 0 {
                jobs[id] = nil
                let side = config.gpt.grid * (config.vq?.upsampling ?? 1)
                let image = PixelImage(width: side, height: side, channels: 1, pixels: [UInt8](repeating: 128, count: side * side))
                do {
                    out.append((id, .success(JobOutput(png: try image.pngData(), width: side, height: side, passes: j.total,
                                                       ntpPasses: config.gpt.grid * config.gpt.grid,
                                                       tokens: config.gpt.grid * config.gpt.grid, queries: config.gpt.grid * config.gpt.grid,
                                                       decodeSeconds: Date().timeIntervalSince(j.started), passSeconds: j.passes))))
                } catch {
                    out.append((id, .failure(JobError("png: \(error)", permanent: false))))
                }
            }
        }
        return out
    }

    func cancel(_ id: UUID) { jobs[id] = nil }
}
