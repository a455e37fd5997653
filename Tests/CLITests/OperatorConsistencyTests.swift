import Foundation
import JobCore
import JobStore
import Testing
import TestSupport

/// Issue 24, item 2: every CLI says the same thing the same way: `<tool>: error:` lines (usage errors
/// too), a JSON error object with `--json`, no connection string in error lines.
@Suite struct ErrorLineTests {
    @Test func usageErrorsCarryTheToolPrefixAndExitTwo() throws {
        let r = try Tool.run("zipar-admin", ["stats", "--window", "0"])
        #expect(r.status == 2)
        #expect(r.err.hasPrefix("zipar-admin: error: "), "\(r.err)")
        #expect(!r.err.contains("Error:"), "\(r.err)")
        let submit = try Tool.run("zipar-submit", ["--bogus"])
        #expect(submit.status == 2 && submit.err.hasPrefix("zipar-submit: error: "), "\(submit.err)")
    }

    @Test func withJSONAnErrorIsAlsoAJSONObjectOnStdout() throws {
        let r = try Tool.run("zipar-admin", ["stats", "--window", "0", "--json"])
        #expect(r.status == 2)
        let object = try #require(try r.json() as? [String: Any])
        #expect((object["error"] as? String)?.contains("--window") == true, "\(r.out)")
        #expect(r.err.hasPrefix("zipar-admin: error: "))
    }

