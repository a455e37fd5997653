import Foundation
import Testing
import JobCore
import Model
import TextModel
@testable import Decoding

/// Tests/Fixtures/text-bundle-tiny (tools/fixtures/make_text_bundle_fixture.py): a random 2-layer Emu3-architecture
/// model with tools/train/text2img's tokenizer and layout at 6x6, and a random VQ decoder.
enum TextBundleFixture {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/text-bundle-tiny").path
    static let bundle: TextModelBundle = try! TextModelBundle(directory: path, storage: .f32)

    static func request(_ id: String, prompt: String, policy: String = "ntp", cfg: Float = 1, seed: UInt64 = 1,
                        negative: String? = nil) throws -> GenerationRequest {
        var p = JobParameters(policy: try WindowPolicy(parsing: policy), sampling: SamplingParams(cfgScale: cfg), seed: seed)
        p.prompt = prompt
        p.negativePrompt = negative
        return GenerationRequest(id: id, parameters: p)
    }

    static func scheduler(batch: Int = 4, queries: Int = 128) -> BatchScheduler {
        BatchScheduler(textBundle: bundle, batch: batch, maxQueries: queries)
    }
}

/// One engine serving a LlamaGen model and a text model, so that one scheduler can batch both kinds of
/// request: a request with a prompt goes to the text model. A pass runs both engines.
final class MixedEngine: ImageTokenEngine {
    let gpt: DecoderTokenEngine
    let text: DecoderTokenEngine
    private var owner: [Int: (engine: ImageTokenEngine, sequence: SequenceID)] = [:]
    private var next = 0

    init(gpt: DecoderTokenEngine, text: DecoderTokenEngine) { self.gpt = gpt; self.text = text }

    var maxQueries: Int { min(gpt.maxQueries, text.maxQueries) }
    var maxSequences: Int { min(gpt.maxSequences, text.maxSequences) }
    var openSequences: Int { gpt.openSequences + text.openSequences }
    var cacheBytes: Int { gpt.cacheBytes + text.cacheBytes }

    func engine(for request: GenerationRequest) -> ImageTokenEngine { request.parameters.prompt == nil ? gpt : text }
    func setup(for request: GenerationRequest) throws -> DecodingSetup { try engine(for: request).setup(for: request) }

    func openSequence(for request: GenerationRequest) throws -> SequenceID {
        let e = engine(for: request)
        next += 1
        owner[next] = (e, try e.openSequence(for: request))
        return SequenceID(slot: next)
    }

    func closeSequence(_ sequence: SequenceID) {
        if let (e, s) = owner.removeValue(forKey: sequence.slot) { e.closeSequence(s) }
    }

    func forward(_ batch: PassBatch) -> [[Float]?] {
        let queries = batch.queries
        var out = [[Float]?](repeating: nil, count: queries.count)
        for e in [gpt as ImageTokenEngine, text] {
            let mine = queries.indices.filter { owner[queries[$0].sequence.slot]!.engine === e }
            guard !mine.isEmpty else { continue }
            let logits = e.forward(PassBatch(mine.map { k in
                var q = queries[k]
                q.sequence = owner[q.sequence.slot]!.sequence
                return q
            }))
            for (k, l) in zip(mine, logits) { out[k] = l }
        }
        return out
    }
}

@Suite(.serialized) struct TextDecodingTests {
    @Test func bundleLoads() throws {
        let b = TextBundleFixture.bundle
        #expect(b.layout.rows == 6 && b.layout.columns == 6 && b.layout.codebookSize == 512)
        #expect(b.layout.imageOffset + 512 == b.transformer.config.vocabSize)
        let prompt = b.promptTokens(caption: "a dark ankle boot")
        #expect(prompt.first == b.layout.bos && prompt.last == b.layout.imageMarker && prompt.count > 2 + b.layout.metaIDs.count)
        #expect(b.promptTokens(caption: "") == [b.layout.bos, b.layout.startOfImage] + b.layout.metaIDs + [b.layout.imageMarker])
    }

    /// zipar:W runs ntp's queries pass for pass on the end-of-row layout, so its tokens are ntp's.
    @Test(arguments: [Float(1), 3])
    func fullWindowIsNTPTokenForToken(cfg: Float) throws {
        let s = TextBundleFixture.scheduler()
        let ntp = try s.run([TextBundleFixture.request("n", prompt: "a dark ankle boot", cfg: cfg, seed: 4)])[0]
        let zip = try s.run([TextBundleFixture.request("z", prompt: "a dark ankle boot", policy: "zipar:6", cfg: cfg, seed: 4)])[0]
        #expect(ntp.stats.passes == 36 && zip.stats.passes == 36)
        #expect(zip.tokens == ntp.tokens)
        #expect(Set(ntp.tokens).count > 3, "random weights at temperature 1 should not repeat one code")
    }

