import Foundation
import JobStore
import Testing

/// The /api routes are generated from docs/openapi.yaml (Sources/HTTPAPI/Generated); the generator records
/// the SHA-256 of the spec it read. A spec changed without regenerating would serve routes it no longer
/// describes: this fails until scripts/gen-openapi.sh is rerun and its output committed.
struct OpenAPIGeneratedTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theGeneratedCodeIsFromTheCurrentSpec() throws {
        let spec = try Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.yaml"))
        let recorded = try String(contentsOf: Self.root.appendingPathComponent("Sources/HTTPAPI/Generated/openapi.sha256"), encoding: .utf8)
        #expect(recorded.trimmingCharacters(in: .whitespacesAndNewlines) == sha256Hex(Array(spec)),
                "docs/openapi.yaml changed since Sources/HTTPAPI/Generated was generated: run scripts/gen-openapi.sh and commit its output")
    }
}
