import Foundation
import Model
import Runner
import Testing

/// Issue 21, item 2: a model whose weights hold NaN or infinity is refused at load with a clear error,
/// whether the NaN sits in the transformer or in the VQ decoder (it used to pass the probe and mark every
/// job done with noise, or trap converting a NaN pixel to a byte).
@Suite struct BrokenModelTests {
    static let classModel = ModelExecutorTests.classModel
    static let textBundle = ModelExecutorTests.textBundle

    /// A copy of `source` whose `file` has its first value of `tensor` (the first float tensor by name when
    /// nil) overwritten with `bits`.
    static func poisoned(_ source: String, file: String, bits: UInt32 = 0x7FC0_0000) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: source, toPath: dir)
        let path = dir + "/" + file
        let weights = try SafeTensorsFile(path: path)
        let name = try #require(weights.tensors.keys.sorted().first { [.f32, .f16, .bf16].contains(weights.tensors[$0]!.type) })
        let t = weights.tensors[name]!
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(t.begin))
        switch t.type {
        case .f32: try handle.write(contentsOf: withUnsafeBytes(of: bits.littleEndian) { Data($0) })
        default: try handle.write(contentsOf: Data([0x00, 0x7E]))      // f16 NaN; bf16 0x7E00 is NaN too
        }
        try handle.close()
        return dir
    }

    @Test(arguments: ["gpt.safetensors", "vq.safetensors"])
    func nanWeightsOfTheClassModelAreRefusedAtLoad(file: String) throws {
        let dir = try Self.poisoned(Self.classModel, file: file)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try loadModelExecutor(directory: dir, batch: 1, maxQueries: 8)
            Issue.record("a model with NaN in \(file) was accepted")
        } catch {
            #expect("\(error)".contains("NaN or infinity") && "\(error)".contains(file), "\(error)")
        }
    }

    @Test func infiniteWeightsOfATextBundleAreRefusedAtLoad() throws {
        let dir = try Self.poisoned(Self.textBundle, file: "vq.safetensors", bits: 0x7F80_0000)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: SafeTensorsFile.Failure.self) { _ = try loadModelExecutor(directory: dir, batch: 1, maxQueries: 8) }
    }

    @Test func nonFinitePixelsAreAnErrorNotATrap() {
        #expect(throws: PixelImage.NonFinitePixels.self) { _ = try PixelImage(decoderOutput: [0, .nan, 0, 0], channels: 1, size: 2) }
        #expect(throws: PixelImage.NonFinitePixels.self) { _ = try PixelImage(decoderOutput: [0, 0, .infinity, 0], channels: 1, size: 2) }
    }
}
