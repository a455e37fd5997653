import ArgumentParser
import Foundation
import JobStore

/// Runs `body` against the database named by the environment; configuration and database errors are
/// reported with the tool's prefix as `CLIError`s (exit 1).
public func withDatabase<R: Sendable>(_ body: @escaping @Sendable (JobStore) async throws -> R) async throws -> R {
    let db: DatabaseConfig
    do { db = try DatabaseConfig.fromEnvironment() } catch { throw CLIError("\(error)") }
    for w in db.warnings { say("\(toolName): warning: \(w)") }
    do {
        return try await JobStore.withStore(db, body)
    } catch let e as CLIError {
        throw e
    } catch let e as ExitCode {
        throw e
    } catch {
        throw CLIError("database: \(describeError(error))")
    }
}

/// The `Database:` paragraph of `--help`.
public let databaseHelp = "Database: DATABASE_URL, or PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSSLMODE PGSSLROOTCERT PGCONNECT_TIMEOUT (seconds, default 10)."
