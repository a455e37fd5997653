import Foundation
import Testing
@testable import Kernels
@testable import Model

/// The official VQ-16 decoder layout (ch_mult [1,1,2,2,4], 2 res blocks, attention at the deepest
/// level, codebook 16384 x 8) at ch 32 / 64 px, against the PyTorch reference (tools/llamagen.py) with
/// the same generated weights (tools/vq_random.py = VQRandom): fixture by
/// `python3 -m tools.fixtures.make_fixtures --only vq16small`.
@Suite(.serialized) struct VQ16ParityTests {
    static let config = VQConfig(codebookSize: 16384, codebookEmbedDim: 8, codebookL2Norm: true, zChannels: 64, ch: 32,
                                 chMult: [1, 1, 2, 2, 4], numResBlocks: 2, outChannels: 3, imageSize: 64)
    static let seed: UInt64 = 7

    func check() throws -> (err: Float, mismatched: Int) {
        let f = try Fixtures.file("vq16-small-vq.safetensors")
        let grids = try f.integers("tokens"), pixels = try f.floats("pixels"), u8 = try f.integers("u8")
        let grid = 4, n = grid * grid, size = 64, per = 3 * size * size
        // The generator is the same on both sides: the fixture's tokens come from it too.
        #expect(grids == VQRandom.tokens(codebookSize: 16384, count: grids.count, seed: Self.seed))
        let vq = VQDecoder(randomFor: Self.config, seed: Self.seed)
        var err: Float = 0, mismatched = 0
        for i in 0..<(grids.count / n) {
            let out = try vq.decode(tokens: Array(grids[(i * n)..<((i + 1) * n)]), grid: grid)
            #expect(out.count == per)
            for (a, b) in zip(out, pixels[(i * per)..<((i + 1) * per)]) { err = max(err, abs(a - b)) }
            let img = try PixelImage(decoderOutput: out, channels: 3, size: size)
            for c in 0..<3 {
                for p in 0..<(size * size) where Int(img.pixels[p * 3 + c]) != u8[i * per + c * size * size + p] { mismatched += 1 }
            }
        }
        return (err, mismatched)
    }

    @Test func matchesPyTorch() throws {
        let r = try check()
        print("VQ-16 layout (ch 32, 64 px) max |pixel error| = \(r.err), uint8 mismatches = \(r.mismatched) [\(KernelRuntime.instructionSet)]")
        #expect(r.err <= 5e-5, "max |pixel error| \(r.err)")
        #expect(r.mismatched <= 24, "\(r.mismatched) uint8 pixels differ")
    }

    @Test func scalarPathMatches() throws {
        KernelRuntime.forceScalar(true)
        defer { KernelRuntime.forceScalar(false) }
        let r = try check()
        print("VQ-16 layout, scalar kernels: max |pixel error| = \(r.err), uint8 mismatches = \(r.mismatched)")
        #expect(r.err <= 5e-5, "max |pixel error| \(r.err)")
    }

    @Test func weightsMatchTheGenerator() {
        // A few values pinned (tools/vq_random.py prints the same): catches a drift on either side.
        let w = VQRandom.tensor("decoder.conv_in.weight", shape: [128, 64, 3, 3], seed: Self.seed)
        #expect(w.count == 128 * 64 * 9)
        #expect(w.allSatisfy { abs($0) <= Float((3.0 / 576.0).squareRoot()) })
        let g = VQRandom.tensor("decoder.norm_out.weight", shape: [32], seed: Self.seed)
        #expect(g.allSatisfy { $0 >= 0.8 && $0 <= 1.2 })
    }
}
