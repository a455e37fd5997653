import Decoding
import Foundation
import JobCore
import JobStore
import Runner
import ModelFolder
import Testing
import TestSupport

/// The real executors (`loadModelExecutor`) of both kinds in one worker over `InMemoryJobQueue`: a
/// text-to-image bundle beside a LlamaGen model, no database. The PostgreSQL version, through the built
/// `zipar-worker`, is CLITests' TextWorkerTests.
@Suite struct ModelExecutorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let textBundle = root.appendingPathComponent("Tests/Fixtures/text-bundle-tiny").path
    static let classModel = root.appendingPathComponent("models/fashion-16").path

    static func zipar4(seed: UInt64, classLabel: Int = 0, prompt: String? = nil, negative: String? = nil) -> JobParameters {
        var p = JobParameters(classLabel: classLabel, seed: seed)
        p.policy = .zipar(window: 4)
        p.sampling.cfgScale = 2
        p.prompt = prompt; p.negativePrompt = negative
        return p
    }

    @Test func kindAndNameComeFromTheFolder() throws {
        #expect(try ModelKind.of(directory: Self.textBundle) == .text)
        #expect(try ModelKind.of(directory: Self.classModel) == .llamaGen)
        // The name submit stores (layout.json "name" via TextModelIdentity), the grid from the layout.
        let text = try ModelFolderIdentity.load(directory: Self.textBundle), llamaGen = try ModelFolderIdentity.load(directory: Self.classModel)
        #expect(text.kind == .text && text.name == "text-bundle-tiny" && text.grid == 6 && text.limits.endOfRowLayout)
        #expect(llamaGen.kind == .llamaGen && llamaGen.name == "fashion-16" && llamaGen.grid == 16 && llamaGen.limits.numClasses == 10)
    }

    @Test func oneWorkerDecodesTextAndClassJobs() async throws {
        let text = try loadModelExecutor(directory: Self.textBundle, batch: 2, maxQueries: 64).executor
        let llamaGen = try loadModelExecutor(directory: Self.classModel, batch: 2, maxQueries: 64).executor
        #expect(text.model == "text-bundle-tiny" && text.ntpPasses == 36)
        let queue = InMemoryJobQueue()
        let ids = queue.submit([
            JobSpec(model: text.model, parameters: Self.zipar4(seed: 7, prompt: "a dark ankle boot", negative: "a light dress")),
            JobSpec(model: llamaGen.model, parameters: Self.zipar4(seed: 1, classLabel: 3)),
            JobSpec(model: text.model, parameters: Self.zipar4(seed: 2, classLabel: 3)),             // a class job, no prompt
            JobSpec(model: llamaGen.model, parameters: Self.zipar4(seed: 3, prompt: "a dress")),      // a prompt, class model
        ])
        var options = WorkerOptions(id: "w", host: "test", queues: ["default"])
        options.drain = true; options.pollSeconds = 0.05; options.leaseSeconds = 120
        await Worker(store: queue, options: options, executors: [llamaGen, text], logger: PG.quiet).run(stop: StopSignal())

        let image = try #require(queue.output(of: ids[0]), "\(queue.errors(of: ids[0]))")
        #expect(image.passes == (6 - 1) * 4 + 6)          // zipar:S on H x H: (H-1)S + H
        #expect(image.ntpPasses == 36 && image.tokens == 36 && image.decodeOrder?.count == 36)
        #expect(image.passSeconds.count == image.passes && image.stages != nil)
        #expect(image.png.starts(with: [0x89, 0x50, 0x4e, 0x47]) && image.width == 6 && image.height == 6)
        #expect(queue.output(of: ids[1])?.passes == (16 - 1) * 4 + 16)

        // Each wrong kind fails at once, for good, naming the field.
        #expect(queue.state(of: ids[2]) == .failed && queue.attempts(of: ids[2]) == 1)
        #expect(queue.errors(of: ids[2]).first?.contains("model text-bundle-tiny: prompt: required") == true, "\(queue.errors(of: ids[2]))")
        #expect(queue.state(of: ids[3]) == .failed && queue.attempts(of: ids[3]) == 1)
        #expect(queue.errors(of: ids[3]).first?.contains("prompt: the model is class-conditional") == true, "\(queue.errors(of: ids[3]))")
    }

    /// Janus / Janus-Pro (transformers' checkpoint layout) as a worker serves it: named by its folder, its
    /// grid from vq_config, the raster layout after a prompt (zipar:S passes as on LlamaGen).
    @Test func oneWorkerDecodesJanusJobs() async throws {
        let folder = Self.root.appendingPathComponent("Tests/Fixtures/janus-tiny").path
        let identity = try ModelFolderIdentity.load(directory: folder)
        #expect(identity.kind == .text && identity.name == "janus-tiny" && identity.grid == 4 && !identity.limits.endOfRowLayout)
        let janus = try loadModelExecutor(directory: folder, batch: 2, maxQueries: 64).executor
        let queue = InMemoryJobQueue()
        var withNegative = Self.zipar4(seed: 5, prompt: "a dark ankle boot", negative: "a red bag")
        withNegative.policy = .zipar(window: 2)
        let ids = queue.submit([JobSpec(model: janus.model, parameters: withNegative),
                                JobSpec(model: janus.model, parameters: Self.zipar4(seed: 6, prompt: "a light summer dress"))])
        var options = WorkerOptions(id: "w", host: "test", queues: ["default"])
        options.drain = true; options.pollSeconds = 0.05; options.leaseSeconds = 120
        await Worker(store: queue, options: options, executors: [janus], logger: PG.quiet).run(stop: StopSignal())
        let first = try #require(queue.output(of: ids[0]), "\(queue.errors(of: ids[0]))")
        #expect(first.passes == (4 - 1) * 2 + 4 && first.ntpPasses == 16 && first.width == 8)
        #expect(queue.output(of: ids[1])?.passes == 16)   // zipar:4 on a 4-wide grid is ntp
    }

    /// A `size=12x20` job through the worker: the text bundle decodes it at its own grid (ntp baseline 240,
    /// zipar:4 passes (12-1)*4 + 20, a 20 x 12 px image from the fixture's 1x VQ); Janus refuses another grid
    /// for good, naming `size`.
    @Test func workerDecodesNonSquareTextJobs() async throws {
        let text = try loadModelExecutor(directory: Self.textBundle, batch: 2, maxQueries: 64).executor
        let janus = try loadModelExecutor(directory: Self.root.appendingPathComponent("Tests/Fixtures/janus-tiny").path,
                                          batch: 2, maxQueries: 64).executor
        var wide = Self.zipar4(seed: 7, prompt: "a dark ankle boot")
        wide.size = ImageSize(rows: 12, columns: 20)
        let queue = InMemoryJobQueue()
        let ids = queue.submit([JobSpec(model: text.model, parameters: wide), JobSpec(model: janus.model, parameters: wide)])
        var options = WorkerOptions(id: "w", host: "test", queues: ["default"])
        options.drain = true; options.pollSeconds = 0.05; options.leaseSeconds = 120
        await Worker(store: queue, options: options, executors: [text, janus], logger: PG.quiet).run(stop: StopSignal())
        let image = try #require(queue.output(of: ids[0]), "\(queue.errors(of: ids[0]))")
        #expect(image.passes == 11 * 4 + 20 && image.ntpPasses == 240 && image.tokens == 240 && image.decodeOrder?.count == 240)
        #expect(image.width == 20 && image.height == 12)
        #expect(queue.state(of: ids[1]) == .failed && queue.attempts(of: ids[1]) == 1)
        #expect(queue.errors(of: ids[1]).first?.contains("size: the model draws square grids only") == true, "\(queue.errors(of: ids[1]))")
    }
}
