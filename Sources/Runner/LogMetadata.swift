import JobCore
import Logging

// Log fields as their own typed values (numbers as numbers under --log-format json), the same names on
// every line about a job.

extension ClaimedJob {
    /// `job` (its id) and, when it has one, its `label`.
    var logMetadata: Logger.Metadata {
        var m: Logger.Metadata = ["job": "\(id.text)"]
        if let label { m["label"] = "\(label)" }
        return m
    }
}

extension FailOutcome {
    /// `outcome` (retrying or failed) and, when retrying, `retry_in_s` (the backoff, a number).
    var logMetadata: Logger.Metadata {
        switch self {
        case .retrying(let after): return ["outcome": "retrying", "retry_in_s": .stringConvertible((after * 1000).rounded() / 1000)]
        case .failed: return ["outcome": "failed"]
        }
    }
}
