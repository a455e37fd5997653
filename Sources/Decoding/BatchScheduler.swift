import Foundation
import Model

/// Limits of one scheduler.
public struct SchedulerLimits: Sendable, Equatable {
    /// Requests decoded at the same time (each takes 1 sequence, 2 with CFG).
    public var maxRequestsInFlight: Int
    /// Queries per forward pass across all requests.
    public var maxQueriesPerPass: Int

    public init(maxRequestsInFlight: Int = 8, maxQueriesPerPass: Int = 64) {
        self.maxRequestsInFlight = maxRequestsInFlight
        self.maxQueriesPerPass = maxQueriesPerPass
    }
}

/// Continuous batching: decides which (sequence, position) queries go into the next pass, runs the
/// pass on the engine, samples, and retires finished requests so new ones can join.
/// STUB: the decoding work replaces these bodies; the signatures are the contract with the worker.
public final class BatchScheduler {
    public let engine: GPTEngine
    public let limits: SchedulerLimits

    public init(engine: GPTEngine, limits: SchedulerLimits = SchedulerLimits()) {
        self.engine = engine
        self.limits = limits
    }

    /// Requests currently being decoded.
    public var inFlight: Int { 0 }
    /// True when another request can be added now.
    public var hasCapacity: Bool { inFlight < limits.maxRequestsInFlight }

    /// Adds a request; throws for a bad class id or a policy that does not fit the grid.
    public func add(_ request: GenerationRequest) throws { fatalError("not implemented") }

    /// Runs one forward pass; returns the requests that finished in it.
    public func step() -> [GenerationResult] { fatalError("not implemented") }

    /// Drops a request in flight (its sequences are released).
    public func cancel(id: String) { fatalError("not implemented") }

    /// Convenience: decodes all `requests`, keeping at most `limits.maxRequestsInFlight` in flight.
    public func run(_ requests: [GenerationRequest]) throws -> [GenerationResult] { fatalError("not implemented") }
}
