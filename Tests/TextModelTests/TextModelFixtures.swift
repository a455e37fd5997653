import Foundation
import Kernels
import Model
@testable import TextModel

/// Where the committed reference fixtures for the text-to-image families live (made by tools/ scripts with
/// the reference implementations; see each fixture folder's README).
enum TextModelFixtures {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
    }

    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// A fixture's reference: the input tokens and the raw lm_head logits of every position (f32).
    struct Reference {
        let tokens: [Int]
        let logits: [[Float]]
        let file: SafeTensorsFile
    }

    static func reference(_ folder: String) throws -> Reference {
        let file = try SafeTensorsFile(path: path(folder) + "/expected.safetensors")
        let tokens = try file.integers("tokens")
        let flat = try file.floats("logits")
        let vocab = flat.count / tokens.count
        let rows = stride(from: 0, to: flat.count, by: vocab).map { Array(flat[$0..<$0 + vocab]) }
        return Reference(tokens: tokens, logits: rows, file: file)
    }

    /// Max |a - b| over two row sets of the same shape.
    static func maxAbsDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        precondition(a.count == b.count, "\(a.count) rows vs \(b.count)")
        var m: Float = 0
        for (ra, rb) in zip(a, b) {
            precondition(ra.count == rb.count, "row widths \(ra.count) vs \(rb.count)")
            for (x, y) in zip(ra, rb) { m = max(m, abs(x - y)) }
        }
        return m
    }

    /// A fresh scratch directory (removed by the caller with `removeScratch`).
    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("textmodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies a checkpoint's tensors into `directory/model.safetensors`, renamed and re-typed on the way.
    static func rewriteCheckpoint(from folder: String, to directory: URL, type: ScalarType? = nil,
                                  rename: (String) -> String = { $0 }) throws {
        let checkpoint = try HFCheckpoint(directory: path(folder))
        var writer = SafeTensorsWriter()
        for name in checkpoint.tensorNames {
            let info = try checkpoint.info(name)
            writer.add(rename(name), floats: try checkpoint.floats(name), shape: info.shape, as: type ?? info.type)
        }
        try writer.write(to: directory.appendingPathComponent(HFCheckpoint.singleFileName).path)
    }
}
