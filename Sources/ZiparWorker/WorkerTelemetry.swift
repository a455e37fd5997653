import Foundation
import Hummingbird
import JobCore
import JobStore
import Logging
import Runner
import Telemetry

/// Feeds the worker's events to its Prometheus metrics.
struct MetricsObserver: WorkerObserver {
    let metrics: WorkerMetrics
    func jobCompleted(model: String, output: JobOutput) {
        var stages: [(String, Double)] = [("decode", output.decodeSeconds)]
        if let s = output.stages { stages += [("gpt", s.gpt), ("vq", s.vq), ("png", s.png)] }
        metrics.jobCompleted(model: model, passes: output.passes, queries: output.queries, stages: stages)
    }
    func jobFailed(model: String, permanent: Bool) { metrics.jobFailed(model: model, permanent: permanent) }
    func inFlight(model: String, count: Int) { metrics.setInFlight(model: model, count: count) }
    func heartbeatFailed() { metrics.leaseRenewFailed() }
}

/// Ready once the models are loaded and the database answers.
final class Readiness: Sendable {
    private let loaded = Locked<(models: [String], store: JobStore?)>(([], nil))

    func ready(models: [String], store: JobStore) {
        loaded.withLock { $0 = (models, store) }
    }

    /// Nil when ready, else why not.
    func check() async -> String? {
        let (models, store) = loaded.current
        guard let store, !models.isEmpty else { return "models loading" }
        do { _ = try await store.schemaVersion() } catch { return "database: \(describeError(error))" }
        return nil
    }
}

/// Serves /metrics, /healthz and /readyz until cancelled.
func startTelemetry(address: ListenAddress, metrics: WorkerMetrics, readiness: Readiness, logger: Logger) throws -> Task<Void, Never> {
    let router = Router()
    HealthRoutes.add(to: router, metrics: { metrics.text() }, ready: { await readiness.check() })
    let app = Application(router: router, configuration: .init(address: address.bindAddress, serverName: "zipar-worker"),
                          logger: logger)
    logger.info("serving /metrics, /healthz, /readyz", metadata: ["address": "\(address)"])
    return Task {
        do {
            try await app.run()
        } catch is CancellationError {
            // The worker's own clean stop cancels this task: nothing went wrong.
        } catch {
            logger.error("HTTP server stopped", metadata: ["error": "\(error)"])
        }
    }
}
