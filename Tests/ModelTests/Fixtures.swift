import Foundation
@testable import Model

/// Paths of the committed fixtures (made by `python3 -m tools.fixtures.make_fixtures`).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let repo = root.deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    static func file(_ name: String) throws -> SafeTensorsFile { try SafeTensorsFile(path: path(name)) }
    static var bundledModel: String { repo.appendingPathComponent("models/fashion-16").path }

    /// Max |a - b| over two row sets.
    static func maxAbsDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        var m: Float = 0
        for (ra, rb) in zip(a, b) { for (x, y) in zip(ra, rb) { m = max(m, abs(x - y)) } }
        return m
    }

    /// Splits a flat [rows * width] array into rows.
    static func rows(_ flat: [Float], width: Int) -> [[Float]] {
        stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<($0 + width)]) }
    }
}
