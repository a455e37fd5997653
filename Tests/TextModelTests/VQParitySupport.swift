import Foundation
import Model

/// One token grid of a VQ fixture's reference.safetensors (tools/fixtures/make_text_vq_fixtures.py): the tokens, the
/// reference decoder's f32 pixels and its uint8 post-processing.
struct VQReferenceGrid {
    let name: String
    let tokens: [Int]
    let rows: Int, columns: Int
    let pixels: [Float]                    // [channels][height][width]
    let reference: SafeTensorsFile

    /// The grids `a` (4 x 6) and `b` (6 x 4) of the fixture folder `folder`.
    static func all(in folder: String) throws -> [VQReferenceGrid] {
        let file = try SafeTensorsFile(path: TextModelFixtures.root.appendingPathComponent(folder)
            .appendingPathComponent("reference.safetensors").path)
        return try ["a", "b"].map { name in
            let shape = try file.info("tokens_\(name)").shape
            return VQReferenceGrid(name: name, tokens: try file.integers("tokens_\(name)"), rows: shape[0], columns: shape[1],
                                   pixels: try file.floats("pixels_\(name)"), reference: file)
        }
    }

    /// A reference uint8 image `[height][width][channels]` stored under `key_<grid>`.
    func bytes(_ key: String) throws -> [UInt8] {
        try reference.integers("\(key)_\(name)").map { UInt8($0) }
    }
}

enum VQCompare {
    static func maxAbsError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "\(a.count) values against \(b.count)")
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Bytes that differ after a PNG round trip of `image` (what a job stores), against `expected`.
    static func pngMismatches(_ image: PixelImage, expected: [UInt8]) throws -> Int {
        let decoded = try PixelImage.fromPNG(try image.pngData(), channels: image.channels)
        precondition(decoded.pixels.count == expected.count, "image sizes differ")
        return zip(decoded.pixels, expected).filter { $0.0 != $0.1 }.count
    }

    static func folder(_ name: String) -> String {
        TextModelFixtures.root.appendingPathComponent(name).path
    }
}
