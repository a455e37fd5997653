import Foundation

/// How one worker fared with one model over a recent window (the workers page): jobs done, failed
/// attempts and the last error. `loadFailed`: its jobs failed because the model did not load there.
public struct ModelHealth: Sendable, Codable, Equatable {
    public var worker: String
    public var model: String
    public var done: Int
    public var failures: Int
    public var lastError: String?
    public var lastFailureAt: Date?
    public var loadFailed: Bool
    /// ok, failing (some attempts failed), broken (failures and nothing done: every image fails), load failed.
    /// Stored, so the JSON carries it too.
    public var status: String

    public init(worker: String, model: String, done: Int, failures: Int, lastError: String?, lastFailureAt: Date?, loadFailed: Bool) {
        self.worker = worker; self.model = model; self.done = done; self.failures = failures
        self.lastError = lastError; self.lastFailureAt = lastFailureAt; self.loadFailed = loadFailed
        status = loadFailed ? "load failed" : failures > 0 && done == 0 ? "broken" : failures > 0 ? "failing" : "ok"
    }
}
