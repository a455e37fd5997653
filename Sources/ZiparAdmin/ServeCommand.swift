import ArgumentParser
import CLISupport
import Dashboard
import Foundation
import JobStore
import Logging
import ServiceLifecycle
import Telemetry

struct Serve: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serves the dashboard: queues, jobs, job pages with image and decode order, gallery, workers; JSON under /api; /metrics, /healthz, /readyz.",
        discussion: """
            Binds 127.0.0.1 unless told otherwise. Read-only unless an admin token is given, from a file
            (--admin-token-file, which should be readable by its owner only) or the ZIPAR_ADMIN_TOKEN
            environment variable, never on the command line. With a token, pause/resume/retry/cancel are
            POSTs that must carry it (a form field on the pages, `Authorization: Bearer` on /api).
            The API is described by docs/openapi.yaml. SIGTERM or SIGINT stops the server.
            """)

    @Option(help: "Address to listen on, HOST:PORT.")
    var bind = "127.0.0.1:8080"

    @Option(name: .customLong("admin-token-file"), help: "File holding the admin token (first line).")
    var adminTokenFile: String?

    @Option(help: "Throughput window of the queues page, in minutes.")
    var window = 60

    @OptionGroup var common: Common

    func validate() throws {
        if ListenAddress(bind) == nil { throw ValidationError("--bind must be HOST:PORT, e.g. 127.0.0.1:8080 (got '\(bind)')") }
        if window < 1 { throw ValidationError("--window must be at least 1 (minutes)") }
    }

    func run() async throws {
        let token = try adminToken()
        let db: DatabaseConfig
        do { db = try DatabaseConfig.fromEnvironment() } catch { throw CLIError("\(error)") }
        for w in db.warnings { say("\(toolName): warning: \(w)") }
        do { try await db.checkConnection() } catch { throw CLIError("database \(db): \(describeError(error))") }
        let logger = Logger(label: "zipar.dashboard")
        let store = try JobStore(config: db, logger: Logger(label: "zipar.db"))
        let address = ListenAddress(bind)!
        let app = dashboardApplication(store: store, config: DashboardConfig(address: address, adminToken: token, windowMinutes: window),
                                       logger: logger)
        say("dashboard on http://\(address)/ (\(token == nil ? "read-only" : "admin token set"))")
        let group = ServiceGroup(configuration: .init(services: [.init(service: store.client), .init(service: app)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The token from --admin-token-file or ZIPAR_ADMIN_TOKEN (never argv: other users can read argv).
    func adminToken() throws -> String? {
        if let path = adminTokenFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read \(path)") }
            if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
                say("\(toolName): warning: \(path) is readable by group or others; chmod 600 it")
            }
            let token = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard token.count >= 16 else { throw CLIError("the admin token in \(path) is shorter than 16 characters") }
            return token
        }
        if let env = ProcessInfo.processInfo.environment["ZIPAR_ADMIN_TOKEN"], !env.isEmpty {
            guard env.count >= 16 else { throw CLIError("ZIPAR_ADMIN_TOKEN is shorter than 16 characters") }
            return env
        }
        return nil
    }
}
