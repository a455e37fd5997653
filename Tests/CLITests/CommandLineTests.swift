import Foundation
import JobCore
import JobStore
import Testing
import TestSupport

/// The built executables as an operator runs them: exit codes, JSON on stdout, and the admin commands
/// against a real PostgreSQL (a fresh database per test, given to the children as PGDATABASE).
enum Tool {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The executables sit beside the test bundle (`swift build --build-tests` builds both).
    static let binDir: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: beside.appendingPathComponent("zipar-admin").path) { return beside }
        return root.appendingPathComponent(".build/debug")
    }()
    static let model = root.appendingPathComponent("models/fashion-16").path

    struct Run {
        var status: Int32
        var out: String
        var err: String
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(out.utf8)) }
    }

    /// Runs `tool` to completion; stdout and stderr go through files so neither pipe can fill up.
    static func run(_ tool: String, _ args: [String], database: String? = nil, cwd: String? = nil,
                    environment: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(tool)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        if let database { env["PGDATABASE"] = database; env["DATABASE_URL"] = nil }
        env.merge(environment) { $1 }
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: try String(contentsOf: outURL, encoding: .utf8),
                   err: try String(contentsOf: errURL, encoding: .utf8))
    }

    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

@Suite struct ExitCodeTests {
    /// Issue 21, item 6: numeric flags are bounded before anything is allocated (10000000 used to grow to
    /// 20 GB and abort; 99999999999 aborted at once): a usage error (exit 2) naming the flag and its range.
    @Test func numericFlagsAreBoundedAtParseTime() throws {
        for (tool, prefix) in [("zipar-worker", ["--model", "x"]), ("zipar", ["generate", "--model", "x", "--class", "0", "--out", "/tmp/x"])] {
            for (flag, value) in [("--max-queries", "10000000"), ("--max-queries", "99999999999"), ("--max-queries", "1"),
                                  ("--batch", "0"), ("--batch", "100000")] {
                let r = try Tool.run(tool, prefix + [flag, value])
                #expect(r.status == 2, "\(tool) \(flag) \(value): exit \(r.status)")
                #expect(r.err.contains(flag), "\(tool) \(flag) \(value): \(r.err)")
            }
        }
    }

    @Test func usageErrorsExitTwoAndHelpZero() throws {
        #expect(try Tool.run("zipar-admin", ["stats", "--window", "0"]).status == 2)
        #expect(try Tool.run("zipar-submit", ["--bogus"]).status == 2)
        #expect(try Tool.run("zipar-worker", ["--model", "x", "--lease-seconds", "nan"]).status == 2)
        #expect(try Tool.run("zipar-worker", ["--model", "x", "--max-queries", "0"]).status == 2)
        #expect(try Tool.run("zipar", ["generate", "--model", "x", "--class", "0", "--out", "/tmp/x", "--storage", "f8"]).status == 2)
        let help = try Tool.run("zipar-admin", ["--help"])
        #expect(help.status == 0 && help.out.contains("Exit codes: 0 ok, 1 failure"))
        for tool in ["zipar", "zipar-submit", "zipar-worker", "zipar-admin", "zipar-bench"] {
            let v = try Tool.run(tool, ["--version"])
            #expect(v.status == 0 && !v.out.isEmpty, "\(tool)")
        }
    }

