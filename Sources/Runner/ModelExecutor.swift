import Decoding
import Foundation
import ImageModels
import JobCore
import JobStore
import Model

/// Decodes jobs of one model with its continuous-batching scheduler. Lives on the worker's decode queue.
/// Which family the model is (`ImageModel`) decides only how the scheduler's engine is built and how a finished
/// grid of VQ codes becomes pixels; admission, stats and the render phase are the same for all.
public final class ModelExecutor: JobExecutor {
    public let scheduler: BatchScheduler
    public let model: String
    public let capacity: Int
    /// The passes plain next-token prediction needs for this model's native grid (a job's own baseline is
    /// its grid's token count: a `size=HxW` job's differs).
    public let ntpPasses: Int
    /// Decodes a finished grid of VQ codes (raster order) of the job's size (nil: the native grid) to
    /// pixels; runs on the render queue.
    public let image: @Sendable ([Int], ImageSize?) throws -> PixelImage

    public init(model: String, scheduler: BatchScheduler, capacity: Int, ntpPasses: Int,
                image: @escaping @Sendable ([Int], ImageSize?) throws -> PixelImage) {
        self.model = model; self.scheduler = scheduler; self.capacity = capacity
        self.ntpPasses = ntpPasses; self.image = image
    }

    /// The executor of a loaded folder of any family (`ImageModel`).
    public convenience init(model m: ImageModel, batch: Int, maxQueries: Int) {
        self.init(model: m.name, scheduler: m.scheduler(batch: batch, maxQueries: maxQueries), capacity: batch,
                  ntpPasses: m.ntpPasses, image: { try m.image(codes: $0, size: $1) })
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
        let decode = self.image
        return scheduler.step().compactMap { r in
            guard let id = UUID(uuidString: r.id) else { return nil }
            return (id, .success(ImageWork {
                let started = Date()
                do {
                    let image = try decode(r.tokens, r.request.parameters.size)
                    let ntpPasses = r.tokens.count   // one pass a token: the native grid's, or the job's size
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
