// zipar-admin: migrations, queue control, stats and export for the job store.
import ArgumentParser
import CLISupport
import Foundation
import JobCore
import JobStore

@main
struct ZiparAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-admin",
        abstract: "Operates the ZipAR job store: migrate, stats, queues, jobs, show, retry, cancel, purge, export, workers, serve (dashboard).",
        discussion: """
            \(databaseHelp)
            \(ExitStatus.helpText())
            """,
        version: ziparVersion,
        subcommands: [Migrate.self, Stats.self, Queues.self, Pause.self, Resume.self, Jobs.self, Show.self, Retry.self,
                      Cancel.self, Purge.self, Export.self, Workers.self, Serve.self])

    static func main() async { await mainAsTool() }
}

struct Common: ParsableArguments {
    @Flag(help: "Machine-readable JSON output.")
    var json = false
    @OptionGroup var log: LogOptions
}

/// Every subcommand takes the common flags, logging included.
protocol AdminCommand: LogConfigurable { var common: Common { get } }
extension AdminCommand { var logOptions: LogOptions { common.log } }

/// A job id on the command line (a UUID, any case).
struct JobID: ExpressibleByArgument, Sendable {
    var uuid: UUID
    init?(argument: String) {
        guard let id = UUID(uuidString: argument) else { return nil }
        uuid = id
    }
}

extension JobState: ExpressibleByArgument {}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

struct Migrate: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Applies the migrations compiled into zipar that the database lacks (in a transaction, under an advisory lock; safe from many hosts at once).",
        discussion: """
            The SQL migrations are part of the binary: the current directory's migrations/ is never read. \
            --dir applies a directory's numbered .sql files instead, each checked against the compiled-in \
            list by name and SHA-256 (an unknown or changed file is refused). --list shows that list.
            """)
    @Option(help: "Apply this directory's numbered .sql files; each must match a compiled-in migration byte for byte.")
    var dir: String?
    @Flag(help: "List the compiled-in migrations (version, name, SHA-256) and exit.")
    var list = false
    @OptionGroup var common: Common

    struct Listed: Encodable { var version: Int; var name: String; var sha256: String }

    func run() async throws {
        if list {
            let rows = Migration.compiledIn.map { Listed(version: $0.version, name: $0.name, sha256: $0.checksum) }
            if common.json { try printJSON(rows) } else { for r in rows { print("\(r.version)  \(r.name).sql  sha256 \(r.sha256)") } }
            return
        }
        let migrations: [Migration]
        if let dir {
            do { migrations = try Migration.verified(directory: dir) } catch { throw CLIError("\(error)") }
        } else {
            migrations = Migration.compiledIn
        }
        let json = common.json
        let (applied, version) = try await withDatabase { store in
            let a = try await store.migrate(migrations)
            return (a, try await store.schemaVersion())
        }
        if json {
            try printJSON(MigrateReport(applied: applied, version: version))
        } else {
            print(applied.isEmpty ? "schema up to date (version \(version))" : "applied \(applied.map(String.init).joined(separator: ", ")); schema version \(version)")
        }
    }
}

struct MigrateReport: Encodable {
    /// Versions this run applied (empty when the schema was up to date).
    var applied: [Int]
    /// The schema version now.
    var version: Int
}