    @Test func databaseErrorsDoNotEchoTheConnectionString() throws {
        let r = try Tool.run("zipar-admin", ["queues", "--json"],
                             environment: ["DATABASE_URL": "postgres://secretuser:hunter2@127.0.0.1:1/secretdb", "PGCONNECT_TIMEOUT": "2"])
        #expect(r.status == 1)
        #expect(r.err.contains("zipar-admin: error: database: "), "\(r.err)")
        for secret in ["secretuser", "hunter2", "secretdb"] { #expect(!r.err.contains(secret) && !r.out.contains(secret), "\(r.err)") }
        #expect(try r.json() as? [String: Any] != nil, "\(r.out)")
    }
}

@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct OperatorConsistencyTests {
    /// A migrated database with queue `q`, and a prompt file.
    static func setUp(_ db: String) throws -> String {
        #expect(try Tool.run("zipar-admin", ["migrate"], database: db).status == 0)
        #expect(try Tool.run("zipar-admin", ["queues", "create", "q"], database: db).status == 0)
        let prompts = try Tool.tempDir() + "/p.txt"
        try "dress label=hero\ncoat label=other\n".write(toFile: prompts, atomically: true, encoding: .utf8)
        return prompts
    }

    static func object(_ r: Tool.Run) throws -> [String: Any] {
        try #require(try r.json() as? [String: Any], "not one JSON object: \(r.out) / \(r.err)")
    }

    @Test func takenLabelsFailNamingFileAndLineOrAreSkipped() async throws {
        try await PG.withDatabase(migrate: false) { config, _ in
            let db = config.database
            let prompts = try Self.setUp(db)
            let submit = ["--model", Tool.model, "--queue", "q", prompts]
            #expect(try Tool.run("zipar-submit", submit, database: db).status == 0)
            let again = try Tool.run("zipar-submit", submit, database: db)
            #expect(again.status == 1)
            #expect(again.err.contains("zipar-submit: error: \(prompts): line 1, label: 'hero'"), "\(again.err)")
            let skip = try Self.object(try Tool.run("zipar-submit", submit + ["--on-conflict", "skip", "--json"], database: db))
            #expect(skip["skipped"] as? Int == 2 && skip["inserted"] as? Int == 0)
            let bad = try Tool.run("zipar-submit", submit + ["--on-conflict", "skip", "--idempotency-key", "k"], database: db)
            #expect(bad.status == 2)
        }
    }

    @Test func scheduledJobsCancelRetryAndPurgeSpeakOneLanguage() async throws {
        try await PG.withDatabase(migrate: false) { config, _ in
            let db = config.database
            let prompts = try Self.setUp(db)
            let sub = try Self.object(try Tool.run("zipar-submit", ["--model", Tool.model, "--queue", "q", "--run-at", "+2h", "--json", prompts],
                                                   database: db))
            let ids = try #require(sub["ids"] as? [String])

            // stats: a scheduled count per queue, in text and JSON.
            let stats = try Self.object(try Tool.run("zipar-admin", ["stats", "--json"], database: db))
            let queue = try #require((stats["queues"] as? [[String: Any]])?.first { $0["name"] as? String == "q" })
            #expect((queue["counts"] as? [String: Any])?["scheduled"] as? Int == 2, "\(queue)")
            #expect(try Tool.run("zipar-admin", ["stats"], database: db).out.contains("scheduled"))
            let listed = try #require(try Tool.run("zipar-admin", ["jobs", "--state", "scheduled", "--json"], database: db).json() as? [Any])
            #expect(listed.count == 2)

            // cancel: per id what happened; exit 0 when one was cancelled, 1 (counting reasons) when none.
            let ghost = UUID().uuidString
            let first = try Tool.run("zipar-admin", ["cancel", ids[0], ghost], database: db)
            #expect(first.status == 0 && first.out.contains("cancelled") && first.out.contains("unknown"), "\(first.out)")
            let none = try Tool.run("zipar-admin", ["cancel", ids[0], ghost], database: db)
            #expect(none.status == 1)
            #expect(none.err.contains("nothing cancelled: 1 already final, 1 unknown"), "\(none.err)")
            #expect(!none.err.contains("no job matched"))
            let noneJSON = try Tool.run("zipar-admin", ["cancel", ids[0], ghost, "--json"], database: db)
            let answer = try Self.object(noneJSON)
            #expect(noneJSON.status == 1 && answer["changed"] as? Int == 0 && answer["unknown"] as? Int == 1 && answer["unchanged"] as? Int == 1)

            // retry: one shape by id and with --failed.
            let byID = try Self.object(try Tool.run("zipar-admin", ["retry", ids[0], "--json"], database: db))
            let byFailed = try Self.object(try Tool.run("zipar-admin", ["retry", "--failed", "--json"], database: db))
            #expect(Set(byID.keys) == Set(byFailed.keys) && Set(byID.keys) == ["action", "changed", "unchanged", "unknown", "jobs"])
            #expect(byID["changed"] as? Int == 1 && byID["action"] as? String == "requeued")

            // purge --dry-run says what would go, never "purged".
            _ = try Tool.run("zipar-admin", ["cancel", ids[0], "--json"], database: db)
            let dry = try Self.object(try Tool.run("zipar-admin", ["purge", "--older-than", "0s", "--dry-run", "--json"], database: db))
            #expect(dry["wouldPurge"] as? Int == 1 && dry["dryRun"] as? Bool == true && dry["purged"] == nil, "\(dry)")
            let real = try Self.object(try Tool.run("zipar-admin", ["purge", "--older-than", "0s", "--json"], database: db))
            #expect(real["purged"] as? Int == 1 && real["wouldPurge"] == nil)

            // Any error with --json: the JSON error object on stdout, the human line on stderr.
            let missing = try Tool.run("zipar-admin", ["show", ghost, "--json"], database: db)
            let missingError = try Self.object(missing)["error"] as? String
            #expect(missing.status == 1 && missingError?.contains("no job") == true)
            #expect(missing.err.hasPrefix("zipar-admin: error: no job"))
        }
    }

    /// Issue 24, item 3: `--wait` on a queue no live worker serves warns once, names queue and model, and
    /// keeps waiting (here until the jobs are cancelled: exit 3).
    @Test func waitWarnsWhenNoLiveWorkerServesTheQueue() async throws {
        try await PG.withDatabase(migrate: false) { config, _ in
            let db = config.database
            let prompts = try Self.setUp(db)
            let dir = try Tool.tempDir()
            let p = Process()
            p.executableURL = Tool.binDir.appendingPathComponent("zipar-submit")
            p.arguments = ["--model", Tool.model, "--queue", "q", "--wait", "--warn-no-worker-after", "1s", prompts]
            var env = ProcessInfo.processInfo.environment
            env["PGDATABASE"] = db; env["DATABASE_URL"] = nil
            p.environment = env
            let errURL = URL(fileURLWithPath: dir + "/err")
            FileManager.default.createFile(atPath: errURL.path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: errURL)
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            defer { if p.isRunning { p.terminate() } }
            var err = ""
            for _ in 0..<300 where !err.contains("still waiting") {
                try await Task.sleep(nanoseconds: 100_000_000)
                err = try String(contentsOf: errURL, encoding: .utf8)
            }
            #expect(err.contains("zipar-submit: warning: no live worker serves queue q model "), "\(err)")
            #expect(err.contains("(2 job(s) waiting); still waiting"), "\(err)")
            #expect(p.isRunning, "it keeps waiting")
            let ids = try #require(try Tool.run("zipar-admin", ["jobs", "--queue", "q", "--json"], database: db).json() as? [[String: Any]])
                .compactMap { $0["id"] as? String }
            #expect(try Tool.run("zipar-admin", ["cancel"] + ids, database: db).status == 0)
            for _ in 0..<300 where p.isRunning { try await Task.sleep(nanoseconds: 100_000_000) }
            #expect(!p.isRunning, "cancelling its jobs ends the wait")
            if !p.isRunning { #expect(p.terminationStatus == 3) }
            err = try String(contentsOf: errURL, encoding: .utf8)
            #expect(err.components(separatedBy: "no live worker serves").count == 2, "warned once: \(err)")
        }
    }
}
