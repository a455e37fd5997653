import Foundation
import JobStore
import Testing

@Suite struct PromptParserTests {
    func parser(_ d: SubmitDefaults = SubmitDefaults()) -> PromptParser {
        PromptParser(model: fashion, defaults: d, checkPolicy: checkPolicy)
    }

    func errors(_ text: String, format: PromptFormat = .text, _ d: SubmitDefaults = SubmitDefaults()) -> [PromptError] {
        do { _ = try parser(d).parse(text, format: format); return [] } catch let e as PromptErrors { return e.errors } catch { return [] }
    }

    @Test func validFileWithCommentsAndOverrides() throws {
        let text = """
            # a comment
            dress

            ankle-boot policy=zipar:4 cfg=2.5 seed=100 count=2   # trailing comment
            3 policy=adaptive:8 temperature=0.9 top_k=50 top_p=0.95 priority=7
            """
        var d = SubmitDefaults()
        d.seed = 10; d.queue = "q1"
        let jobs = try parser(d).parse(text)
        #expect(jobs.count == 4)
        #expect(jobs[0].classLabel == 3 && jobs[0].policy == "ntp" && jobs[0].seed == 10 && jobs[0].line == 2 && jobs[0].queue == "q1")
        #expect(jobs[1].classLabel == 9 && jobs[1].policy == "zipar:4" && jobs[1].cfgScale == 2.5 && jobs[1].seed == 100)
        #expect(jobs[2].seed == 101 && jobs[2].line == 4)
        #expect(jobs[3].classLabel == 3 && jobs[3].policy == "adaptive:8" && jobs[3].topK == 50 && jobs[3].priority == 7
                && jobs[3].temperature == 0.9 && jobs[3].topP == 0.95 && jobs[3].seed == 13)
        #expect(jobs.allSatisfy { $0.model == "fashion-16" })
    }

    @Test(arguments: [
        ("unicorn", "class"), ("10", "class"), ("-1", "class"),
        ("dress policy=zipar", "policy"), ("dress policy=foo:3", "policy"), ("dress policy=zipar:0", "policy"),
        ("dress policy=zipar:17", "policy"), ("dress policy=adaptive:99", "policy"),
        ("dress seed=abc", "seed"), ("dress seed=-5", "seed"), ("dress cfg=x", "cfg"), ("dress cfg=nan", "cfg"),
        ("dress cfg=-1", "cfg"), ("dress temperature=0", "temperature"), ("dress top_k=-1", "top_k"),
        ("dress top_k=1.5", "top_k"), ("dress top_p=1.5", "top_p"), ("dress top_p=0", "top_p"),
        ("dress count=0", "count"), ("dress count=many", "count"), ("dress priority=high", "priority"),
        ("dress max_attempts=0", "max_attempts"), ("dress colour=red", "colour"), ("dress seed", "seed"),
        ("dress seed=1 seed=2", "seed"), ("policy=ntp", "class"),
    ])
    func rejectsMalformedLine(line: String, field: String) {
        let errs = errors("dress\n\(line)\ncoat")
        #expect(errs.count >= 1, "accepted: \(line)")
        #expect(errs.first?.line == 2, "\(errs)")
        #expect(errs.first?.field == field, "\(errs)")
    }

    @Test func collectsEveryError() {
        let errs = errors("unicorn\ndress cfg=x\n# fine\ncoat policy=zipar:99\n")
        #expect(errs.map(\.line) == [1, 2, 4])
        #expect(errs.map(\.field) == ["class", "cfg", "policy"])
        #expect(errs[2].description.contains("larger than the grid"))
    }

    @Test func emptyInputIsAnError() {
        #expect(errors("# nothing\n\n").first?.field == "input")
    }

    @Test func badDefaultsAreReported() {
        var d = SubmitDefaults()
        d.policy = "zipar:40"
        #expect(errors("dress", d).first?.field == "--policy")
    }

    @Test func jsonLines() throws {
        let jobs = try parser().parse("""
            {"class": "dress", "policy": "zipar:4", "cfg": 2}
            {"class": 7, "seed": 5, "count": 2}
            """, format: .jsonl)
        #expect(jobs.count == 3)
        #expect(jobs[0].classLabel == 3 && jobs[0].policy == "zipar:4" && jobs[0].cfgScale == 2)
        #expect(jobs[1].classLabel == 7 && jobs[1].seed == 5 && jobs[2].seed == 6)
        let errs = errors("{\"class\": \"dress\"}\nnot json\n{\"policy\": \"ntp\"}\n{\"class\": \"bag\", \"bogus\": 1}", format: .jsonl)
        #expect(errs.map(\.line) == [2, 3, 4])
        #expect(errs.map(\.field) == ["json", "class", "bogus"])
    }

    @Test func backoffGrowsAndIsCapped() {
        #expect(retryBackoff(attempt: 1, base: 2, jitter: 1) == 2)
        #expect(retryBackoff(attempt: 4, base: 2, jitter: 1) == 16)
        #expect(retryBackoff(attempt: 40, base: 2, cap: 300, jitter: 1) == 300)
        for _ in 0..<100 {
            let b = retryBackoff(attempt: 3, base: 1)
            #expect(b >= 2 && b <= 4)
        }
    }

    @Test func databaseConfigFromEnvironment() throws {
        let c = try DatabaseConfig.fromEnvironment(["PGHOST": "/tmp/sock", "PGPORT": "6543", "PGUSER": "u", "PGDATABASE": "d",
                                                    "PGPASSWORD": "secret", "HOME": "/nonexistent"])
        #expect(c.isUnixSocket && c.port == 6543 && c.user == "u" && c.database == "d" && c.password == "secret")
        #expect(!c.description.contains("secret"))
        let u = try DatabaseConfig.fromEnvironment(["DATABASE_URL": "postgres://al%40x:p%3Ass@db.example:5433/jobs?sslmode=verify-full",
                                                    "HOME": "/nonexistent"])
        #expect(u.host == "db.example" && u.port == 5433 && u.user == "al@x" && u.password == "p:ss" && u.database == "jobs"
                && u.sslMode == .verifyFull)
        #expect(!u.description.contains("p:ss"))
        #expect(throws: ConfigError.self) { try DatabaseConfig.fromEnvironment(["PGPORT": "x", "HOME": "/nonexistent"]) }
        #expect(throws: ConfigError.self) { try DatabaseConfig.fromEnvironment(["PGSSLMODE": "sometimes", "HOME": "/nonexistent"]) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID())").path
        try "# comment\nother:*:*:*:nope\n*:5432:jobs:bob:from\\:file\n".write(toFile: dir, atomically: true, encoding: .utf8)
        let p = try DatabaseConfig.fromEnvironment(["PGHOST": "h", "PGUSER": "bob", "PGDATABASE": "jobs", "PGPASSFILE": dir])
        #expect(p.password == "from:file")
    }

    @Test func migrationFilesSplitIntoStatements() throws {
        let ms = try Migration.load(directory: PG.migrationsDir)
        #expect(ms.first?.version == 1)
        let m = Migration(version: 9, name: "x", sql: "-- c; not a split\nCREATE TABLE a (t text DEFAULT ';');\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n")
        #expect(m.statements.count == 2)
        #expect(m.statements[1].contains("SELECT 1; $$"))
    }
}
