import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import JobStore
import Telemetry
import Testing
import TestSupport

/// The bulk actions over /api (issue 24) against a real PostgreSQL through the router: the GET counts and
/// changes nothing; the POST needs the admin token and the count, changes nothing when the count moved, and
/// is audited like the console's form.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct BulkAPITests {
    static let token = "admin-token-0123456789"

    func driver(_ store: JobStore, adminToken: String? = token) -> HTTPDriver {
        HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(address: ListenAddress("127.0.0.1:0")!,
                                                                                 adminToken: adminToken)).buildResponder())
    }

    /// Three jobs labelled a-1, a-2, b-1, all failed for good.
    func failedJobs(_ store: JobStore) async throws -> [UUID] {
        var specs = [job(1), job(2), job(3)]
        for (i, label) in ["a-1", "a-2", "b-1"].enumerated() { specs[i].label = label }
        let ids = try await store.submit(specs).ids
        for claimed in try await store.claim(limit: 3, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30) {
            try await store.fail(claimed, error: "broken on purpose", permanent: true, worker: "w")
        }
        return ids
    }

    @Test func theCountChangesNothingAndTheRetryNeedsTheTokenAndTheSameCount() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await failedJobs(store)
            let http = driver(store)

            let count = try await http.send(.get, "/api/bulk/retry?label=a-&state=failed")
            #expect(count.status == .ok, "\(count.body)")
            #expect(count.json()["count"] as? Int == 2 && count.json()["filter"] as? String == "label=a- state=failed"
                    && count.json()["action"] as? String == "retry", "\(count.body)")
            #expect(try await store.states(of: ids).values.allSatisfy { $0 == .failed }, "the count changed nothing")

            #expect(try await http.send(.post, "/api/bulk/retry?label=a-&state=failed&expected=2").status == .unauthorized)
            #expect(try await http.send(.post, "/api/bulk/retry?label=a-&state=failed&expected=2",
                                        headers: .bearer("wrong-token-0123456789")).status == .unauthorized)
            #expect(try await http.send(.post, "/api/bulk/retry?label=a-&state=failed",
                                        headers: .bearer(Self.token)).status == .badRequest, "the count is required")
            let stale = try await http.send(.post, "/api/bulk/retry?label=a-&state=failed&expected=3", headers: .bearer(Self.token))
            #expect(stale.status == .conflict && stale.body.contains("Nothing was changed"), "\(stale.status) \(stale.body)")
            #expect(try await store.states(of: ids).values.allSatisfy { $0 == .failed })
            #expect(try await store.auditLog().isEmpty, "a refused action leaves no audit row")

            let done = try await http.send(.post, "/api/bulk/retry?label=a-&state=failed&expected=2", headers: .bearer(Self.token))
            #expect(done.status == .ok, "\(done.body)")
            #expect(done.json()["changed"] as? Int == 2 && done.json()["byQueue"] as? [String: Int] == ["default": 2], "\(done.body)")
            let states = try await store.states(of: ids)
            #expect(states[ids[0]] == .queued && states[ids[1]] == .queued && states[ids[2]] == .failed)
            let log = try await store.auditLog()
            #expect(log.count == 1 && log[0].actor == "admin token" && log[0].action == "bulk-retry"
                    && log[0].target == "label=a- state=failed" && log[0].count == 2)
        }
    }

    @Test func cancelAndDeleteKeepToTheirStatesAndAReadOnlyServerRefuses() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2), job(3, queue: "other")], createQueues: true).ids
            let http = driver(store)
            #expect(try await http.send(.get, "/api/bulk/delete?queue=default").json()["count"] as? Int == 0, "live jobs are not deleted")
            #expect(try await http.send(.get, "/api/bulk/cancel?queue=default").json()["count"] as? Int == 2)
            #expect(try await http.send(.get, "/api/bulk/explode?queue=default").status == .badRequest)
            #expect(try await http.send(.get, "/api/bulk/cancel?state=sleeping").status == .badRequest)

            let readOnly = driver(store, adminToken: nil)
            #expect(try await readOnly.send(.post, "/api/bulk/cancel?queue=default&expected=2",
                                            headers: .bearer(Self.token)).status == .forbidden)

            let cancelled = try await http.send(.post, "/api/bulk/cancel?queue=default&expected=2", headers: .bearer(Self.token))
            #expect(cancelled.status == .ok && cancelled.json()["changed"] as? Int == 2, "\(cancelled.body)")
            let deleted = try await http.send(.post, "/api/bulk/delete?queue=default&expected=2", headers: .bearer(Self.token))
            #expect(deleted.status == .ok && deleted.json()["changed"] as? Int == 2, "\(deleted.body)")
            #expect(try await store.states(of: ids) == [ids[2]: .queued])
            #expect(try await store.auditLog().map(\.action) == ["bulk-delete", "bulk-cancel"])
        }
    }
}
