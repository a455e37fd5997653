import ArgumentParser
import CLISupport
import Dashboard
import Foundation
import JobStore
import Logging
import ServiceLifecycle
import Submission
import Telemetry

struct Serve: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serves the operator's console: queues, jobs, job pages with image and decode order, gallery, workers and their health, charts, bulk actions, audit log; JSON under /api; /metrics, /healthz, /readyz.",
        discussion: """
            Binds 127.0.0.1 unless told otherwise. Read-only unless an admin token is given, from a file \
            (--admin-token-file, which should be readable by its owner only) or the ZIPAR_ADMIN_TOKEN \
            environment variable, never on the command line. With a token, an operator signs in once on \
            /signin and gets a session cookie (HttpOnly, SameSite=Strict, HMAC-signed, --session-hours long); \
            every form that changes something carries the session's CSRF token. Programs send the token as \
            `Authorization: Bearer` on /api. Every change is recorded in the audit log (/audit, /api/audit). \
            The API is described by docs/openapi.yaml. SIGTERM or SIGINT stops the server.

            The batch API (POST /api/batches, a JSONL body as for `zipar-submit --format jsonl`, each line \
            with a custom_id) needs the models it validates against (--model DIR, repeatable) and a submit \
            token (--submit-token-file or ZIPAR_SUBMIT_TOKEN): a token that may create and cancel batches \
            but not pause, retry or cancel anything else. GET /api/events streams job completions \
            (Server-Sent Events). With --webhook-secret-file (or ZIPAR_WEBHOOK_SECRET) a batch may name a \
            webhook (?webhook=URL) that gets the finished batch POSTed, signed with HMAC-SHA256 in \
            Zipar-Signature, retried with backoff. docs/service.md has curl examples.
            """)

    @Option(help: "Address to listen on, HOST:PORT.")
    var bind = "127.0.0.1:8080"

    @Option(name: .customLong("admin-token-file"), help: "File holding the admin token (first line).")
    var adminTokenFile: String?

    @Option(help: "Throughput window of the queues page, in minutes.")
    var window = 60

    @Option(name: .customLong("submit-token-file"), help: "File holding the submit token (first line): it may create and cancel batches, nothing else.")
    var submitTokenFile: String?

    @Option(name: .customLong("model"), help: "Model directory batches may use (repeatable): their lines are validated against it, as by zipar-submit.")
    var models: [String] = []

    @Option(name: .customLong("webhook-secret-file"), help: "File holding the secret that signs webhook bodies (HMAC-SHA256); batches may name a webhook only with it.")
    var webhookSecretFile: String?

    @Option(name: .customLong("session-secret-file"), help: "File holding the secret (first line, at least 32 characters) that signs dashboard session cookies; default: a random one per start, so sessions end on restart.")
    var sessionSecretFile: String?

    @Option(name: .customLong("session-hours"), help: "How long a dashboard sign-in lasts, in hours.")
    var sessionHours = 8.0

    @Flag(name: .customLong("secure-cookie"), help: "Mark the session cookie Secure: set it when the dashboard is reached over https.")
    var secureCookie = false

    @Option(name: .customLong("max-batch-bytes"), help: "Largest POST /api/batches body, in bytes (413 beyond).")
    var maxBatchBytes = 16 << 20

    @Option(name: .customLong("max-batch-lines"), help: "Most lines in one batch (400 beyond).")
    var maxBatchLines = 10_000

    @OptionGroup var common: Common

    func validate() throws {
        if ListenAddress(bind) == nil { throw ValidationError("--bind must be HOST:PORT, e.g. 127.0.0.1:8080 (got '\(bind)')") }
        if window < 1 { throw ValidationError("--window must be at least 1 (minutes)") }
        if !(sessionHours > 0 && sessionHours <= 24 * 30) { throw ValidationError("--session-hours must be more than 0 and at most 720") }
        if maxBatchBytes < 1 { throw ValidationError("--max-batch-bytes must be at least 1") }
        if !(1...PromptParser.maxJobs).contains(maxBatchLines) {
            throw ValidationError("--max-batch-lines must be in 1...\(PromptParser.maxJobs)")
        }
    }

    func run() async throws {
        let token = try adminToken()
        let submitToken = try self.submitToken()
        if let submitToken, submitToken == token { throw CLIError("the submit token must differ from the admin token") }
        var specs: [ModelSpec] = []
        for dir in models {
            do { specs.append(try ModelSpec.load(directory: dir)) } catch { throw CLIError("--model \(dir): \(error)") }
        }
        if Set(specs.map(\.name)).count < specs.count { throw CLIError("two --model directories name the same model") }
        let webhookSecret = try self.token(file: webhookSecretFile, env: "ZIPAR_WEBHOOK_SECRET", what: "webhook")
        let sessionSecret = try self.token(file: sessionSecretFile, env: "ZIPAR_SESSION_SECRET", what: "session secret")
        if let sessionSecret, sessionSecret.utf8.count < SessionKeys.minimumSecretBytes {
            throw CLIError("the session secret must be at least \(SessionKeys.minimumSecretBytes) characters")
        }
        let db: DatabaseConfig
        do { db = try DatabaseConfig.fromEnvironment() } catch { throw CLIError("\(error)") }
        for w in db.warnings { say("\(toolName): warning: \(w)") }
        do { try await db.checkConnection() } catch { throw CLIError("database: \(describeError(error))") }
        let logger = Logger(label: "zipar.dashboard")
        let store = try JobStore(config: db, logger: Logger(label: "zipar.db"))
        let address = ListenAddress(bind)!
        let config = DashboardConfig(address: address, adminToken: token, windowMinutes: window, submitToken: submitToken,
                                     models: specs, batchLimits: BatchLimits(maxBytes: maxBatchBytes, maxLines: maxBatchLines),
                                     webhookSecret: webhookSecret, sessionSecret: sessionSecret.map { Array($0.utf8) },
                                     sessionLifetime: sessionHours * 3600, secureCookie: secureCookie)
        let app = dashboardApplication(store: store, config: config, logger: logger)
        say("dashboard on http://\(address)/ (\(token == nil ? "read-only" : "admin token set"); "
            + "batches \(submitToken == nil && token == nil ? "off: no submit token" : specs.isEmpty ? "off: no --model" : "on for \(specs.map(\.name).joined(separator: ", "))"))")
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: store.client), .init(service: app)]
        if let webhookSecret {
            services.append(.init(service: WebhookService(sender: WebhookSender(store: store, secret: webhookSecret, logger: logger))))
        }
        let group = ServiceGroup(configuration: .init(services: services,
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The token from --admin-token-file or ZIPAR_ADMIN_TOKEN (never argv: other users can read argv).
    func adminToken() throws -> String? { try token(file: adminTokenFile, env: "ZIPAR_ADMIN_TOKEN", what: "admin") }

    /// The token from --submit-token-file or ZIPAR_SUBMIT_TOKEN, read by the same rules.
    func submitToken() throws -> String? { try token(file: submitTokenFile, env: "ZIPAR_SUBMIT_TOKEN", what: "submit") }

    func token(file: String?, env name: String, what: String) throws -> String? {
        if let path = file {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read \(path)") }
            if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
                say("\(toolName): warning: \(path) is readable by group or others; chmod 600 it")
            }
            let token = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard token.count >= 16 else { throw CLIError("the \(what) token in \(path) is shorter than 16 characters") }
            return token
        }
        if let env = ProcessInfo.processInfo.environment[name], !env.isEmpty {
            guard env.count >= 16 else { throw CLIError("\(name) is shorter than 16 characters") }
            return env
        }
        return nil
    }
}

/// Sends due batch webhooks until the server stops.
struct WebhookService: Service {
    let sender: WebhookSender
    func run() async throws { await cancelWhenGracefulShutdown { await sender.run() } }
}
