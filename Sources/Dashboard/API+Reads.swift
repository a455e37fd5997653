import Foundation
import HTTPAPI
import Hummingbird
import JobStore

/// The pages' data as JSON: reads need no token.
extension DashboardAPI {
    func listQueues(_ input: Operations.ListQueues.Input) async throws -> Operations.ListQueues.Output {
        .ok(.init(body: .json(try await store.queues())))
    }

    func getStats(_ input: Operations.GetStats.Input) async throws -> Operations.GetStats.Output {
        // Latencies over the jobs finished in the last results_window minutes (default a day; 0 = all history).
        let minutes = try bounded(input.query.resultsWindow, "results_window", default: 1440, range: 0...5_256_000)
        let stats = try await store.stats(windowMinutes: config.windowMinutes, resultsWindowMinutes: minutes > 0 ? minutes : nil)
        return .ok(.init(body: .json(stats)))
    }

    func listWorkers(_ input: Operations.ListWorkers.Input) async throws -> Operations.ListWorkers.Output {
        .ok(.init(body: .json(try await store.workers())))
    }

    func getWorkerHealth(_ input: Operations.GetWorkerHealth.Input) async throws -> Operations.GetWorkerHealth.Output {
        .ok(.init(body: .json(try await store.workerHealth())))
    }

    func getCharts(_ input: Operations.GetCharts.Input) async throws -> Operations.GetCharts.Output {
        // The generated enum already refused any other range (a 400); the two are `chartRanges`' keys.
        let range = input.query.range?.rawValue ?? "hour"
        guard let r = chartRanges[range] else { throw HTTPError(.badRequest, message: "range must be hour or day") }
        return .ok(.init(body: .json(try await store.charts(windowSeconds: r.window, buckets: r.buckets))))
    }

    func listAudit(_ input: Operations.ListAudit.Input) async throws -> Operations.ListAudit.Output {
        let page = try bounded(input.query.page, "page", default: 0, range: 0...QueryValues.maxPage)
        return .ok(.init(body: .json(try await store.auditLog(limit: pageSize, offset: page * pageSize))))
    }

    func listJobs(_ input: Operations.ListJobs.Input) async throws -> Operations.ListJobs.Output {
        // The same filter as the jobs page, from the same keys (`jobFilter` bounds since and page).
        let q = input.query
        let fields: [String: String?] = [
            "queue": q.queue, "state": q.state?.rawValue, "label": q.label, "policy": q.policy, "class": q._class,
            "model": q.model, "q": q.q, "since": q.since, "page": q.page.map(String.init),
        ]
        let (filter, _) = try jobFilter(fields.compactMapValues { nonEmpty($0) }, pageSize: pageSize)
        return .ok(.init(body: .json(try await store.jobs(filter))))
    }

    func getJob(_ input: Operations.GetJob.Input) async throws -> Operations.GetJob.Output {
        let id = try pathUUID(input.path.id)
        guard let detail = try await store.job(id: id) else { throw HTTPError(.notFound, message: "no job \(id.text)") }
        return .ok(.init(body: .json(detail)))
    }
}
