// zipar-worker: a daemon that claims jobs from PostgreSQL and decodes them with continuous batching.
import ArgumentParser
import Foundation
import JobStore
import Logging
import Model
import ServiceLifecycle

@main
struct ZiparWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-worker",
        abstract: "Claims image-generation jobs from PostgreSQL, decodes them with continuous batching, writes PNGs back.",
        discussion: """
            Database: DATABASE_URL, or PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD
            PGPASSFILE PGSSLMODE PGSSLROOTCERT.
            SIGTERM or SIGINT: stop claiming, finish jobs in flight within
            --grace-seconds, hand the rest back to the queue.
            Exit codes: 0 on a clean stop or a drained queue, 1 on bad arguments
            or configuration.
            """)

    @Option(name: .customLong("model"), help: "A model directory (config.json, gpt.safetensors, vq.safetensors). Repeat for several models.")
    var models: [String] = []

    @Option(name: .customLong("queue"), help: "A queue to take jobs from. Repeat for several queues.")
    var queues: [String] = []

    @Flag(help: "Exit (code 0) when no queued or running jobs are left for these models and queues.")
    var drain = false

    @Option(help: "Jobs decoded at the same time per model (continuous batching).")
    var batch = 8

    @Option(name: .customLong("max-queries"), help: "Queries per forward pass across the batch.")
    var maxQueries = 64

    @Option(name: .customLong("lease-seconds"), help: "Lease length; heartbeats extend it every third of it. A worker silent this long loses its jobs.")
    var leaseSeconds = 30.0

    @Option(name: .customLong("poll-seconds"), help: "Polling interval when idle (LISTEN/NOTIFY wakes the worker sooner).")
    var pollSeconds = 2.0

    @Option(name: .customLong("grace-seconds"), help: "After SIGTERM/SIGINT: time to finish jobs in flight before releasing them.")
    var graceSeconds = 30.0

    @Option(name: .customLong("step-timeout-seconds"), help: "A decode pass longer than this counts as hung: the worker stops extending those leases so other workers take the jobs over.")
    var stepTimeoutSeconds = 300.0

    @Option(name: .customLong("weights"), help: "Weight and KV-cache storage in memory: auto (f16 when the model file's matrices are F16, else f32), f32 (exact), f16 (half the bytes per pass and per cache; logits within ~1e-2).")
    var weights = "auto"

    @Option(name: .customLong("worker-id"), help: "Worker id shown by `zipar-admin workers` (default host:pid:random).")
    var workerID: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("simulate-pass-ms"), help: ArgumentHelp("Testing aid: skip the network and fake each pass with this many milliseconds (gray PNGs).", visibility: .hidden))
    var simulatePassMs: Double?

    func validate() throws {
        if models.isEmpty { throw ValidationError("give at least one --model DIR") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if leaseSeconds < 1 { throw ValidationError("--lease-seconds must be at least 1") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        if StorageChoice(rawValue: weights) == nil { throw ValidationError("--weights must be auto, f32 or f16 (got '\(weights)')") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        var logger = Logger(label: "zipar.worker")
        let id = workerID ?? WorkerOptions.defaultID()
        logger[metadataKey: "worker"] = "\(id)"

        let db: DatabaseConfig
        do { db = try DatabaseConfig.fromEnvironment() } catch {
            logger.critical("database configuration: \(error)")
            throw ExitCode(1)
        }
        logger.info("database \(db)")

        var executors: [any JobExecutor] = []
        for dir in models {
            executors.append(loadExecutor(directory: dir, logger: logger))
        }
        let names = executors.map(\.model)
        if Set(names).count != names.count { logger.critical("two --model directories have the same model name: \(names)"); throw ExitCode(1) }

        var options = WorkerOptions(id: id, host: ProcessInfo.processInfo.hostName, queues: queues.isEmpty ? ["default"] : queues)
        options.leaseSeconds = leaseSeconds
        options.pollSeconds = pollSeconds
        options.graceSeconds = graceSeconds
        options.drain = drain
        options.stepTimeoutSeconds = stepTimeoutSeconds

        let store = try JobStore(config: db, logger: Logger(label: "zipar.db"))
        let worker = Worker(store: store, options: options, executors: executors, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: store.client),
                .init(service: WorkerService(worker: worker), successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    private func loadExecutor(directory: String, logger: Logger) -> any JobExecutor {
        let configPath = URL(fileURLWithPath: directory).appendingPathComponent("config.json").path
        let fallbackName = URL(fileURLWithPath: directory).lastPathComponent
        if let ms = simulatePassMs {
            do {
                let config = try ModelConfig.load(path: configPath)
                logger.warning("SIMULATED decoding for \(config.name): \(ms) ms a pass, gray images")
                return SimulatedExecutor(config: config, capacity: batch, passMs: ms)
            } catch {
                return BrokenExecutor(model: fallbackName, reason: "\(error)", capacity: batch)
            }
        }
        do {
            let started = Date()
            let bundle = try ModelBundle(directory: directory, storage: StorageChoice(rawValue: weights)?.storage)
            let ex = ModelExecutor(bundle: bundle, batch: batch, maxQueries: maxQueries)
            logger.info("model loaded", metadata: ["model": "\(bundle.config.name)", "dir": "\(directory)",
                                                   "grid": "\(bundle.config.gpt.grid)", "storage": "\(bundle.storage)",
                                                   "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
            return ex
        } catch {
            let name = (try? ModelConfig.load(path: configPath))?.name ?? fallbackName
            logger.error("model failed to load; its jobs will fail with this error",
                         metadata: ["model": "\(name)", "dir": "\(directory)", "error": "\(error)"])
            return BrokenExecutor(model: name, reason: "model \(name) failed to load on \(ProcessInfo.processInfo.hostName): \(error)",
                                  capacity: batch)
        }
    }
}

/// Runs the worker under the service group: a graceful shutdown asks it to stop claiming and wind down.
struct WorkerService: Service {
    let worker: Worker
    func run() async throws {
        let stop = StopSignal()
        await withGracefulShutdownHandler {
            await worker.run(stop: stop)
        } onGracefulShutdown: {
            stop.trigger()
        }
    }
}
