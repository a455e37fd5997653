import Dashboard
import Foundation
import JobCore
import JobStore
import Telemetry
import Testing
import TestSupport

/// Issue 24: a retried job's page shows the attempt it is on, not the one before the retry. The worker and
/// start belong to the current attempt (none while it waits), the attempts before the retry stay in its
/// history, and attempt numbers go on across retries (migration 0014), so no number shows twice.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct RetriedJobTests {
    func claim(_ store: JobStore, as worker: String) async throws -> ClaimedJob {
        try #require(try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: worker, leaseSeconds: 30).first)
    }

    @Test func attemptsCountOnAcrossRetriesAndThePageShowsTheCurrentOne() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1, maxAttempts: 1)]).ids[0]
            _ = try await store.fail(try await claim(store, as: "w-first"), error: "boom 1", permanent: false, worker: "w-first")
            let failed = try #require(try await store.job(id: id))
            #expect(failed.state == .failed && failed.leaseOwner == "w-first" && failed.attemptStartedAt != nil)

            _ = try await store.retry(ids: [id])
            let queued = try #require(try await store.job(id: id))
            #expect(queued.state == .queued && queued.attempts == 0 && queued.attemptsBeforeRetry == 1)
            #expect(queued.leaseOwner == nil && queued.attemptStartedAt == nil, "a waiting job has no current worker or start")
            #expect(queued.startedAt == failed.startedAt, "the first start stays (the charts and queue wait read it)")
            let http = HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(
                address: ListenAddress("127.0.0.1:0")!, adminToken: nil)).buildResponder())
            let waiting = try await http.send(.get, "/jobs/\(id.text)").body
            #expect(waiting.contains("<span id=\"worker\">-</span>") && waiting.contains("<span id=\"started\">-</span>"), "\(waiting)")
            #expect(waiting.contains("id=\"errors\"") && waiting.contains("w-first") && waiting.contains("boom 1"),
                    "the attempt before the retry stays in the history")

            // The second run: a failed attempt, then a done one, both numbered after the first run's.
            let second = try await claim(store, as: "w-second")
            let running = try #require(try await store.job(id: id))
            #expect(running.leaseOwner == "w-second" && running.attemptStartedAt.map { $0 > failed.startedAt! } == true)
            #expect(running.startedAt == failed.startedAt)
            _ = try await store.retry(ids: [id])   // running: not retried, nothing moves
            _ = try await store.fail(second, error: "boom 2", permanent: false, worker: "w-second")
            _ = try await store.retry(ids: [id])
            try await store.complete(try await claim(store, as: "w-third"), output: tinyOutput, worker: "w-third")

            let done = try #require(try await store.job(id: id))
            #expect(done.errors.map(\.attempt) == [1, 2] && done.errors.map(\.worker) == ["w-first", "w-second"])
            #expect(done.result?.attempt == 3 && done.attemptsBeforeRetry == 2 && done.attempts == 1)
            let page = try await http.send(.get, "/jobs/\(id.text)").body
            #expect(page.contains("<span id=\"worker\">w-third</span>") && page.contains("first started"), "\(page)")
            #expect(page.contains("1 of 1</span> since its last retry (2 before it)"), "\(page)")
        }
    }

    /// The console's bulk retry and `retry --failed` keep the count the same way as a retry by id.
    @Test func bulkRetryKeepsCounting() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1, maxAttempts: 1), job(2, maxAttempts: 1)]).ids
            for _ in ids { _ = try await store.fail(try await claim(store, as: "w"), error: "boom", permanent: true, worker: "w") }
            #expect(try await store.bulk(.retry, filter: JobFilter(), expected: 2, audit: nil).values.reduce(0, +) == 2)
            for _ in ids { _ = try await store.fail(try await claim(store, as: "w"), error: "boom", permanent: true, worker: "w") }
            #expect(try await store.retryFailed(queue: nil) == 2)
            for id in ids {
                _ = try await store.fail(try await claim(store, as: "w"), error: "boom", permanent: true, worker: "w")
                #expect(try await store.job(id: id)?.errors.map(\.attempt) == [1, 2, 3])
            }
        }
    }
}
