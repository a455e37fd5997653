import Foundation
import Testing
import JobCore
import Model
@testable import Decoding

/// A made-up text model for schedule tests (no weights): an end-of-row layout with a 4-token prompt, and
/// logits that depend only on a query's position and input and that put the most weight on ids outside the
/// image range (EOL, text), so a sampler that looked there would pick them. It records every pass.
final class ToyTextEngine: ImageTokenEngine {
    static let vocab = 48, imageOffset = 24, codebook = 16, eol = 5, suffix = [6, 7, 2]
    let rows: Int
    let columns: Int
    /// The width W, what the window rules speak of.
    var grid: Int { columns }
    let maxQueries: Int
    let maxSequences = 16
    private(set) var openSequences = 0
    private var nextSequence = 0
    var cacheBytes: Int { 0 }
    /// Every pass's queries, in order.
    private(set) var passes: [[DecoderQuery]] = []

    convenience init(grid: Int, maxQueries: Int = 4096) { self.init(rows: grid, columns: grid, maxQueries: maxQueries) }
    /// A `rows` x `columns` grid (a `size=HxW` request's layout).
    init(rows: Int, columns: Int, maxQueries: Int = 4096) { self.rows = rows; self.columns = columns; self.maxQueries = maxQueries }

    var limits: ModelLimits {
        var m = ModelLimits(grid: grid, numClasses: 1, supportsGuidance: true)
        m.conditioning = .text
        return m
    }

    /// `[BOS] caption [SOI] [IMG]` with one caption token per word (ids 10 + word length), the
    /// unconditional prompt with the same number of tokens (padded with id 9) so both prefixes align.
    func setup(for request: GenerationRequest) throws -> DecodingSetup {
        let words = (request.parameters.prompt ?? "").split(separator: " ")
        let cond = [1] + words.map { 10 + min($0.count, 9) } + [3, 4]
        let uncond = [1] + Array(repeating: 9, count: words.count) + [3, 4]
        let layout = ImageLayout(rows: rows, columns: columns, prefixLength: cond.count, imageTokenOffset: Self.imageOffset,
                                 codebookSize: Self.codebook, endOfRow: .init(token: Self.eol, suffix: Self.suffix))
        return DecodingSetup(layout: layout, cond: cond.map { .token($0) }, uncond: uncond.map { .token($0) }, limits: limits)
    }

    func openSequence(for request: GenerationRequest) throws -> SequenceID {
        openSequences += 1; nextSequence += 1
        return SequenceID(slot: nextSequence)
    }

    func closeSequence(_ sequence: SequenceID) { openSequences -= 1 }

    func forward(_ batch: PassBatch) -> [[Float]?] {
        let queries = batch.queries
        passes.append(queries)
        return queries.map { q in
            guard q.wantsLogits, case .token(let x) = q.input else { return nil }
            return (0..<Self.vocab).map { v in
                let noise = Float(((v + 1) * (x + 2) * 7 + q.position * (v + 3)) % 11) * 0.35
                return Self.imageOffset..<(Self.imageOffset + Self.codebook) ~= v ? noise : noise + 30
            }
        }
    }
}

/// The Lumina-mGPT ZipAR oracle (Tests/Fixtures/lumina-zipar-steps.json and its README).
struct LuminaFixture: Decodable {
    struct Row: Decodable {
        let height, width, window, passes, queries: Int
        let cfg: Bool
        let cfgScale: Double
        let decodePass: [[Int]]
        enum CodingKeys: String, CodingKey {
            case height, width, window, passes, queries, cfg
            case cfgScale = "cfg_scale", decodePass = "decode_pass"
        }
    }
    let rows: [Row]

