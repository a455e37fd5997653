import Foundation
import JobCore
import Prometheus

/// The worker's metrics, in Prometheus' text format through swift-prometheus. Names follow Prometheus
/// conventions (`_total` counters, `_seconds` histograms); every series carries the model it is about.
public final class WorkerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// Finish times of the last minute, for `zipar_images_per_second`.
    private let recent = Locked([Date]())

    /// Upper bounds of the per-stage histograms: from a tiny model's milliseconds to a real model's minutes.
    static let stageBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 150, 300]

    /// Series an alert rule watches exist from the start (at 0), not only after their first event:
    /// `increase(zipar_lease_renew_failures_total[5m])` sees nothing on a series that was never exposed.
    public init() {
        _ = leaseRenewFailures
    }

    private var leaseRenewFailures: Counter {
        registry.makeCounter(descriptor: name("lease_renew_failures", "total", "Heartbeats that could not renew the leases"),
                             labels: [])
    }

    /// A model this worker serves: its series start at 0, so `rate(zipar_jobs_failed_total[10m])` and the
    /// other alert expressions have a series before the first failure (rate needs two samples of one).
    public func serving(model: String) {
        for (metric, help) in [("jobs_done", "Jobs finished with an image"), ("passes", "Forward passes the finished jobs took part in"),
                               ("query_tokens", "Query tokens the finished jobs put into passes (CFG twins included)")] {
            _ = registry.makeCounter(descriptor: name(metric, "total", help), labels: [("model", model)])
        }
        for permanent in [false, true] {
            _ = registry.makeCounter(descriptor: name("jobs_failed", "total", "Job attempts that ended in an error"),
                                     labels: [("model", model), ("permanent", permanent ? "true" : "false")])
        }
        setInFlight(model: model, count: 0)
    }

    public func jobCompleted(model: String, passes: Int, queries: Int, stages: [(String, Double)]) {
        registry.makeCounter(descriptor: name("jobs_done", "total", "Jobs finished with an image"),
                             labels: [("model", model)]).increment()
        registry.makeCounter(descriptor: name("passes", "total", "Forward passes the finished jobs took part in"),
                             labels: [("model", model)]).increment(by: Int64(passes))
        registry.makeCounter(descriptor: name("query_tokens", "total", "Query tokens the finished jobs put into passes (CFG twins included)"),
                             labels: [("model", model)]).increment(by: Int64(queries))
        for (stage, seconds) in stages {
            registry.makeValueHistogram(descriptor: name("stage", "seconds", "Seconds per job and stage (decode, gpt, vq, png)"),
                                        labels: [("model", model), ("stage", stage)], buckets: Self.stageBuckets).record(seconds)
        }
        let now = Date()
        let perSecond = recent.withLock { times -> Double in
            times.append(now)
            times.removeAll { now.timeIntervalSince($0) > 60 }
            return Double(times.count) / 60
        }
        registry.makeGauge(descriptor: name("images", "per_second", "Images finished per second over the last minute"),
                           labels: [("model", model)]).set(perSecond)
    }

    public func jobFailed(model: String, permanent: Bool) {
        registry.makeCounter(descriptor: name("jobs_failed", "total", "Job attempts that ended in an error"),
                             labels: [("model", model), ("permanent", permanent ? "true" : "false")]).increment()
    }

    public func setInFlight(model: String, count: Int) {
        registry.makeGauge(descriptor: name("jobs_in_flight", "", "Jobs held by this worker: decoding, rendering or being written"),
                           labels: [("model", model)]).set(Double(count))
    }

    public func leaseRenewFailed() { leaseRenewFailures.increment() }

    /// `zipar_<metric>_<unit>` with its help line.
    func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "zipar", metricName: metric, unitName: unit, helpText: help)
    }

    /// The whole registry in the text exposition format.
    public func text() -> String { registry.emitToString() }
}
