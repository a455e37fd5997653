import Dashboard
import Foundation
import JobCore
import JobStore
import Telemetry
import Testing
import TestSupport

/// Issue 24: the job page's decode-order heatmap has a legend with pass numbers, and the compare page says
/// how many passes each policy took.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct DecodeOrderPagesTests {
    @Test func heatmapHasALegendAndTheComparePageCountsPasses() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(0, policy: "ntp"), job(0, policy: "zipar:2")])
            var output = tinyOutput
            output.decodeOrder = (0..<16).map { $0 / 2 }        // a 4 x 4 grid in 8 passes
            for claimed in try await store.claim(limit: 2, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30) {
                try await store.complete(claimed, output: output, worker: "w")
            }
            let http = HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(
                address: ListenAddress("127.0.0.1:0")!, adminToken: nil, grids: ["m": 4])).buildResponder())
            let id = try #require(try await store.jobs(JobFilter(limit: 1)).first?.id)
            let page = try await http.send(.get, "/jobs/\(id)").body
            #expect(page.contains("id=\"heatmap-legend\""), "\(page)")
            #expect(page.contains("<span>pass 1</span><span>4</span><span>8</span>"), "first, middle and last pass under the colours")
            let compare = try await http.send(.get, "/compare?model=m&class=0&seed=1").body
            #expect(compare.contains("ntp<br>3 passes (ntp 16)") && compare.contains("zipar:2<br>3 passes (ntp 16)"), "\(compare)")
        }
    }
}
