import Foundation
import Testing
@testable import Model

/// Our VQ decoder against pixels from the PyTorch VQ decoder (fp32).
@Suite struct VQParityTests {
    /// Max |pixel error| in decoder units ([-1, 1] range).
    static let pixelTolerance: Float = 1e-3

    func check(model dir: String, fixture: String) throws -> (err: Float, u8Mismatch: Int) {
        let bundle = try ModelBundle(directory: dir)
        let vq = try #require(bundle.vq)
        let f = try Fixtures.file(fixture)
        let grids = try f.integers("tokens")
        let pixels = try f.floats("pixels")
        let u8 = try f.integers("u8")
        let perGrid = bundle.config.gpt.imageTokens
        let images = grids.count / perGrid
        let size = bundle.config.gpt.grid * vq.config.upsampling, ch = vq.config.outChannels
        let perImage = ch * size * size
        var err: Float = 0
        var mismatched = 0
        for i in 0..<images {
            let out = try vq.decode(tokens: Array(grids[(i * perGrid)..<((i + 1) * perGrid)]), grid: bundle.config.gpt.grid)
            for (a, b) in zip(out, pixels[(i * perImage)..<((i + 1) * perImage)]) { err = max(err, abs(a - b)) }
            // u8 fixture is NCHW (or HW for gray); ours is interleaved HWC.
            let img = try PixelImage(decoderOutput: out, channels: ch, size: size)
            for c in 0..<ch {
                for p in 0..<(size * size) where Int(img.pixels[p * ch + c]) != u8[i * perImage + c * size * size + p] {
                    mismatched += 1
                }
            }
        }
        #expect(err <= Self.pixelTolerance, "max |pixel error| \(err)")
        // A value within 1e-5 of an integer boundary may truncate either way.
        #expect(mismatched <= images * perImage / 1000, "\(mismatched) uint8 pixels differ")
        return (err, mismatched)
    }

    @Test func tinyRGBDecoderMatches() throws {
        let r = try check(model: Fixtures.path("tiny-gqa24"), fixture: "tiny-gqa24-vq.safetensors")
        print("tiny-gqa24 VQ max |pixel error| = \(r.err), uint8 mismatches = \(r.u8Mismatch)")
    }

    @Test func convertedOfficialVQMatches() throws {
        // converted-tiny-ref keeps its VQ grids under vq_tokens.
        let bundle = try ModelBundle(directory: Fixtures.path("converted-tiny"))
        let vq = try #require(bundle.vq)
        let f = try Fixtures.file("converted-tiny-ref.safetensors")
        let grids = try f.integers("vq_tokens"), pixels = try f.floats("pixels")
        let n = bundle.config.gpt.imageTokens
        let per = pixels.count / (grids.count / n)
        var err: Float = 0
        for i in 0..<(grids.count / n) {
            let out = try vq.decode(tokens: Array(grids[(i * n)..<((i + 1) * n)]), grid: bundle.config.gpt.grid)
            for (a, b) in zip(out, pixels[(i * per)..<((i + 1) * per)]) { err = max(err, abs(a - b)) }
        }
        #expect(err <= Self.pixelTolerance, "max |pixel error| \(err)")
        print("converted-tiny VQ max |pixel error| = \(err)")
    }

    @Test func bundledDecoderMatches() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.path("fashion16-vq.safetensors")) else {
            Issue.record("fashion16-vq.safetensors fixture missing: run python3 -m tools.fixtures.make_fixtures"); return
        }
        let r = try check(model: Fixtures.bundledModel, fixture: "fashion16-vq.safetensors")
        print("fashion-16 VQ max |pixel error| = \(r.err), uint8 mismatches = \(r.u8Mismatch)")
    }

    @Test func badTokenIsAnError() throws {
        let bundle = try ModelBundle(directory: Fixtures.path("tiny-gqa24"))
        let vq = try #require(bundle.vq)
        #expect(throws: ModelError.self) { _ = try vq.decode(tokens: [Int](repeating: 0, count: 575) + [9999], grid: 24) }
        #expect(throws: ModelError.self) { _ = try vq.decode(tokens: [1, 2, 3], grid: 24) }
    }
}