    /// Every `--policy` help lists every policy (written from `WindowPolicy.forms`), and the official schedule
    /// flag on a policy it cannot apply to is a usage error naming the flag.
    @Test func policyHelpListsEveryPolicy() throws {
        for (tool, args) in [("zipar-submit", ["--help"]), ("zipar", ["generate", "--help"])] {
            let help = try Tool.run(tool, args)
            let text = help.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(help.status == 0)
            for form in WindowPolicy.forms { #expect(text.contains(form.syntax + " ("), "\(tool): \(form.syntax)") }
        }
        let r = try Tool.run("zipar-submit", ["-", "--model", Tool.model, "--policy", "sjd:4", "--official-schedule", "--dry-run"])
        #expect(r.status == 2 && r.err.contains("--official-schedule"), "\(r.err)")
    }

    @Test func deprecatedFlagsStillWorkWithAWarning() throws {
        let r = try Tool.run("zipar", ["heatmap", "--model", Tool.model, "--policy", "zipar:8", "--out", try Tool.tempDir() + "/h.png"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("--policy is deprecated"))
    }

    @Test func aWorkerWithNoUsableModelExitsNonZero() throws {
        let dir = try Tool.tempDir()
        try FileManager.default.copyItem(atPath: Tool.model + "/config.json", toPath: dir + "/config.json")
        try Data(repeating: 0, count: 1000).write(to: URL(fileURLWithPath: dir + "/gpt.safetensors"))
        let r = try Tool.run("zipar-worker", ["--model", dir, "--drain"])
        #expect(r.status == 1)
        #expect(r.err.contains("no model loaded"), "\(r.err)")
    }
}

@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct OperatorCommandTests {
    @Test func submitWorkShowExportPurge() async throws {
        try await PG.withDatabase(migrate: false) { config, _ in
            let db = config.database
            let migrated = try Tool.run("zipar-admin", ["migrate", "--json"], database: db)
            #expect((try migrated.json() as? [String: Any])?["version"] as? Int == JobStore.expectedSchemaVersion)
            let work = try Tool.tempDir()
            let prompts = work + "/p.txt"
            try "dress label=hero seed=3\ncoat count=2 label=pair\n".write(toFile: prompts, atomically: true, encoding: .utf8)

            // Queues exist only when made; pausing a misspelled one is an error.
            let missing = try Tool.run("zipar-submit", ["--model", Tool.model, "--queue", "q", prompts], database: db)
            #expect(missing.status == 1 && missing.err.contains("does not exist"))
            #expect(try Tool.run("zipar-admin", ["pause", "qq"], database: db).status == 1)

            let dry = try Tool.run("zipar-submit", ["--model", Tool.model, "--queue", "q", "--dry-run", "--json", prompts], database: db)
            #expect((try dry.json() as? [String: Any])?["valid"] as? Int == 3)
            let sub = try Tool.run("zipar-submit", ["--model", Tool.model, "--queue", "q", "--create-queue", "--json", prompts], database: db)
            let ids = try #require((try sub.json() as? [String: Any])?["ids"] as? [String])
            #expect(ids.count == 3)

            // A draining worker on a paused queue does not call it drained.
            #expect(try Tool.run("zipar-admin", ["pause", "q"], database: db).status == 0)
            let worker = ["--model", Tool.model, "--queue", "q", "--drain", "--simulate-pass-ms", "1", "--log-level", "error"]
            let paused = try Tool.run("zipar-worker", worker, database: db)
            #expect(paused.status == 1 && paused.err.contains("paused with 3 queued"), "\(paused.err)")
            let resumed = try Tool.run("zipar-admin", ["resume", "q", "--json"], database: db)
            #expect(resumed.status == 0)
            let answer = try #require(try resumed.json() as? [String: Any])
            #expect(answer["queue"] as? String == "q" && answer["paused"] as? Bool == false && !(answer["paused"] is String))
            #expect(try Tool.run("zipar-worker", worker, database: db).status == 0)
            // Queue commands answer JSON booleans and numbers, not strings.
            let made = try #require(try Tool.run("zipar-admin", ["queues", "create", "spare", "--json"], database: db).json() as? [String: Any])
            #expect(made["created"] as? Bool == true && !(made["created"] is String))
            let existing = try #require(try Tool.run("zipar-admin", ["queues", "create", "spare", "--json"], database: db).json() as? [String: Any])
            #expect(existing["created"] as? Bool == false)
            let gone = try #require(try Tool.run("zipar-admin", ["queues", "delete", "spare", "--json"], database: db).json() as? [String: Any])
            #expect(gone["deletedJobs"] as? Int == 0 && !(gone["deletedJobs"] is String))

            let list = try #require(try Tool.run("zipar-admin", ["jobs", "--queue", "q", "--state", "done", "--json"], database: db).json() as? [Any])
            #expect(list.count == 3)
            let show = try #require(try Tool.run("zipar-admin", ["show", ids[0], "--json"], database: db).json() as? [String: Any])
            #expect(show["label"] as? String == "hero" && show["state"] as? String == "done")
            #expect((show["parameters"] as? [String: Any])?["seed"] as? Int == 3)
            #expect(try Tool.run("zipar-admin", ["show", UUID().uuidString], database: db).status == 1)

            // Cancel says what happened to each id, and fails when nothing was cancelled.
            let cancel = try Tool.run("zipar-admin", ["cancel", ids[0], UUID().uuidString], database: db)
            #expect(cancel.status == 1 && cancel.out.contains("already final (done)") && cancel.out.contains("unknown"))
            #expect(cancel.err.contains("nothing cancelled: 1 already final, 1 unknown"), "\(cancel.err)")

            // Nothing exported yet: purge keeps every result.
            let kept = try Tool.run("zipar-admin", ["purge", "--older-than", "0s", "--json"], database: db)
            #expect((try kept.json() as? [String: Any])?["purged"] as? Int == 0)

            // Export names files by label and never writes through an existing link.
            let out = try Tool.tempDir()
            let victim = work + "/victim.txt"
            try "keep me".write(toFile: victim, atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: out + "/hero.png", withDestinationPath: victim)
            let export = try Tool.run("zipar-admin", ["export", "--out", out, "--queue", "q"], database: db)
            #expect(export.status == 0, "\(export.err)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
            #expect(files == ["hero.png", "hero.json", "pair-1.png", "pair-1.json", "pair-2.png", "pair-2.json"])
            let again = try Tool.run("zipar-admin", ["export", "--out", out, "--only-new", "--json"], database: db)
            #expect((try again.json() as? [String: Any])?["exported"] as? Int == 0)

            // Name templates: {index} and {prompt} (a class job's class name); an unknown placeholder is a usage
            // error that names it, before anything is written.
            let named = try Tool.tempDir()
            let byIndex = try Tool.run("zipar-admin", ["export", "--out", named, "--queue", "q", "--name", "{index}-{prompt}", "--json"], database: db)
            let names = try #require((try byIndex.json() as? [String: Any])?["names"] as? [String])
            #expect(names.map { String($0.prefix(2)) } == ["1-", "2-", "3-"], "\(names)")
            #expect(names.allSatisfy { ["dress", "coat"].contains(where: $0.lowercased().contains) }, "\(names)")
            let bogus = try Tool.run("zipar-admin", ["export", "--out", named, "--name", "{label}-{bogus}"], database: db)
            #expect(bogus.status == 2 && bogus.err.contains("{bogus}"), "\(bogus.err)")

            let purged = try Tool.run("zipar-admin", ["purge", "--older-than", "0s", "--json"], database: db)
            #expect((try purged.json() as? [String: Any])?["purged"] as? Int == 3)
        }
    }
}