    /// The KV-cache decode writes what a teacher-forced pass over the whole layout sequence sees: greedy ntp
    /// picks, at every cell, the best image id of the logits of one prefill over `prompt + imageSequence`.
    @Test func greedyNTPMatchesTeacherForcing() throws {
        let b = TextBundleFixture.bundle
        var r = try TextBundleFixture.request("g", prompt: "a dark ankle boot", seed: 2)
        r.parameters.sampling.temperature = 0
        let decoded = try TextBundleFixture.scheduler().run([r])[0]
        let prompt = b.promptTokens(caption: "a dark ankle boot")
        let layout = ImageLayout(rows: 6, columns: 6, prefixLength: prompt.count, imageTokenOffset: b.layout.imageOffset,
                                 codebookSize: 512, endOfRow: .init(token: b.layout.endOfRow, suffix: b.layout.suffix))
        let sequence = prompt + layout.imageSequence(codes: decoded.tokens)
        let logits = try b.transformer.engine(maxQueries: 64, maxSequences: 1).prefillLogits(tokens: sequence)
        for t in 0..<36 {
            let image = layout.imageLogits(logits[layout.position(ofToken: t) - 1])
            let best = image.indices.max { image[$0] < image[$1] }!
            #expect(decoded.tokens[t] == best, "token \(t)")
        }
    }

    @Test func passCountsAndImage() throws {
        let s = TextBundleFixture.scheduler()
        var passes: [String: Int] = [:]
        for policy in ["ntp", "zipar:2", "official:3", "adaptive:2"] {
            let r = try s.run([TextBundleFixture.request(policy, prompt: "a light dress", policy: policy, cfg: 2)])[0]
            passes[policy] = r.stats.passes
            #expect(r.tokens.allSatisfy { (0..<512).contains($0) })
            let png = try TextBundleFixture.bundle.image(codes: r.tokens).pngData()
            #expect(png.count > 8)
        }
        #expect(passes["ntp"] == 36 && passes["zipar:2"] == 16 && passes["official:3"] == 16)
        #expect(passes["adaptive:2"]! >= 5 * 3 + 6 && passes["adaptive:2"]! <= 36)
    }

    /// A request's tokens depend only on its own seed and policy: alone, or batched with other text requests
    /// and class-conditional LlamaGen requests through one scheduler, with the prompt prefill split by a
    /// small query cap.
    @Test func seedsAreIndependentOfTheBatch() throws {
        let probe = try TextBundleFixture.request("probe", prompt: "a dark ankle boot", policy: "zipar:3", cfg: 2, seed: 9)
        let alone = try TextBundleFixture.scheduler().run([probe])[0]

        let gptModel = Tiny.model(grid: 6)
        let gpt = DecoderTokenEngine(gpt: gptModel, batch: 8, maxQueries: 40)
        let text = DecoderTokenEngine(textBundle: TextBundleFixture.bundle, batch: 8, maxQueries: 40)
        let mixed = BatchScheduler(engine: MixedEngine(gpt: gpt, text: text),
                                   limits: SchedulerLimits(maxRequestsInFlight: 6, maxQueriesPerPass: 40))
        let others = [
            GenerationRequest(id: "c1", classLabel: 2, policy: .zipar(window: 2), sampling: SamplingParams(cfgScale: 2), seed: 1),
            try TextBundleFixture.request("t1", prompt: "a small patterned bag with a print", policy: "ntp", cfg: 3, seed: 2,
                                          negative: "a light dress"),
            GenerationRequest(id: "c2", classLabel: 5, policy: .ntp, seed: 3),
            try TextBundleFixture.request("t2", prompt: "light pants", policy: "adaptive:2", seed: 4),
        ]
        let results = try mixed.run([others[0], others[1], probe, others[2], others[3]])
        let batched = results.first { $0.id == "probe" }!
        #expect(batched.tokens == alone.tokens)
        #expect(batched.stats.passes >= alone.stats.passes)
        // The class-conditional requests are LlamaGen's own decode, batch or not.
        let c1Alone = try Tiny.scheduler(gptModel).run([others[0]])[0]
        #expect(results.first { $0.id == "c1" }!.tokens == c1Alone.tokens)
    }

    @Test func promptErrors() throws {
        let s = TextBundleFixture.scheduler()
        let noPrompt = GenerationRequest(id: "x", classLabel: 0, policy: .ntp)
        #expect(throws: ParameterError.self) { try s.add(noPrompt) }
        // ~300 prompt tokens plus a 12x20 image (255 positions) pass the model's 512-position context.
        let long = String(repeating: "boot ", count: 300)
        var tooLong = try TextBundleFixture.request("y", prompt: long)
        tooLong.parameters.size = ImageSize(rows: 12, columns: 20)
        #expect(throws: ParameterError.self) { try s.add(tooLong) }
        #expect(throws: ParameterError.self) { try s.add(try TextBundleFixture.request("z", prompt: "a bag", policy: "sjd:17")) }
    }
}
