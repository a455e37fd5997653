import Dashboard
import Foundation
import Hummingbird
import JobCore
import JobStore
import Testing
import Telemetry
import TestSupport

/// Issue 24, item 1: the dashboard, its API and /metrics show a job due later as scheduled, and such a job
/// does not age its queue (the documented ZiparQueueStuck alert must not fire for it).
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct ScheduledJobsPagesTests {
    @Test func pagesAPIAndMetricsShowScheduledJobs() async throws {
        try await PG.withDatabase { _, store in
            var later = job(2)
            later.runAfter = Date().addingTimeInterval(7200)
            let id = try await store.submit([later]).ids[0]
            let http = HTTPDriver(responder: dashboardRouter(
                store: store, config: DashboardConfig(address: ListenAddress("127.0.0.1:0")!, adminToken: nil)).buildResponder())

            let metrics = try await http.send(.get, "/metrics").body
            #expect(metrics.contains("zipar_queue_jobs{queue=\"default\",state=\"scheduled\"} 1"), "\(metrics)")
            #expect(metrics.contains("zipar_queue_oldest_queued_seconds{queue=\"default\"} 0.0\n"), "a job due in 2 h is not waiting: \(metrics)")

            let listed = try await http.send(.get, "/api/jobs?state=scheduled").body
            let jobs = try #require(try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]])
            #expect(jobs.map { $0["id"] as? String } == [id.text] && jobs.first?["state"] as? String == "scheduled")
            #expect(try await http.send(.get, "/api/jobs?state=queued").body == "[]")
            let queues = try await http.send(.get, "/api/queues").body
            #expect(queues.contains("\"scheduled\":1"), "\(queues)")
            #expect(try await http.send(.get, "/api/jobs/\(id.text)").json()["state"] as? String == "scheduled")

            let queuePage = try await http.send(.get, "/queues").body
            #expect(queuePage.contains("state=scheduled\">1</a>"), "the queues page links the scheduled count")
            let jobPage = try await http.send(.get, "/jobs/\(id.text)").body
            #expect(jobPage.contains(">scheduled</b> until"))

            // Once due, it is queued and ages the queue from its due time, not from its creation.
            _ = try await store.submit([job(1)])
            let after = try await http.send(.get, "/metrics").body
            #expect(after.contains("zipar_queue_jobs{queue=\"default\",state=\"queued\"} 1"))
            #expect(after.contains("zipar_queue_oldest_queued_seconds{queue=\"default\"}"))
        }
    }
}
