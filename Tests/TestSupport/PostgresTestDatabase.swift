import Foundation
import JobCore
import JobStore
import Logging

/// Tests run against a real PostgreSQL named by DATABASE_URL or PGHOST & co (start one with
/// `eval "$(scripts/pg-start.sh)"`). Each test gets a fresh database. Without a server they fail,
/// unless ZIPAR_SKIP_PG=1.
public enum PG {
    public static let env = ProcessInfo.processInfo.environment
    public static var enabled: Bool { env["ZIPAR_SKIP_PG"] != "1" }
    public static var configured: Bool { (env["DATABASE_URL"] ?? "") != "" || (env["PGHOST"] ?? "") != "" }

    public static let migrationsDir: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations").path

    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "no PostgreSQL configured: run `eval \"$(scripts/pg-start.sh)\"` (or set DATABASE_URL / PGHOST), or set ZIPAR_SKIP_PG=1 to skip"
        }
    }

    public static func baseConfig() throws -> DatabaseConfig {
        guard configured else { throw NotConfigured() }
        return try DatabaseConfig.fromEnvironment()
    }

    /// A fresh, migrated (unless `migrate: false`) database for one test; dropped afterwards.
    public static func withDatabase<R: Sendable>(migrate: Bool = true, _ body: @Sendable (DatabaseConfig, JobStore) async throws -> R) async throws -> R {
        let base = try baseConfig()
        let name = "zt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await JobStore.withStore(base) { try await $0.createDatabase(name) }
        let config = base.with(database: name)
        do {
            let r = try await JobStore.withStore(config, logger: quiet) { store in
                if migrate { try await store.migrate(try Migration.load(directory: migrationsDir)) }
                return try await body(config, store)
            }
            try? await JobStore.withStore(base) { try await $0.dropDatabase(name) }
            return r
        } catch {
            try? await JobStore.withStore(base) { try await $0.dropDatabase(name) }
            throw error
        }
    }

    public static let quiet: Logger = {
        var l = Logger(label: "test")
        l.logLevel = .critical
        return l
    }()
}

/// A job of model `model` (class `cls`, seed 1) for store and worker tests.
public func job(_ cls: Int = 0, queue: String = "default", model: String = "m", priority: Int = 0, maxAttempts: Int = 5,
                policy: String = "ntp") -> JobSpec {
    let p = JobParameters(classLabel: cls, policy: try! WindowPolicy(parsing: policy), seed: 1)
    return JobSpec(queue: queue, model: model, parameters: p, priority: priority, maxAttempts: maxAttempts)
}

public let tinyOutput = JobOutput(png: [0x89, 0x50, 0x4e, 0x47], width: 1, height: 1, passes: 3, ntpPasses: 16, tokens: 16,
                                  queries: 16, decodeSeconds: 0.01, passSeconds: [0.001, 0.002, 0.003])
