import Foundation
import Testing
import Model
@testable import TextModel

/// Our Chameleon / Lumina-mGPT VQGAN decoder against tools/fixtures/chameleon_vqgan_reference.py (f32) on
/// Tests/Fixtures/chameleon-vq-tiny: a tiny random config (latent width != codebook width, attention in the
/// middle and at the deepest level, a widening level with nin_shortcut) on 4x6 and 6x4 grids.
@Suite struct ChameleonVQParityTests {
    /// Max |pixel error| in decoder units (the pixels span about [-1.6, 1.3]).
    static let pixelTolerance: Float = 2e-5
    static let fixture = "chameleon-vq-tiny"

    @Test func pixelsMatchTheReference() throws {
        let decoder = try ChameleonVQDecoder.load(directory: VQCompare.folder(Self.fixture))
        for grid in try VQReferenceGrid.all(in: Self.fixture) {
            let out = try decoder.decode(tokens: grid.tokens, rows: grid.rows, columns: grid.columns)
            let err = VQCompare.maxAbsError(out, grid.pixels)
            print("chameleon-vq-tiny grid \(grid.rows)x\(grid.columns): max |pixel error| = \(err)")
            #expect(err <= Self.pixelTolerance, "grid \(grid.name): max |pixel error| \(err)")
        }
    }

    @Test func pngBytesMatchTheImageTokenizer() throws {
        let decoder = try ChameleonVQDecoder.load(directory: VQCompare.folder(Self.fixture))
        for grid in try VQReferenceGrid.all(in: Self.fixture) {
            let image = try decoder.image(tokens: grid.tokens, rows: grid.rows, columns: grid.columns)
            #expect(image.width == grid.columns * 2 && image.height == grid.rows * 2 && image.channels == 3)
            let mismatches = try VQCompare.pngMismatches(image, expected: try grid.bytes("u8"))
            print("chameleon-vq-tiny grid \(grid.rows)x\(grid.columns): \(mismatches) of \(image.pixels.count) bytes differ")
            // A value within the f32 error of an integer boundary may truncate either way.
            #expect(mismatches <= 1, "grid \(grid.name): \(mismatches) bytes differ")
        }
    }

    /// The same post-processing on the reference's own floats: exact, byte for byte.
    @Test func postProcessingIsExactOnReferenceFloats() throws {
        for grid in try VQReferenceGrid.all(in: Self.fixture) {
            let image = VQPixels.chameleon(grid.pixels, channels: 3, height: grid.rows * 2, width: grid.columns * 2)
            #expect(image.pixels == (try grid.bytes("u8")))
        }
    }

    @Test func configReadsVQSectionAndAliases() throws {
        let fixture = try ChameleonVQConfig.load(path: VQCompare.folder(Self.fixture) + "/config.json")
        #expect(fixture.embedDim == 8 && fixture.latentChannels == 16 && fixture.numEmbeddings == 40)
        #expect(fixture.outChannels == 3 && fixture.attnResolutions == [4] && fixture.upsampling == 2)
        #expect(fixture.hasAttention(level: 1) && !fixture.hasAttention(level: 0))

        // The released VQGAN: attn_resolutions null, original spellings z_channels / out_ch.
        let json = #"{"vq_config": {"attn_resolutions": null, "z_channels": 64, "out_ch": 1, "channel_multiplier": [1, 2]}}"#
        let c = try VQConfigFile.decode(ChameleonVQConfig.self, from: try VQConfigFile.vqSection(Data(json.utf8)), path: "test")
        #expect(c.attnResolutions.isEmpty && c.latentChannels == 64 && c.outChannels == 1)
        #expect(c.embedDim == 256 && c.numEmbeddings == 8192 && c.resolution == 512 && c.attnType == "vanilla")
        try c.validate()
    }

    @Test func attentionResolutionsCountFromTheDeepestSide() {
        // resolution 512, 5 levels: sides 512, 256, 128, 64, 32 from level 0 to the deepest.
        let c = ChameleonVQConfig(attnResolutions: [32, 128])
        #expect((0..<5).map { c.hasAttention(level: $0) } == [false, false, true, false, true])
        // A side that does not halve evenly is rounded down at the deepest level, then doubled: 100 -> 25 -> 50, 100.
        let odd = ChameleonVQConfig(resolution: 100, channelMultiplier: [1, 2, 2], attnResolutions: [25, 100])
        #expect((0..<3).map { odd.hasAttention(level: $0) } == [true, false, true])
        let none = ChameleonVQConfig(attnResolutions: [32], attnType: "none")
        #expect(!none.hasAttention(level: 4))
    }

    @Test func unsupportedConfigsAreRejected() {
        #expect(throws: ModelError.self) { try ChameleonVQConfig(attnType: "linear").validate() }
        #expect(throws: ModelError.self) { try ChameleonVQConfig(baseChannels: 40).validate() }
        #expect(throws: ModelError.self) { try ChameleonVQConfig(channelMultiplier: []).validate() }
    }

    @Test func badGridsAreErrors() throws {
        let decoder = try ChameleonVQDecoder.load(directory: VQCompare.folder(Self.fixture))
        #expect(throws: ModelError.self) { _ = try decoder.decode(tokens: [0, 1, 2], rows: 2, columns: 2) }
        #expect(throws: ModelError.self) { _ = try decoder.decode(tokens: [0, 1, 2, 40], rows: 2, columns: 2) }
        #expect(throws: ModelError.self) { _ = try decoder.decode(tokens: [], rows: 0, columns: 0) }
    }
}
