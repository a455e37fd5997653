import Decoding
import Foundation
import JobCore
import JobStore
import Model

/// Decodes jobs of one model with its continuous-batching scheduler. Lives on the worker's decode queue.
/// The model's kind (a LlamaGen bundle, or a text-to-image bundle: TextModelExecutor.swift) only decides how
/// the scheduler is built and how a finished grid of VQ codes becomes pixels; admission, stats and the render
/// phase are the same for both. `loadModelExecutor(directory:...)` picks the kind.
public final class ModelExecutor: JobExecutor {
    public let scheduler: BatchScheduler
    public let model: String
    public let capacity: Int
    /// The passes plain next-token prediction needs for this model's grid (the stats' baseline).
    public let ntpPasses: Int
    /// Decodes a finished grid of VQ codes (raster order) to pixels; runs on the render queue.
    public let image: @Sendable ([Int]) throws -> PixelImage

    public init(model: String, scheduler: BatchScheduler, capacity: Int, ntpPasses: Int,
                image: @escaping @Sendable ([Int]) throws -> PixelImage) {
        self.model = model; self.scheduler = scheduler; self.capacity = capacity
        self.ntpPasses = ntpPasses; self.image = image
    }

    public convenience init(bundle: ModelBundle, batch: Int, maxQueries: Int) {
        let grid = bundle.config.gpt.grid
        self.init(model: bundle.config.name, scheduler: BatchScheduler(model: bundle.gpt, batch: batch, maxQueries: maxQueries),
                  capacity: batch, ntpPasses: grid * grid, image: { try bundle.image(tokens: $0) })
    }

    /// Checks at load what jobs will need, so a broken model fails at start and not after every job has
    /// been decoded: the VQ decoder must be there, no weight may be NaN or infinite (such a model marks
    /// every job done with noise), one pass must run and one token grid must decode to finite pixels.
    public static func probe(_ bundle: ModelBundle) throws {
        guard bundle.vq != nil else { throw ModelError.missingFile(bundle.directory + "/vq.safetensors") }
        try SafeTensorsFile.requireFinite(inDirectory: bundle.directory)
        let scheduler = BatchScheduler(model: bundle.gpt, batch: 1, maxQueries: 2)
        try scheduler.add(GenerationRequest(id: "probe", classLabel: 0))
        _ = scheduler.step()
        _ = try bundle.image(tokens: [Int](repeating: 0, count: bundle.config.gpt.imageTokens))
    }

    /// Parameters that break a rule (`JobParameters.validate(for:)`, run by the scheduler) fail the job
    /// for good: another attempt would break it again.
    public func start(_ job: ClaimedJob) throws {
        do {
            try scheduler.add(GenerationRequest(id: job.id.uuidString, parameters: try job.parameters.get()))
        } catch {
            throw JobError("model \(model): \(error)", permanent: true)
        }
    }

    /// Finished token grids leave as `ImageWork`: the worker runs the VQ decode and PNG encode beside
    /// the next passes.
    public func step() -> [(UUID, Result<ImageWork, JobError>)] {
        let (ntpPasses, decode) = (self.ntpPasses, self.image)
        return scheduler.step().compactMap { r in
            guard let id = UUID(uuidString: r.id) else { return nil }
            return (id, .success(ImageWork {
                let started = Date()
                do {
                    let image = try decode(r.tokens)
                    let decoded = Date()
                    let png = try image.pngData()
                    let stages = StageSeconds(gpt: r.stats.wallSeconds, vq: decoded.timeIntervalSince(started),
                                              png: Date().timeIntervalSince(decoded))
                    // decode_ms covers the whole decode: the passes and the image.
                    return .success(JobOutput(png: png, width: image.width, height: image.height, passes: r.stats.passes,
                                              ntpPasses: ntpPasses, tokens: r.stats.tokens, queries: r.stats.queries,
                                              decodeSeconds: stages.gpt + stages.vq + stages.png,
                                              passSeconds: r.stats.passSeconds, stages: stages, decodeOrder: r.decodeStep,
                                              drafts: r.stats.drafts, accepted: r.stats.accepted))
                } catch {
                    return .failure(JobError("image decode failed: \(error)", permanent: false))
                }
            }))
        }
    }

    public func cancel(_ id: UUID) { scheduler.cancel(id: id.uuidString) }
}
