// zipar-worker: a daemon that claims jobs from PostgreSQL and decodes them with continuous batching.
import ArgumentParser
import CLISupport
import Decoding
import Foundation
import JobStore
import Kernels
import Logging
import Model
import ModelCLI
import Runner
import ServiceLifecycle
import Telemetry

@main
struct ZiparWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-worker",
        abstract: "Claims image-generation jobs from PostgreSQL, decodes them with continuous batching, writes PNGs back.",
        discussion: """
            \(databaseHelp)
            SIGTERM or SIGINT: stop claiming, finish jobs in flight within
            --grace-seconds, hand the rest back to the queue.
            \(ExitStatus.helpText()); 0 also on a clean stop or a drained queue;
            1 when no --model loaded, or when --drain stopped with jobs left in a
            paused queue.
            """,
        version: ziparVersion)

    static func main() async { await mainAsTool() }

    @Option(name: .customLong("model"), help: """
        A model directory: a LlamaGen bundle (config.json, gpt.safetensors, vq.safetensors; class jobs) or a \
        text-to-image bundle (config.json, model.safetensors, tokenizer.json, layout.json, vq.safetensors; prompt \
        jobs). Repeat for several models, of either kind.
        """)
    var models: [String] = []

    @Option(name: .customLong("queue"), help: "A queue to take jobs from. Repeat for several queues.")
    var queues: [String] = []

    @Flag(help: "Exit (code 0) when no queued or running jobs are left for these models and queues.")
    var drain = false

    @OptionGroup var batching: BatchOptions

    @Option(name: .customLong("lease-seconds"), help: "Lease length; heartbeats extend it every third of it. A worker silent this long loses its jobs.")
    var leaseSeconds = 30.0

    @Option(name: .customLong("poll-seconds"), help: "Polling interval when idle (LISTEN/NOTIFY wakes the worker sooner).")
    var pollSeconds = 2.0

    @Option(name: .customLong("grace-seconds"), help: "After SIGTERM/SIGINT: time to finish jobs in flight before releasing them.")
    var graceSeconds = 30.0

    @Option(name: .customLong("step-timeout-seconds"), help: "A decode pass longer than this counts as hung: the worker stops extending those leases so other workers take the jobs over.")
    var stepTimeoutSeconds = 300.0

    @OptionGroup var storage: StorageOptions

    @Option(name: .customLong("worker-id"), help: "Worker id shown by `zipar-admin workers` (default host:pid:random).")
    var workerID: String?

    @OptionGroup var log: LogOptions

    @Option(help: "Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT (e.g. 127.0.0.1:9090; off by default).")
    var http: String?

    @Option(name: .customLong("simulate-pass-ms"), help: ArgumentHelp("Testing aid: skip the network and fake each pass with this many milliseconds (gray PNGs).", visibility: .hidden))
    var simulatePassMs: Double?

    @Option(name: .customLong("load-delay-seconds"), help: ArgumentHelp("Testing aid: wait this long before loading the models (to see /readyz say 503).", visibility: .hidden))
    var loadDelaySeconds: Double?

    func validate() throws {
        if models.isEmpty { throw ValidationError("give at least one --model DIR") }
        if let http, ListenAddress(http) == nil { throw ValidationError("--http must be HOST:PORT, e.g. 127.0.0.1:9090 (got '\(http)')") }
        func check(_ value: Double, _ flag: String, _ range: ClosedRange<Double>) throws {
            // `contains` is false for nan, so nan and inf are refused here too.
            if !range.contains(value) { throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))") }
        }
        try check(leaseSeconds, "--lease-seconds", 1...86_400)
        try check(pollSeconds, "--poll-seconds", 0.01...3600)
        try check(graceSeconds, "--grace-seconds", 0...86_400)
        try check(stepTimeoutSeconds, "--step-timeout-seconds", 1...86_400)
    }

    func run() async throws {
        var logger = Logger(label: "zipar.worker")
        let id = workerID ?? WorkerOptions.defaultID()
        logger[metadataKey: "worker"] = "\(id)"

        let db: DatabaseConfig
        do { db = try DatabaseConfig.fromEnvironment() } catch { throw CLIError("database configuration: \(error)") }
        logger.info("database \(db)")
        // Which kernels run, and which OpenBLAS core (never a silent fallback; see Kernels/KernelRuntime).
        logger.info("kernels: \(KernelRuntime.describe())")
        for w in db.warnings { logger.warning("\(w)") }
        // Retrying cannot fix a wrong password, a missing database or a bad certificate: exit 1 at once.
        do { try await db.checkConnection() } catch let e as DatabaseConnectionError where e.isPermanent {
            throw CLIError("database: \(e)")
        } catch {
            logger.warning("database not reachable yet (retrying)", metadata: ["error": "\(describeError(error))"])
        }

        // The HTTP endpoints come up before the models load, so /readyz says 503 while they do.
        let metrics = WorkerMetrics()
        let readiness = Readiness()
        var telemetry: Task<Void, Never>?
        if let http, let address = ListenAddress(http) {
            telemetry = try startTelemetry(address: address, metrics: metrics, readiness: readiness, logger: logger)
        }
        defer { telemetry?.cancel() }

        if let delay = loadDelaySeconds { try await Task.sleep(nanoseconds: UInt64(max(delay, 0) * 1e9)) }
        let storageChoice = storage.choice
        var executors: [any JobExecutor] = []
        for dir in models {
            executors.append(loadExecutor(directory: dir, storageChoice: storageChoice, logger: logger))
        }
        // The probe decoded an image per model, so every VQ layer has its convolution plan by now.
        logConvolutionPlans(logger)
        let names = executors.map(\.model)
        if Set(names).count != names.count { throw CLIError("two --model directories have the same model name: \(names)") }
        // A worker with no usable model would only claim jobs to fail them: refuse to start.
        let broken = executors.compactMap { $0 as? BrokenExecutor }
        if broken.count == executors.count {
            throw CLIError("no model loaded, not starting: " + broken.map(\.reason).joined(separator: "; "))
        }

        var options = WorkerOptions(id: id, host: ProcessInfo.processInfo.hostName, queues: queues.isEmpty ? ["default"] : queues)
        options.leaseSeconds = leaseSeconds
        options.pollSeconds = pollSeconds
        options.graceSeconds = graceSeconds
        options.drain = drain
        options.stepTimeoutSeconds = stepTimeoutSeconds
        options.observer = MetricsObserver(metrics: metrics)
        options.version = ziparVersion
        options.loadFailures = Dictionary(broken.map { ($0.model, $0.reason) }, uniquingKeysWith: { a, _ in a })

        for ex in executors where !(ex is BrokenExecutor) { metrics.serving(model: ex.model) }
        let store = try JobStore(config: db, logger: Logger(label: "zipar.db"))
        readiness.ready(models: executors.filter { !($0 is BrokenExecutor) }.map(\.model), store: store)
        let worker = Worker(store: store, options: options, executors: executors, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: store.client),
                .init(service: WorkerService(worker: worker), successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        let counters = worker.counters.current
        if counters.brokenModels > 0 {
            throw CLIError("\(counters.brokenModels) model(s) broke while serving (every image failed); see the log")
        }
        let paused = counters.pausedQueued
        if paused > 0 {
            throw CLIError("queue paused with \(paused) queued job(s) for this worker: resume it (zipar-admin resume QUEUE) and run again")
        }
    }

    private func loadExecutor(directory: String, storageChoice: StorageChoice, logger: Logger) -> any JobExecutor {
        let name = (try? ModelFolderIdentity.load(directory: directory))?.name ?? URL(fileURLWithPath: directory).lastPathComponent
        if let ms = simulatePassMs {
            do {
                let ex = try SimulatedExecutor(directory: directory, capacity: batching.batch, passMs: ms)
                logger.warning("SIMULATED decoding for \(ex.model): \(ms) ms a pass, gray images")
                return ex
            } catch {
                return BrokenExecutor(model: name, reason: "\(error)", capacity: batching.batch)
            }
        }
        do {
            let started = Date()
            let (ex, details) = try loadModelExecutor(directory: directory, storage: storageChoice.storage,
                                                      batch: batching.batch, maxQueries: batching.maxQueries)
            var metadata: Logger.Metadata = ["model": "\(ex.model)", "dir": "\(directory)",
                                             "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"]
            for (key, value) in details { metadata[key] = "\(value)" }
            logger.info("model loaded", metadata: metadata)
            return ex
        } catch {
            logger.error("model failed to load; its jobs will fail with this error",
                         metadata: ["model": "\(name)", "dir": "\(directory)", "error": "\(error)"])
            return BrokenExecutor(model: name, reason: "model \(name) failed to load on \(ProcessInfo.processInfo.hostName): \(error)",
                                  capacity: batching.batch)
        }
    }
}

