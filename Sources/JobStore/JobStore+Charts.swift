import Foundation
import PostgresNIO

extension JobStore {
    /// The charts of the last `windowSeconds`, in `buckets` buckets (bounded reads: `SQL.chartDone`, `chartDepth`).
    public func charts(windowSeconds: Double, buckets: Int) async throws -> ChartSeries {
        precondition(windowSeconds > 0 && (1...1000).contains(buckets), "a chart needs a window and 1...1000 buckets")
        var done = [Int](repeating: 0, count: buckets)
        var p50 = [Double?](repeating: nil, count: buckets), p95 = [Double?](repeating: nil, count: buckets)
        var depth = [Int](repeating: 0, count: buckets)
        let start = Date().addingTimeInterval(-windowSeconds)
        for try await (i, n, a, b) in try await client.query(SQL.chartDone(windowSeconds: windowSeconds, buckets: buckets), logger: logger)
            .decode((Int32, Int, Double?, Double?).self) where (0..<buckets).contains(Int(i)) {
            done[Int(i)] = n; p50[Int(i)] = a; p95[Int(i)] = b
        }
        for try await (i, n) in try await client.query(SQL.chartDepth(windowSeconds: windowSeconds, buckets: buckets), logger: logger)
            .decode((Int32, Int).self) where (0..<buckets).contains(Int(i)) {
            depth[Int(i)] = n
        }
        return ChartSeries(start: start, step: windowSeconds / Double(buckets), done: done, p50Ms: p50, p95Ms: p95, depth: depth)
    }
}

extension JobStore {
    /// Per worker and model over the last `windowSeconds`: done, failed attempts, last error (bounded read:
    /// `SQL.workerHealth`).
    public func workerHealth(windowSeconds: Double = 3600) async throws -> [ModelHealth] {
        var out: [ModelHealth] = []
        for try await row in try await client.query(SQL.workerHealth(windowSeconds: windowSeconds), logger: logger) {
            let c = Columns(row)
            out.append(ModelHealth(worker: try c("worker"), model: try c("model"), done: try c("done"), failures: try c("failures"),
                                   lastError: try c("last_error"), lastFailureAt: try c("last_failure_at"), loadFailed: try c("load_failed")))
        }
        return out
    }
}
