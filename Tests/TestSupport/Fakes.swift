import Foundation
import JobCore
import JobStore
import Runner

/// A fake decoder: each job takes `passes` steps and yields a tiny output. Not a database mock:
/// it stands in for the network so the worker's job-store logic runs against the real database.
public final class FakeExecutor: JobExecutor {
    public let model: String
    public let capacity: Int
    let passes: Int
    let stepSleep: Double
    /// Seconds each finished job's render (the stand-in for VQ decode + PNG) takes.
    let renderSleep: Double
    private var left: [UUID: Int] = [:]
    public init(model: String, capacity: Int = 4, passes: Int = 3, stepSleep: Double = 0.002, renderSleep: Double = 0) {
        self.model = model; self.capacity = capacity; self.passes = passes; self.stepSleep = stepSleep
        self.renderSleep = renderSleep
    }
    public func start(_ job: ClaimedJob) throws {
        let cls = (try? job.parameters.get().classLabel) ?? -1
        if cls >= 10 { throw JobError("unknown class \(cls)", permanent: true) }
        if left[job.id] != nil { throw JobError("already in flight", permanent: true) }   // as BatchScheduler
        left[job.id] = passes
    }
    public func step() -> [(UUID, Result<ImageWork, JobError>)] {
        Thread.sleep(forTimeInterval: stepSleep)
        var out: [(UUID, Result<ImageWork, JobError>)] = []
        let renderSleep = self.renderSleep
        for (id, n) in left {
            if n <= 1 {
                left[id] = nil
                out.append((id, .success(ImageWork { Thread.sleep(forTimeInterval: renderSleep); return .success(tinyOutput) })))
            } else {
                left[id] = n - 1
            }
        }
        return out
    }
    public func cancel(_ id: UUID) { left[id] = nil }
}

/// A model that did not load.
public final class BrokenFake: JobExecutor {
    public let model: String
    public let capacity = 2
    public init(model: String) { self.model = model }
    public func start(_ job: ClaimedJob) throws { throw JobError("model \(model) failed to load: missing gpt.safetensors", permanent: false) }
    public func step() -> [(UUID, Result<ImageWork, JobError>)] { [] }
    public func cancel(_ id: UUID) {}
}
