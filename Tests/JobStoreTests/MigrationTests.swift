import Foundation
import JobStore
import PostgresNIO
import Testing
import TestSupport

/// D11: the migrations are compiled in; `zipar-admin migrate` applies those, and a `--dir` must match them.
@Suite struct MigrationTests {
    /// Sources/JobStore/CompiledMigrations.swift is generated from migrations/ (scripts/gen-migrations.sh):
    /// fails while the two differ, e.g. after adding a migration without rerunning the script.
    @Test func compiledInMatchesMigrationsDirectory() throws {
        let files = try Migration.load(directory: PG.migrationsDir)
        let hint = "Sources/JobStore/CompiledMigrations.swift is out of date: run scripts/gen-migrations.sh"
        #expect(Migration.compiledIn.map(\.name) == files.map(\.name), Comment(rawValue: hint))
        #expect(Migration.compiledIn == files, Comment(rawValue: hint))
        // The recorded checksums are those of the embedded text...
        #expect(Migration.compiledInChecksums.map(\.sha256) == Migration.compiledIn.map(\.checksum))
        #expect(Migration.compiledInChecksums.map(\.name) == Migration.compiledIn.map(\.name))
        // ... and of the files' bytes.
        #expect(try Migration.verified(directory: PG.migrationsDir) == files, Comment(rawValue: hint))
        #expect(Migration.latestVersion == files.last?.version)
        #expect(Migration.compiledIn.map(\.version) == Array(1...Migration.latestVersion))
    }

    @Test func schemaVersionFollowsTheCompiledInMigrations() {
        #expect(JobStore.expectedSchemaVersion == Migration.latestVersion)
    }

    @Test func checksumIsSHA256() {
        func sum(_ s: String) -> String { Migration(version: 1, name: "x", sql: s).checksum }
        #expect(sum("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sum("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sum(String(repeating: "é;\n", count: 40)) == "26260858c0208f09d6111b700069d2736c713dc55ff8717468170f7a546d66ae")
    }

    /// A directory beside the real migrations, holding copies of the first `count` plus `extra` files.
    func directory(copying count: Int, skipping skip: Set<Int> = [], extra: [String: String] = [:]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zipar-migrations-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for m in Migration.compiledIn.prefix(count) where !skip.contains(m.version) {
            try FileManager.default.copyItem(atPath: PG.migrationsDir + "/\(m.name).sql", toPath: dir + "/\(m.name).sql")
        }
        for (file, sql) in extra { try sql.write(toFile: dir + "/" + file, atomically: true, encoding: .utf8) }
        return dir
    }

    func refusal(_ dir: String) -> String? {
        do { _ = try Migration.verified(directory: dir); return nil } catch { return "\(error)" }
    }

    @Test func rogueMigrationInADirectoryIsRefused() throws {
        let dir = try directory(copying: 1, extra: ["0002_evil.sql": "CREATE TABLE evil (x int);\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let message = try #require(refusal(dir))
        #expect(message.contains("0002_evil.sql") && message.contains("not a migration of this build"))
    }

    @Test func changedMigrationIsRefused() throws {
        let dir = try directory(copying: 2)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/\(Migration.compiledIn[0].name).sql"
        try (Migration.compiledIn[0].sql + "\nDROP TABLE jobs;\n").write(toFile: file, atomically: true, encoding: .utf8)
        let message = try #require(refusal(dir))
        #expect(message.contains(Migration.compiledIn[0].name) && message.contains("differs") && message.contains("sha256"))
    }

    @Test func gapIsRefusedAndAPrefixAccepted() throws {
        let gap = try directory(copying: 3, skipping: [2])
        defer { try? FileManager.default.removeItem(atPath: gap) }
        #expect(refusal(gap)?.contains("lacks \(Migration.compiledIn[1].name).sql") == true)
        let prefix = try directory(copying: 2)
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        #expect(try Migration.verified(directory: prefix).map(\.version) == [1, 2])
    }

    /// The built `zipar-admin`, beside this test bundle (`swift build --build-tests` builds both).
    static var adminBinary: String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("zipar-admin").path,
            URL(fileURLWithPath: PG.migrationsDir).deletingLastPathComponent().appendingPathComponent(".build/debug/zipar-admin").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `zipar-admin` in `directory` against `config`'s database: (exit status, stdout + stderr).
    static func runAdmin(_ arguments: [String], in directory: String, config: DatabaseConfig) throws -> (Int32, String) {
        let binary = try #require(adminBinary, "zipar-admin not built: run swift build --build-tests")
        var env = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT"] {
            env[key] = nil
        }
        env["PGHOST"] = config.host; env["PGPORT"] = String(config.port); env["PGUSER"] = config.user
        env["PGDATABASE"] = config.database; env["PGSSLMODE"] = config.sslMode.rawValue
        if let p = config.password { env["PGPASSWORD"] = p }
        if let r = config.sslRootCert { env["PGSSLROOTCERT"] = r }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The reported defect: run from a directory whose migrations/ holds 0001_init.sql and a rogue
    /// 0002_evil.sql, `zipar-admin migrate` applied both. Now it applies the compiled-in ones only, and
    /// `--dir` with that directory is refused.
    @Test(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1"))
    func migrateIgnoresTheCurrentDirectory() async throws {
        let cwd = FileManager.default.temporaryDirectory.appendingPathComponent("zipar-cwd-\(UUID())").path
        try FileManager.default.createDirectory(atPath: cwd + "/migrations", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: cwd) }
        try FileManager.default.copyItem(atPath: PG.migrationsDir + "/\(Migration.compiledIn[0].name).sql",
                                         toPath: cwd + "/migrations/\(Migration.compiledIn[0].name).sql")
        try "CREATE TABLE evil (x int);\n".write(toFile: cwd + "/migrations/0002_evil.sql", atomically: true, encoding: .utf8)

        try await PG.withDatabase(migrate: false) { config, store in
            let (refused, refusedOutput) = try Self.runAdmin(["migrate", "--dir", cwd + "/migrations"], in: cwd, config: config)
            #expect(refused != 0 && refusedOutput.contains("0002_evil.sql"))
            #expect(try await store.schemaVersion() == 0)

            let (status, output) = try Self.runAdmin(["migrate"], in: cwd, config: config)
            #expect(status == 0, Comment(rawValue: output))
            #expect(try await store.schemaVersion() == Migration.latestVersion)
            var evilExists = true
            for try await missing in try await store.client.query("SELECT to_regclass('evil') IS NULL", logger: PG.quiet).decode(Bool.self) {
                evilExists = !missing
            }
            #expect(!evilExists)
        }
    }
}
