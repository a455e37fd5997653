import Foundation
import Testing
import Model
@testable import TextModel

/// Our Emu3 VQ decoder against transformers' `Emu3VQVAE.decode` (f32) on Tests/Fixtures/emu3-vq-tiny: a tiny
/// random config with every part of the image path (temporal layers, spatial norms, two-head attention,
/// a widening level with nin_shortcut) on 4x6 and 6x4 grids.
@Suite struct Emu3VQParityTests {
    /// Max |pixel error| in decoder units (the pixels span about [-1.4, 1.8]).
    static let pixelTolerance: Float = 2e-5
    static let fixture = "emu3-vq-tiny"

    @Test func pixelsMatchTheReference() throws {
        let decoder = try Emu3VQDecoder.load(directory: VQCompare.folder(Self.fixture))
        for grid in try VQReferenceGrid.all(in: Self.fixture) {
            let out = try decoder.decode(tokens: grid.tokens, rows: grid.rows, columns: grid.columns)
            let err = VQCompare.maxAbsError(out, grid.pixels)
            print("emu3-vq-tiny grid \(grid.rows)x\(grid.columns): max |pixel error| = \(err)")
            #expect(err <= Self.pixelTolerance, "grid \(grid.name): max |pixel error| \(err)")
        }
    }

    @Test func pngBytesMatchTheImageProcessor() throws {
        let decoder = try Emu3VQDecoder.load(directory: VQCompare.folder(Self.fixture))
        let clip = Emu3PixelNormalization(mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
        for grid in try VQReferenceGrid.all(in: Self.fixture) {
            for (key, normalization) in [("u8", Emu3PixelNormalization()), ("u8clip", clip)] {
                let image = try decoder.image(tokens: grid.tokens, rows: grid.rows, columns: grid.columns,
                                              normalization: normalization)
                #expect(image.width == grid.columns * 2 && image.height == grid.rows * 2 && image.channels == 3)
                let mismatches = try VQCompare.pngMismatches(image, expected: try grid.bytes(key))
                print("emu3-vq-tiny grid \(grid.rows)x\(grid.columns) \(key): \(mismatches) of \(image.pixels.count) bytes differ")
                // A value within the f32 error of an integer boundary may truncate either way.
                #expect(mismatches <= 1, "grid \(grid.name) \(key): \(mismatches) bytes differ")
            }
        }
    }

    /// The same post-processing on the reference's own floats: exact, byte for byte.
    @Test func postProcessingIsExactOnReferenceFloats() throws {
        for grid in try VQReferenceGrid.all(in: Self.fixture) {
            let image = VQPixels.emu3(grid.pixels, channels: 3, height: grid.rows * 2, width: grid.columns * 2)
            #expect(image.pixels == (try grid.bytes("u8")))
        }
    }

    @Test func configReadsNestedSectionWithDefaults() throws {
        let json = #"{"model_type": "emu3", "vq_config": {"codebook_size": 100, "channel_multiplier": [1, 2], "hidden_size": 64, "attn_resolutions": [1], "base_channels": 32}, "text_config": {}}"#
        let config = try VQConfigFile.decode(Emu3VQConfig.self, from: try VQConfigFile.vqSection(Data(json.utf8)), path: "test")
        #expect(config.codebookSize == 100 && config.embedDim == 4 && config.latentChannels == 4)
        #expect(config.temporalDownsampleFactor == 4 && config.temporalUpsamplings == 2 && config.numResBlocks == 2)
        #expect(config.upsampling == 2 && config.numAttentionHeads == 1)
        try config.validate()

        let fixture = try Emu3VQConfig.load(path: VQCompare.folder(Self.fixture) + "/config.json")
        #expect(fixture.numAttentionHeads == 2 && fixture.channelMultiplier == [2, 1] && fixture.attnResolutions == [1])
    }

    @Test func inconsistentConfigsAreRejected() {
        #expect(throws: ModelError.self) { try Emu3VQConfig(latentChannels: 8).validate() }               // != embed_dim
        #expect(throws: ModelError.self) { try Emu3VQConfig(hiddenSize: 512).validate() }                 // != 1024 channels
        #expect(throws: ModelError.self) { try Emu3VQConfig(temporalDownsampleFactor: 3).validate() }
        #expect(throws: ModelError.self) { try Emu3VQConfig(baseChannels: 48).validate() }                // GroupNorm of 32
        #expect(throws: ModelError.self) { try Emu3VQConfig(numAttentionHeads: 3).validate() }
        #expect(throws: Never.self) { try Emu3VQConfig().validate() }
    }

    @Test func badGridsAreErrors() throws {
        let decoder = try Emu3VQDecoder.load(directory: VQCompare.folder(Self.fixture))
        #expect(throws: ModelError.self) { _ = try decoder.decode(tokens: [0, 1, 2], rows: 2, columns: 2) }
        #expect(throws: ModelError.self) { _ = try decoder.decode(tokens: [0, 1, 2, 48], rows: 2, columns: 2) }
        #expect(throws: ModelError.self) { _ = try decoder.decode(tokens: [0, -1, 2, 3], rows: 2, columns: 2) }
    }

    /// The published Emu3 "-hf" layout: the VQ fields under `vq_config` of the full model's config.json, the
    /// tensors under `vqmodel.` spread over shards listed by model.safetensors.index.json.
    @Test func loadsFromAShardedFullCheckpoint() throws {
        let source = try SafeTensorsFile(path: VQCompare.folder(Self.fixture) + "/model.safetensors")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emu3-vq-sharded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var shards = [SafeTensorsWriter(), SafeTensorsWriter()]
        var weightMap: [String: String] = [:]
        for (i, name) in source.tensors.keys.sorted().enumerated() {
            let info = try source.info(name)
            shards[i % 2].add("vqmodel." + name, floats: try source.floats(name), shape: info.shape)
            weightMap["vqmodel." + name] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        for (i, shard) in shards.enumerated() {
            try shard.write(to: dir.appendingPathComponent("model-0000\(i + 1)-of-00002.safetensors").path)
        }
        try JSONSerialization.data(withJSONObject: ["weight_map": weightMap])
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let vqSection = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: VQCompare.folder(Self.fixture) + "/config.json")))
        try JSONSerialization.data(withJSONObject: ["model_type": "emu3", "vq_config": vqSection, "text_config": ["hidden_size": 64]])
            .write(to: dir.appendingPathComponent("config.json"))

        let decoder = try Emu3VQDecoder.load(directory: dir.path)
        let grid = try #require(try VQReferenceGrid.all(in: Self.fixture).first)
        let err = VQCompare.maxAbsError(try decoder.decode(tokens: grid.tokens, rows: grid.rows, columns: grid.columns), grid.pixels)
        #expect(err <= Self.pixelTolerance, "max |pixel error| \(err)")
    }

    @Test func missingWeightsAreErrors() throws {
        let config = try Emu3VQConfig.load(path: VQCompare.folder(Self.fixture) + "/config.json")
        let file = try SafeTensorsFile(path: VQCompare.folder(Self.fixture) + "/model.safetensors")
        #expect(throws: SafeTensorsFile.Failure.self) { _ = try Emu3VQDecoder(file: file, config: config, prefix: "model.vqmodel.") }
        var wider = config
        wider.embedDim = 8; wider.latentChannels = 8
        #expect(throws: SafeTensorsFile.Failure.self) { _ = try Emu3VQDecoder(file: file, config: wider) }
    }
}