    static func load() throws -> LuminaFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/lumina-zipar-steps.json")
        return try JSONDecoder().decode(LuminaFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct EndOfRowScheduleTests {
    func run(grid: Int, _ policy: String, cfg: Float = 1, prompt: String = "a dark boot", seed: UInt64 = 3,
             engine: ToyTextEngine? = nil) throws -> (GenerationResult, ToyTextEngine) {
        let e = engine ?? ToyTextEngine(grid: grid)
        var p = JobParameters(sampling: SamplingParams(cfgScale: cfg), seed: seed)
        p.policy = try WindowPolicy(parsing: policy); p.prompt = prompt
        let s = BatchScheduler(engine: e, limits: SchedulerLimits(maxRequestsInFlight: 4, maxQueriesPerPass: e.maxQueries))
        return (try s.run([GenerationRequest(id: "t", parameters: p)])[0], e)
    }

    /// Every row of the fixture: the pass that samples each cell, the passes from x(0,0) to x(H-1,W-1), and
    /// the queries per sequence over that span (ours feed the whole prompt in pass 1, theirs only the width
    /// token: the prompt's other tokens are left out of the comparison).
    @Test func officialMatchesTheLuminaLoopRowByRow() throws {
        let fixture = try LuminaFixture.load()
        #expect(fixture.rows.count >= 50)
        for row in fixture.rows {
            #expect(row.height == row.width)
            let (r, _) = try run(grid: row.width, "official:\(row.window)", cfg: row.cfg ? Float(row.cfgScale) : 1)
            #expect(r.stats.passes == row.passes, "H=W=\(row.width) S=\(row.window) cfg \(row.cfg)")
            for i in 0..<row.height { for j in 0..<row.width {
                #expect(r.decodeStep[i * row.width + j] + 1 == row.decodePass[i][j], "cell (\(i), \(j)) S=\(row.window)")
            } }
            let promptTokens = 6   // [BOS] a dark boot [SOI] [IMG]
            let perSequence = r.stats.queries / (row.cfg ? 2 : 1)
            #expect(perSequence - (promptTokens - 1) == row.queries, "queries H=W=\(row.width) S=\(row.window)")
        }
    }

    @Test(arguments: [("ntp", 36), ("zipar:6", 36), ("zipar:4", 26), ("zipar:2", 16), ("zipar:1", 11),
                      ("official:7", 36), ("official:3", 16), ("official:2", 11)])
    func passCounts(policy: String, expected: Int) throws {
        let (r, _) = try run(grid: 6, policy)
        #expect(r.stats.passes == expected && r.stats.tokens == 36)
    }

    /// End-of-row tokens are fed at every row's end, never sampled; inside rows only image ids are drawn
    /// (the toy model prefers other ids by 30 logits); a row's last token is written once, in the pass after
    /// it is sampled, and only when a row below needs it.
    @Test(arguments: ["ntp", "zipar:2", "zipar:4", "official:3", "adaptive:2"])
    func endOfRowTokensAreForcedNeverSampled(policy: String) throws {
        let (r, e) = try run(grid: 5, policy, cfg: 2)
        let layout = try e.setup(for: r.request).layout
        #expect(r.tokens.allSatisfy { (0..<ToyTextEngine.codebook).contains($0) })
        var fed: [Int: Int] = [:]   // position -> input, conditional sequence
        for pass in e.passes {
            for q in pass {
                guard case .token(let x) = q.input else { Issue.record("class input on a text model"); continue }
                switch layout.slot(at: q.position) {
                case .endOfRow?: #expect(x == ToyTextEngine.eol && q.wantsLogits)
                case .image(let i, let j)?:
                    #expect(x == layout.vocabularyID(code: r.tokens[i * 5 + j]))
                    #expect(q.wantsLogits == (j < 4), "x(\(i), \(j)): only a row's last token is a bare write")
                    if j == 4 { #expect(i < 4, "the last row's last token is never fed") }
                case .prefix?: break
                default: Issue.record("query at \(q.position), past the image")
                }
                if q.sequence == pass[0].sequence { fed[q.position] = x }
            }
        }
        for i in 0..<5 { #expect(fed[layout.endOfRowPosition(row: i)!] == (i < 4 ? ToyTextEngine.eol : nil)) }
    }

    @Test func officialWindowOneAndOversizedWindowsAreRefused() throws {
        for bad in ["official:1", "official:8", "sjd:17", "zipar-sjd:7,2"] {
            #expect(throws: ParameterError.self, "\(bad)") { try run(grid: 6, bad) }
        }
        #expect(throws: ParameterError.self) { try run(grid: 6, "zipar:7") }
    }

    /// Common random numbers: a schedule that decodes in the same order with the same contexts gives the same
    /// tokens. zipar:W and official:W+1 run exactly ntp's queries on this layout.
    @Test func fullWindowIsNTP() throws {
        let (ntp, _) = try run(grid: 6, "ntp", cfg: 2)
        for p in ["zipar:6", "official:7", "adaptive:6"] {
            let (r, _) = try run(grid: 6, p, cfg: 2)
            #expect(r.tokens == ntp.tokens && r.stats.passes == ntp.stats.passes && r.decodeStep == ntp.decodeStep, "\(p)")
        }
    }
}
