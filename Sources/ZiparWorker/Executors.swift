import Decoding
import Foundation
import JobCore
import JobStore
import Model
import Runner

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
    let model: String
    let limits: ModelLimits
    /// The gray image's side in pixels.
    let side: Int
    let capacity: Int
    let passMs: Double
    private var jobs: [UUID: (left: Int, total: Int, started: Date, passes: [Double], size: ImageSize)] = [:]

    init(model: String, limits: ModelLimits, side: Int, capacity: Int, passMs: Double) {
        self.model = model; self.limits = limits; self.side = side; self.capacity = capacity; self.passMs = passMs
    }

    /// A model folder of either kind, read as the real loader names it (`ModelFolderIdentity`), weights untouched.
    convenience init(directory: String, capacity: Int, passMs: Double) throws {
        let identity = try ModelFolderIdentity.load(directory: directory)
        switch identity.kind {
        case .llamaGen:
            let config = try ModelConfig.load(path: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
            self.init(model: identity.name, limits: identity.limits, side: config.gpt.grid * (config.vq?.upsampling ?? 1),
                      capacity: capacity, passMs: passMs)
        case .text:
            self.init(model: identity.name, limits: identity.limits, side: identity.grid, capacity: capacity, passMs: passMs)
        }
    }

    func start(_ job: ClaimedJob) throws {
        let policy: WindowPolicy
        let size: ImageSize
        do {
            let p = try job.parameters.get()
            try p.validate(for: limits)
            policy = p.policy
            size = p.size ?? ImageSize(side: limits.grid)
        } catch {
            throw JobError("\(error)", permanent: true)
        }
        let passes = policy.rowWindow.map { (size.rows - 1) * $0 + size.columns } ?? size.tokens
        jobs[job.id] = (passes, passes, Date(), [], size)
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
                // The native grid's picture side, scaled to the job's grid (a size=HxW job's is not square).
                let f = max(1, self.side / limits.grid), n = j.size.tokens
                let (width, height) = (j.size.columns * f, j.size.rows * f)
                let image = PixelImage(width: width, height: height, channels: 1, pixels: [UInt8](repeating: 128, count: width * height))
                do {
                    out.append((id, .success(.ready(JobOutput(png: try image.pngData(), width: width, height: height, passes: j.total,
                                                       ntpPasses: n, tokens: n, queries: n,
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