extension ZiparWorker: LogConfigurable {
    var logOptions: LogOptions { log }
}

/// Runs the worker under the service group: a graceful shutdown asks it to stop claiming and wind down.
/// The worker bounds its own shutdown (`Worker.run`: grace + 2 s in every database state); the watchdog
/// bounds what comes after it (closing the database client), so the process always exits within
/// grace + 4 s of the signal.
struct WorkerService: Service {
    let worker: Worker
    func run() async throws {
        let stop = StopSignal()
        let grace = worker.options.graceSeconds
        await withGracefulShutdownHandler {
            await worker.run(stop: stop)
        } onGracefulShutdown: {
            stop.trigger()
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: grace + 4)
                FileHandle.standardError.write(Data("zipar-worker: shutdown bound (grace + 4 s) reached while closing the database client; exiting\n".utf8))
                exit(0)
            }
        }
    }
}

/// The convolution algorithm each VQ layer runs (measured on this machine, cached, or forced by
/// ZK_CONV_ALGO), so a slow path is never silent.
func logConvolutionPlans(_ logger: Logger) {
    if let bad = ConvPlanner.ignoredEnvironmentValue {
        logger.warning("ZK_CONV_ALGO=\(bad) names no mode (tuned, heuristic, direct, winograd2x2, winograd4x4, gemm): measuring instead")
    }
    let planner = ConvPlanner.shared
    let lines = planner.describePlans()
    let cache = planner.cache.map { "cache \($0.file.path)" } ?? "no plan cache"
    logger.info("convolutions: \(planner.mode), \(lines.count) layer shapes planned (\(cache))")
    for line in lines { logger.info("conv plan \(line)") }
}
