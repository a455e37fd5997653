import Foundation
import Testing
import JobCore
import Model
import TextModel
@testable import Decoding

/// A 12x20 grid (`size=12x20`) generated end to end through Tests/Fixtures/text-bundle-tiny, whose native grid
/// is 6x6: the meta text names the grid, the layout puts an end-of-row token after each 20-token row, the
/// KV-cache decode agrees with one teacher-forced prefill, and the VQ decoder draws a 12f x 20f image.
@Suite(.serialized) struct NonSquareTextBundleTests {
    static let size = ImageSize(rows: 12, columns: 20)

    func request(_ policy: String, cfg: Float = 1, seed: UInt64 = 4, temperature: Float = 1,
                 size: ImageSize? = NonSquareTextBundleTests.size) throws -> GenerationRequest {
        var r = try TextBundleFixture.request(policy, prompt: "a dark ankle boot", policy: policy, cfg: cfg, seed: seed)
        r.parameters.size = size
        r.parameters.sampling.temperature = temperature
        return r
    }

    /// The native grid keeps layout.json's meta ids (what training saw); another grid's meta text is "H*W",
    /// encoded as tools/train/text2img/layout.py encodes the native one.
    @Test func metaTextNamesTheGrid() throws {
        let b = TextBundleFixture.bundle
        #expect(b.metaIDs(rows: 6, columns: 6) == b.layout.metaIDs)
        #expect(b.tokenizer.encode("6*6") == b.layout.metaIDs)
        let meta = b.tokenizer.encode("12*20")
        let setup = try b.setup(for: try request("ntp", cfg: 2), maxPositions: 4096)
        let cond = setup.cond.compactMap(\.tokenValue)
        #expect(Array(cond.suffix(meta.count + 1)) == meta + [b.layout.imageMarker])
        #expect(Array(setup.uncond.compactMap(\.tokenValue).suffix(meta.count + 1)) == meta + [b.layout.imageMarker])
        #expect(setup.layout.rows == 12 && setup.layout.columns == 20 && setup.layout.rowStride == 21)
    }

    /// Greedy ntp picks, at every cell, the best image id of one prefill over `prompt + imageSequence`: the
    /// positions of a 12x20 end-of-row layout are the ones the cache was written at.
    @Test func greedyNTPMatchesTeacherForcing() throws {
        let b = TextBundleFixture.bundle
        let r = try request("ntp", temperature: 0)
        let decoded = try TextBundleFixture.scheduler().run([r])[0]
        #expect(decoded.stats.passes == 240 && decoded.tokens.count == 240)
        let layout = try b.setup(for: r, maxPositions: 4096).layout
        let prompt = b.promptTokens(caption: "a dark ankle boot", rows: 12, columns: 20)
        let sequence = prompt + layout.imageSequence(codes: decoded.tokens)
        let logits = try b.transformer.engine(maxQueries: 64, maxSequences: 1, maxPositions: sequence.count).prefillLogits(tokens: sequence)
        for t in 0..<240 {
            let image = layout.imageLogits(logits[layout.position(ofToken: t) - 1])
            let best = image.indices.max { image[$0] < image[$1] }!
            #expect(decoded.tokens[t] == best, "token \(t)")
        }
    }

    /// Pass counts of the schedule math with H = 12, W = 20; zipar:W and official:W+1 draw ntp's tokens.
    @Test func policiesAndImage() throws {
        let s = TextBundleFixture.scheduler()
        let ntp = try s.run([try request("ntp", cfg: 2)])[0]
        #expect(ntp.stats.passes == 240 && Set(ntp.tokens).count > 3)
        for (policy, passes) in [("zipar:20", 240), ("official:21", 240), ("zipar:4", 11 * 4 + 20), ("official:5", 11 * 4 + 20)] {
            let r = try s.run([try request(policy, cfg: 2)])[0]
            #expect(r.stats.passes == passes, "\(policy)")
            if passes == 240 { #expect(r.tokens == ntp.tokens, "\(policy)") }
            #expect(r.tokens.allSatisfy { (0..<512).contains($0) })
        }
        for policy in ["adaptive:4", "sjd:4", "zipar-sjd:4,4"] {
            let r = try s.run([try request(policy, cfg: 2)])[0]
            #expect(r.stats.tokens == 240 && r.stats.passes <= 240, "\(policy)")
        }
        let b = TextBundleFixture.bundle
        let f = b.vq!.config.upsampling
        let image = try b.image(codes: ntp.tokens, rows: 12, columns: 20)
        #expect(image.height == 12 * f && image.width == 20 * f)
        #expect(try image.pngData().count > 8)
    }

    /// The limit: rows x (columns + 1) positions must leave `ModelLimits.promptReserve` of the context
    /// (512 positions here); the error names `size`.
    @Test func oversizedGridsAreRefused() throws {
        let b = TextBundleFixture.bundle
        #expect(b.limits.maxImagePositions == 512 - ModelLimits.promptReserve)
        // Submit and the worker read the same limits from the folder (TextModelIdentity) as the decoder has.
        #expect(try TextModelIdentity.load(directory: TextBundleFixture.path)?.limits == b.limits)
        for bad in [ImageSize(rows: 24, columns: 24), ImageSize(rows: 2, columns: 256), ImageSize(rows: 257, columns: 1)] {
            #expect(throws: ParameterError.self, "\(bad)") { try b.setup(for: try request("ntp", size: bad), maxPositions: 4096) }
            do { _ = try b.setup(for: try request("ntp", size: bad), maxPositions: 4096) } catch let e as ParameterError {
                #expect(e.field == "size")
            }
        }
        _ = try b.setup(for: try request("ntp", size: ImageSize(rows: 22, columns: 21)), maxPositions: 4096)
    }
}
