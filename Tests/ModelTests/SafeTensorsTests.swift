import Foundation
import Kernels
import Testing
@testable import Model

@Suite struct SafeTensorsTests {
    let values: [Float] = [0, 1, -2.5, 0.333333, 65504, -1e-3]

    func roundTrip(_ type: ScalarType) throws -> [Float] {
        var w = SafeTensorsWriter()
        w.add("t", floats: values, shape: [2, 3], as: type)
        let path = try temporaryFile(try w.encoded())
        let f = try SafeTensorsFile(path: path)
        #expect(f.tensors["t"]?.shape == [2, 3])
        #expect(f.tensors["t"]?.type == type)
        return try f.floats("t", shape: [2, 3])
    }

    @Test func f32IsExact() throws {
        #expect(try roundTrip(.f32) == values)
    }

    @Test func f16IsWithinHalfPrecision() throws {
        for (a, b) in zip(try roundTrip(.f16), values) {
            #expect(abs(a - b) <= abs(b) * 1e-3 + 1e-6)
        }
    }

    @Test func bf16IsWithinBFloatPrecision() throws {
        for (a, b) in zip(try roundTrip(.bf16), values) {
            #expect(abs(a - b) <= abs(b) * 1e-2 + 1e-6)
        }
    }

    @Test func integersRoundTrip() throws {
        var w = SafeTensorsWriter()
        w.add("i32", integers: [1, -2, 300], shape: [3], as: .i32)
        w.add("i64", integers: [5, 16383], shape: [2], as: .i64)
        w.metadata["format"] = "pt"
        let f = try SafeTensorsFile(path: try temporaryFile(try w.encoded()))
        #expect(try f.integers("i32") == [1, -2, 300])
        #expect(try f.integers("i64") == [5, 16383])
        #expect(f.metadata["format"] == "pt")
    }

    @Test func missingTensorIsNamed() throws {
        var w = SafeTensorsWriter()
        w.add("a", floats: [1], shape: [1])
        let path = try temporaryFile(try w.encoded())
        let f = try SafeTensorsFile(path: path)
        #expect(throws: SafeTensorsFile.Failure.missingTensor(path: path, tensor: "b")) { try f.floats("b") }
    }

    @Test func wrongShapeIsNamed() throws {
        var w = SafeTensorsWriter()
        w.add("a", floats: [1, 2, 3, 4], shape: [2, 2])
        let path = try temporaryFile(try w.encoded())
        let f = try SafeTensorsFile(path: path)
        #expect(throws: SafeTensorsFile.Failure.wrongShape(path: path, tensor: "a", expected: [4], found: [2, 2])) {
            try f.floats("a", shape: [4])
        }
    }

    @Test func truncatedFileIsRejected() throws {
        var w = SafeTensorsWriter()
        w.add("a", floats: [Float](repeating: 1, count: 64), shape: [64])
        let bytes = try w.encoded()
        for cut in [4, 20, bytes.count - 1] {
            let path = try temporaryFile(Array(bytes.prefix(cut)))
            do {
                _ = try SafeTensorsFile(path: path)
                Issue.record("a file cut at \(cut) bytes was accepted")
            } catch let e as SafeTensorsFile.Failure {
                #expect("\(e)".contains("truncated"), "cut at \(cut): \(e)")
            }
        }
    }

    @Test func unsupportedDTypeIsNamed() throws {
        let header = #"{"x":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 8)
        let path = try temporaryFile(bytes)
        #expect(throws: SafeTensorsFile.Failure.unsupportedType(path: path, tensor: "x", dtype: "C64")) {
            _ = try SafeTensorsFile(path: path)
        }
    }

    @Test func garbageHeaderIsRejected() throws {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(5).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += Array("nope!".utf8)
        let path = try temporaryFile(bytes)
        #expect(throws: SafeTensorsFile.Failure.self) { _ = try SafeTensorsFile(path: path) }
    }
}

func temporaryFile(_ bytes: [UInt8], suffix: String = ".safetensors") throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("zipar-test-\(UUID().uuidString)\(suffix)").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}
