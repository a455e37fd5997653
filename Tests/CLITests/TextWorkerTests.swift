import Decoding
import Foundation
import JobCore
import JobStore
import Kernels
import ModelFolder
import Testing
import TestSupport

/// One `zipar-worker` process serving a LlamaGen model and a text-to-image bundle at once, against a real
/// PostgreSQL: each model gets its own executor, jobs are named the way `zipar-submit` names them, and a
/// job of the wrong kind fails for good with the field named.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct TextWorkerTests {
    static let textBundle = Tool.root.appendingPathComponent("Tests/Fixtures/text-bundle-tiny").path

    /// zipar:S on an H x H grid: the last row starts after (H-1) S passes and takes H more (docs/decoding.md).
    static func ziparPasses(grid: Int, window: Int) -> Int { (grid - 1) * window + grid }

    static func parameters(seed: UInt64, classLabel: Int = 0, prompt: String? = nil, negative: String? = nil) throws -> JobParameters {
        var p = JobParameters(classLabel: classLabel, seed: seed)
        p.policy = .zipar(window: 4)
        p.sampling.cfgScale = 2
        p.prompt = prompt; p.negativePrompt = negative
        return p
    }

    @Test func oneWorkerServesTextAndClassModels() async throws {
        // The name submit gives the bundle's jobs (layout.json "name"), read by the function submit uses.
        let text = try #require(try TextModelIdentity.load(directory: Self.textBundle))
        #expect(text.name == "text-bundle-tiny")
        try await PG.withDatabase { config, store in
            let prompt = try Self.parameters(seed: 7, prompt: "a dark ankle boot", negative: "a light dress")
            let submitted = try await store.submit([
                JobSpec(model: text.name, parameters: prompt, prompt: "\"a dark ankle boot\""),
                JobSpec(model: "fashion-16", parameters: try Self.parameters(seed: 1, classLabel: 3), className: "dress"),
                // A class job sent to the text model: no prompt.
                JobSpec(model: text.name, parameters: try Self.parameters(seed: 2), maxAttempts: 3),
            ], createQueues: true)
            let ids = submitted.ids
            #expect(ids.count == 3)

            let run = try Tool.run("zipar-worker", ["--model", Tool.model, "--model", Self.textBundle, "--drain",
                                                    "--batch", "2", "--log-level", "error"], database: config.database)
            #expect(run.status == 0, "\(run.err)")

            // The text job: done, its PNG decodes at the bundle's size, and zipar:4 took the formula's passes.
            let textJob = try #require(try await store.job(id: ids[0]))
            #expect(textJob.state == .done, "\(textJob.errors)")
            let stats = try #require(textJob.result)
            #expect(stats.passes == Self.ziparPasses(grid: text.grid, window: 4))
            #expect(stats.ntpPasses == text.grid * text.grid)
            #expect(stats.tokens == text.grid * text.grid)
            #expect(stats.decodeOrder?.count == text.grid * text.grid)
            #expect(stats.gptMs != nil && stats.vqMs != nil && stats.pngMs != nil)
            #expect(stats.passMs.count == stats.passes)
            let png = try #require(try await store.png(id: ids[0]))
            let decoded = try PNGCodec.decode(png, channels: 1)
            #expect(decoded.width == stats.width && decoded.height == stats.height && decoded.width >= text.grid)

            // The class job on the LlamaGen model beside it.
            let classJob = try #require(try await store.job(id: ids[1]))
            #expect(classJob.state == .done, "\(classJob.errors)")
            #expect(classJob.result?.passes == Self.ziparPasses(grid: 16, window: 4))
            #expect(try await store.png(id: ids[1]) != nil)

            // The class job on the text model: failed at once (no retry), the error names the field.
            let wrong = try #require(try await store.job(id: ids[2]))
            #expect(wrong.state == .failed)
            #expect(wrong.attempts == 1)
            let error = try #require(wrong.errors.last)
            #expect(error.permanent == true)
            #expect(error.error.contains("text-bundle-tiny") && error.error.contains("prompt: required"), "\(error.error)")
        }
    }

    /// A prompt file through `zipar-submit`, then the worker: the name submit gives the jobs is the one the
    /// worker serves (a disagreement would leave them queued and the draining worker would not finish them).
    @Test func submitAndWorkerAgreeOnTheTextModelsName() async throws {
        try await PG.withDatabase { config, store in
            let db = config.database
            let prompts = try Tool.tempDir() + "/p.txt"
            try "\"a dark ankle boot\" negative_prompt=\"a light dress\" policy=zipar:4 cfg=2 count=2\n"
                .write(toFile: prompts, atomically: true, encoding: .utf8)
            let sub = try Tool.run("zipar-submit", ["--model", Self.textBundle, "--json", prompts], database: db)
            #expect(sub.status == 0, "\(sub.err)")
            let ids = try #require((try sub.json() as? [String: Any])?["ids"] as? [String])
            #expect(ids.count == 2)
            let run = try Tool.run("zipar-worker", ["--model", Self.textBundle, "--drain", "--log-level", "error"], database: db)
            #expect(run.status == 0, "\(run.err)")
            for id in ids {
                let uuid = try #require(UUID(uuidString: id))
                let job = try #require(try await store.job(id: uuid))
                #expect(job.model == "text-bundle-tiny" && job.state == .done, "\(job.errors)")
                #expect(job.result?.passes == Self.ziparPasses(grid: 6, window: 4))
            }
        }
    }

    /// `size=12x20` from a prompt file through `zipar-submit` and the real worker and PostgreSQL: the job keeps its
    /// size (`image_size` '12x20'), decodes 12 rows of 20 tokens and stores a 20 x 12 PNG; a grid past the
    /// bundle's context is refused at submit, naming the line and `size`.
    @Test func nonSquareSizeFromPromptFileToPNG() async throws {
        try await PG.withDatabase { config, store in
            let db = config.database
            let dir = try Tool.tempDir()
            try "\"a dark ankle boot\" size=12x20 policy=zipar:4 cfg=2\n".write(toFile: dir + "/p.txt", atomically: true, encoding: .utf8)
            try "\"a boot\"\n\"a boot\" size=24x24\n".write(toFile: dir + "/big.txt", atomically: true, encoding: .utf8)
            let big = try Tool.run("zipar-submit", ["--model", Self.textBundle, dir + "/big.txt"], database: db)
            #expect(big.status == 1 && big.err.contains("line 2") && big.err.contains("size"), "\(big.err)")
            let sub = try Tool.run("zipar-submit", ["--model", Self.textBundle, "--json", dir + "/p.txt"], database: db)
            #expect(sub.status == 0, "\(sub.err)")
            let ids = try #require((try sub.json() as? [String: Any])?["ids"] as? [String])
            let id = try #require(ids.first.flatMap(UUID.init(uuidString:)))
            let run = try Tool.run("zipar-worker", ["--model", Self.textBundle, "--drain", "--log-level", "error"], database: db)
            #expect(run.status == 0, "\(run.err)")
            let job = try #require(try await store.job(id: id))
            #expect(job.state == .done && job.parameters?.size == ImageSize(rows: 12, columns: 20), "\(job.errors)")
            let stats = try #require(job.result)
            #expect(stats.passes == 11 * 4 + 20 && stats.ntpPasses == 240 && stats.tokens == 240)
            let png = try PNGCodec.decode(try #require(try await store.png(id: id)), channels: 1)
            #expect(png.width == 20 && png.height == 12 && stats.width == 20 && stats.height == 12)
        }
    }
}
