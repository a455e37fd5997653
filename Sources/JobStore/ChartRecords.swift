import Foundation

/// The dashboard's charts over one window (issue 24): per bucket, jobs done, latency percentiles and how
/// many jobs were waiting at its end. Bucket `i` covers `(start + i*step, start + (i+1)*step]`.
public struct ChartSeries: Sendable, Codable, Equatable {
    public var start: Date
    /// Seconds per bucket.
    public var step: Double
    public var done: [Int]
    /// Submit-to-result latency of the jobs done in each bucket, ms (nil: none done).
    public var p50Ms: [Double?]
    public var p95Ms: [Double?]
    /// Jobs queued (scheduled included) at each bucket's end, rebuilt from arrivals and starts: a retry
    /// sending a job back to its queue is not counted, so it is a close reading, not an exact one.
    public var depth: [Int]

    public init(start: Date, step: Double, done: [Int], p50Ms: [Double?], p95Ms: [Double?], depth: [Int]) {
        self.start = start; self.step = step; self.done = done; self.p50Ms = p50Ms; self.p95Ms = p95Ms; self.depth = depth
    }
}
