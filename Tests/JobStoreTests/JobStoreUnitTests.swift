import Foundation
import JobCore
import JobStore
import Testing
import TestSupport

/// Store pieces that need no database.
@Suite struct JobStoreUnitTests {
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
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir)  // libpq ignores a readable .pgpass
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
