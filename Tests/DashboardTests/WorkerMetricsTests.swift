import Testing
@testable import Telemetry

/// The worker's /metrics text: what docs/service.md's alert rules watch is there from the start.
@Suite struct WorkerMetricsTests {
    @Test func theLeaseRenewCounterIsExposedBeforeAnyFailure() {
        let m = WorkerMetrics()
        #expect(m.text().contains("zipar_lease_renew_failures_total 0"))
        m.leaseRenewFailed()
        #expect(m.text().contains("zipar_lease_renew_failures_total 1"))
    }

    @Test func theStageHistogramsHelpNamesTheStagesItsLabelsCarry() {
        let m = WorkerMetrics()
        m.jobCompleted(model: "m", passes: 3, queries: 4, stages: [("decode", 0.5), ("gpt", 0.3), ("vq", 0.1), ("png", 0.01)])
        let text = m.text()
        #expect(text.contains("(decode, gpt, vq, png)"))
        for stage in ["decode", "gpt", "vq", "png"] { #expect(text.contains("stage=\"\(stage)\"")) }
    }
}
