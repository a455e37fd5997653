import Foundation
import Testing

/// `zipar generate --prompts` and `zipar compare --prompt` on the tiny text-to-image bundle: many prompts in one
/// continuous batch (what the text quality tool and the README's prompt grid rely on), and the contact sheet.
@Suite struct TextGenerateTests {
    static let bundle = Tool.root.appendingPathComponent("Tests/Fixtures/text-bundle-tiny").path

    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("text-generate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func promptsFileWritesOneManifestLinePerImageInPromptOrder() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# two prompts\na dark boot\n\na light bag\n".write(toFile: dir + "/p.txt", atomically: true, encoding: .utf8)
        let run = try Tool.run("zipar", ["generate", "--model", Self.bundle, "--prompts", dir + "/p.txt", "--count", "2",
                                         "--policy", "zipar:2", "--tokens-only", "--npy", dir + "/all.npy",
                                         "--sheet", dir + "/sheet.png", "--out", dir + "/out"])
        #expect(run.status == 0, "\(run.err)")
        let manifest = try String(contentsOfFile: dir + "/out/manifest.tsv", encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(manifest.count == 5)
        #expect(Set(manifest.dropFirst().map { "\($0[1]) \($0[2]) \($0[3])" })
                == ["0 a dark boot 1", "0 a dark boot 2", "1 a light bag 1", "1 a light bag 2"])
        for name in ["p0-1", "p0-2", "p1-1", "p1-2"] {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/out/\(name).tokens"))
        }
        // --npy: 4 images in prompt-major order; --sheet: a PNG
        let npy = try Data(contentsOf: URL(fileURLWithPath: dir + "/all.npy"))
        #expect(String(decoding: npy.prefix(120), as: UTF8.self).contains("'shape': (4, "))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/sheet.png")).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }

    /// The README's command on the bundled text model: one prompt, one PNG.
    @Test func bundledTextModelDrawsAPromptToAPNG() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = Tool.root.appendingPathComponent("models/fashion-text-16").path
        let run = try Tool.run("zipar", ["generate", "--model", model, "--prompt", "a dark ankle boot", "--policy", "zipar:4",
                                         "--count", "1", "--out", dir + "/boot.png"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("passes 76"))   // (16-1)*4 + 16 on the 16x16 end-of-row layout
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/boot.png"))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }

    /// `--size 12x20` for generate and heatmap: a 20 x 12 px image from the fixture's 1x VQ, zipar:4 passes
    /// (12-1)*4 + 20, a heatmap of 12 x 20 cells; a grid past the context and a malformed size are refused.
    @Test func sizeDrawsNonSquareGrids() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Tool.run("zipar", ["generate", "--model", Self.bundle, "--prompt", "a dark boot", "--size", "12x20",
                                         "--policy", "zipar:4", "--count", "1", "--out", dir + "/wide.png"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("passes 64") && run.out.contains("(ntp 240)"), "\(run.out)")
        func size(_ png: String) throws -> (Int, Int) {
            let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
            func be(_ i: Int) -> Int { d[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
            return (be(16), be(20))   // IHDR width, height
        }
        #expect(try size(dir + "/wide.png") == (20, 12))
        let heat = try Tool.run("zipar", ["heatmap", "--model", Self.bundle, "--prompt", "a dark boot", "--size", "12x20",
                                          "--policies", "zipar:4", "--cell", "2", "--out", dir + "/heat.png"])
        #expect(heat.status == 0, "\(heat.err)")
        #expect(try size(dir + "/heat.png").0 > 40)
        let big = try Tool.run("zipar", ["generate", "--model", Self.bundle, "--prompt", "a dark boot", "--size", "24x24", "--out", dir + "/b"])
        #expect(big.status != 0 && big.err.contains("size:"), "\(big.err)")
        let bad = try Tool.run("zipar", ["generate", "--model", Self.bundle, "--prompt", "a dark boot", "--size", "12y20", "--out", dir + "/b"])
        #expect(bad.status == 2 && bad.err.contains("--size"), "\(bad.err)")
    }

    @Test func promptAndPromptsTogetherAreRefused() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x\n".write(toFile: dir + "/p.txt", atomically: true, encoding: .utf8)
        let both = try Tool.run("zipar", ["generate", "--model", Self.bundle, "--prompt", "a boot", "--prompts", dir + "/p.txt",
                                          "--out", dir + "/o"])
        #expect(both.status != 0)
        #expect(both.err.contains("not both"))
        try "# only a comment\n\n".write(toFile: dir + "/empty.txt", atomically: true, encoding: .utf8)
        let empty = try Tool.run("zipar", ["generate", "--model", Self.bundle, "--prompts", dir + "/empty.txt", "--out", dir + "/o"])
        #expect(empty.status != 0)
        #expect(empty.err.contains("has no prompts"))
    }

    @Test func compareDrawsOnePanelPerPolicyForAPrompt() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Tool.run("zipar", ["compare", "--model", Self.bundle, "--prompt", "a dark boot",
                                         "--policies", "ntp,zipar:2,official:2", "--out", dir + "/sheet.png"])
        #expect(run.status == 0, "\(run.err)")
        let lines = run.out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("ntp: ") } && lines.contains { $0.hasPrefix("zipar:2: ") })
        #expect(FileManager.default.fileExists(atPath: dir + "/sheet.png"))
        let classOnly = try Tool.run("zipar", ["compare", "--model", Self.bundle, "--class", "0", "--out", dir + "/x.png"])
        #expect(classOnly.status != 0)
        #expect(classOnly.err.contains("use --prompt"))
    }
}
