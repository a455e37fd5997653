import Foundation
import JobStore
import Testing

/// D2 (TLS settings cannot be silently weakened) and the configuration half of D1 (connect timeout).
@Suite struct DatabaseConfigTests {
    let noHome = ["HOME": "/nonexistent"]

    func env(_ values: [String: String]) -> [String: String] { noHome.merging(values) { _, new in new } }

    /// The reported defect: PGSSLMODE=disable in the environment turned a URL's verify-full into no TLS, and
    /// PGSSLROOTCERT replaced the URL's root certificate. As libpq: what the URL states wins.
    @Test func urlWinsOverTheEnvironment() throws {
        let c = try DatabaseConfig.fromEnvironment(env([
            "DATABASE_URL": "postgres://app@db.example:5433/jobs?sslmode=verify-full&sslrootcert=/etc/zipar/root.pem&connect_timeout=4",
            "PGSSLMODE": "disable", "PGSSLROOTCERT": "/tmp/attacker.pem", "PGHOST": "elsewhere", "PGPORT": "6000",
            "PGUSER": "other", "PGDATABASE": "otherdb", "PGCONNECT_TIMEOUT": "30",
        ]))
        #expect(c.sslMode == .verifyFull)
        #expect(c.sslRootCert == "/etc/zipar/root.pem")
        #expect(c.host == "db.example" && c.port == 5433 && c.user == "app" && c.database == "jobs")
        #expect(c.connectTimeout == .seconds(4))
        #expect(c.warnings.isEmpty)
    }

    /// libpq: the environment fills in what the URL leaves out.
    @Test func environmentFillsWhatTheURLLeavesOut() throws {
        let c = try DatabaseConfig.fromEnvironment(env([
            "DATABASE_URL": "postgres:///jobs", "PGHOST": "db.internal", "PGPORT": "6000", "PGUSER": "bob",
            "PGPASSWORD": "pw", "PGSSLMODE": "verify-ca", "PGSSLROOTCERT": "/etc/root.pem",
        ]))
        #expect(c.host == "db.internal" && c.port == 6000 && c.user == "bob" && c.password == "pw" && c.database == "jobs")
        #expect(c.sslMode == .verifyCA && c.sslRootCert == "/etc/root.pem")
        let d = try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgresql://h/db?host=/run/pg&port=5555&user=u&dbname=x"]))
        #expect(d.isUnixSocket && d.host == "/run/pg" && d.port == 5555 && d.user == "u" && d.database == "x")
        let e = try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgres://%2Ftmp%2Fsock/db%2525x", "PGUSER": "u"]))
        #expect(e.host == "/tmp/sock" && e.database == "db%25x")
        #expect(try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgres://[::1]:6432/db"])).host == "::1")
    }

    @Test func unknownURLParameterIsAnErrorNamingIt() {
        func error(_ url: String) -> String? {
            do { _ = try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": url])); return nil } catch { return "\(error)" }
        }
        let misspelt = error("postgres://u@db.example/jobs?ssl_mode=verify-full")
        #expect(misspelt?.contains("'ssl_mode'") == true && misspelt?.contains("did you mean 'sslmode'") == true)
        #expect(error("postgres://u@db.example/jobs?sslmode=verify-full&sslrootcrt=/x")?.contains("'sslrootcrt'") == true)
        #expect(error("postgres://u@db.example/jobs?sslcert=/c.pem")?.contains("'sslcert' is not supported") == true)
        #expect(error("postgres://u@db.example/jobs?channel_binding=require")?.contains("'channel_binding'") == true)
        #expect(error("postgres://u@db.example/jobs?sslmode")?.contains("'sslmode' has no value") == true)
        #expect(error("postgres://u@db.example/jobs?sslmode=sometimes")?.contains("sslmode 'sometimes'") == true)
        #expect(error("postgres://u@db.example/jobs?sslmode=verify-full&application_name=w1") == nil)
    }

    @Test func systemRootsMeanVerifyFull() throws {
        let c = try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgres://u@db.example/jobs?sslrootcert=system"]))
        #expect(c.sslMode == .verifyFull)
        #expect(throws: ConfigError.self) {
            try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgres://u@db.example/jobs?sslrootcert=system&sslmode=require"]))
        }
    }

    /// libpq ignores a password file group or others can read, and says so.
    @Test func pgpassReadableByOthersIsIgnoredWithAWarning() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "db.example:5432:jobs:bob:secret\n".write(toFile: path, atomically: true, encoding: .utf8)
        let settings = env(["PGHOST": "db.example", "PGUSER": "bob", "PGDATABASE": "jobs", "PGPASSFILE": path])

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let open = try DatabaseConfig.fromEnvironment(settings)
        #expect(open.password == nil)
        #expect(open.warnings.count == 1 && open.warnings[0].contains(path) && open.warnings[0].contains("group or world access"))

        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let closed = try DatabaseConfig.fromEnvironment(settings)
        #expect(closed.password == "secret" && closed.warnings.isEmpty)

        // The URL's passfile parameter names the file too.
        let viaURL = try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgres://bob@db.example/jobs?passfile=\(path)"]))
        #expect(viaURL.password == "secret")
    }

    /// D1's setting: PGCONNECT_TIMEOUT / connect_timeout bound each attempt; 10 s when unset.
    @Test func connectTimeoutIsConfigured() throws {
        let plain = try DatabaseConfig.fromEnvironment(env(["PGHOST": "db.example"]))
        #expect(plain.connectTimeout == .seconds(10))
        #expect(try plain.clientConfiguration().options.connectTimeout == .seconds(10))
        let fromEnv = try DatabaseConfig.fromEnvironment(env(["PGHOST": "db.example", "PGCONNECT_TIMEOUT": "3"]))
        #expect(fromEnv.connectTimeout == .seconds(3))
        #expect(try fromEnv.clientConfiguration().options.connectTimeout == .seconds(3))
        #expect(try fromEnv.connectionConfiguration().options.connectTimeout == .seconds(3))
        let fromURL = try DatabaseConfig.fromEnvironment(env(["DATABASE_URL": "postgres://db.example/x?connect_timeout=7",
                                                              "PGCONNECT_TIMEOUT": "3"]))
        #expect(fromURL.connectTimeout == .seconds(7))
        #expect(throws: ConfigError.self) { try DatabaseConfig.fromEnvironment(env(["PGCONNECT_TIMEOUT": "soon"])) }
        #expect(throws: ConfigError.self) { try DatabaseConfig.fromEnvironment(env(["PGCONNECT_TIMEOUT": "0"])) }
    }

    /// A missing root certificate file is reported at once and as such, not as "cannot connect" a minute later.
    @Test func missingRootCertificateFailsAtOnce() async throws {
        var c = DatabaseConfig(host: "db.example", user: "u", database: "d", sslMode: .verifyFull, sslRootCert: "/nonexistent/root.pem")
        #expect {
            try c.clientConfiguration()
        } throws: { error in
            let e = error as? DatabaseConnectionError
            return e?.kind == .tlsRootCertificate && e?.isPermanent == true && "\(error)".contains("/nonexistent/root.pem")
        }
        await #expect {
            try await c.checkConnection()
        } throws: { error in (error as? DatabaseConnectionError)?.kind == .tlsRootCertificate }
        c.sslMode = .prefer   // no verification: the file is not used
        _ = try c.clientConfiguration()
    }
}
