import Foundation
import JobCore
import Model
import TextModel

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
/// pass on the engine, samples, and retires finished requests so new ones can join. The engine may be
/// LlamaGen's or a text model's (`ImageTokenEngine`); each request brings its layout (`DecodingSetup`).
///
/// Each request's queries go into a pass all together or not at all (unless a single request alone exceeds
/// the cap), so a request's schedule, and with counter-based sampling its tokens, do not depend on what else
/// shares the batch. Requests are served in arrival order; one whose queries do not fit waits a pass.
/// A prompt prefill is the exception: its K/V do not depend on how the prompt is split, so a request still
/// prefilling takes whatever room the pass has left.
public final class BatchScheduler {
    public let engine: any ImageTokenEngine
    public let limits: SchedulerLimits

    final class Active {
        let decoder: RequestDecoder
        let cond: SequenceID
        let uncond: SequenceID?
        let started: Date
        init(decoder: RequestDecoder, cond: SequenceID, uncond: SequenceID?) {
            self.decoder = decoder; self.cond = cond; self.uncond = uncond; started = Date()
        }
    }

    private var active: [Active] = []
    /// Passes run so far.
    public private(set) var passCount = 0
    /// Query tokens of the last pass (guidance twins included): what a pass cost depends on.
    public private(set) var lastPassQueries = 0

    public init(engine: any ImageTokenEngine, limits: SchedulerLimits = SchedulerLimits()) {
        self.engine = engine
        self.limits = limits
    }

    /// The decoder engine underneath, when a real model runs (benchmarks profile it).
    public var decoderEngine: DecoderEngine? { (engine as? DecoderTokenEngine)?.engine }

    /// A scheduler with its own LlamaGen engine sized for `batch` requests (`DecoderTokenEngine(gpt:...)`).
    public convenience init(model: GPTModel, batch: Int, maxQueries: Int, attentionMode: AttentionMode = .masked) {
        self.init(engine: DecoderTokenEngine(gpt: model, batch: batch, maxQueries: maxQueries, attentionMode: attentionMode),
                  limits: SchedulerLimits(maxRequestsInFlight: batch, maxQueriesPerPass: maxQueries))
    }

    /// A scheduler for a text-to-image bundle, its engine sized like the one above.
    public convenience init(textBundle: TextModelBundle, batch: Int, maxQueries: Int, attentionMode: AttentionMode = .masked) {
        self.init(engine: DecoderTokenEngine(textBundle: textBundle, batch: batch, maxQueries: maxQueries, attentionMode: attentionMode),
                  limits: SchedulerLimits(maxRequestsInFlight: batch, maxQueriesPerPass: maxQueries))
    }

    /// Queries per pass actually used: the smaller of the limit and the engine's buffers.
    public var queryCap: Int { min(limits.maxQueriesPerPass, engine.maxQueries) }

    /// Requests currently being decoded.
    public var inFlight: Int { active.count }
    /// True when another request can be added now.
    public var hasCapacity: Bool {
        inFlight < limits.maxRequestsInFlight && engine.openSequences + 2 <= engine.maxSequences
    }

    /// Adds a request; throws `ParameterError` for parameters the model cannot serve, `DecodingError` when full.
    public func add(_ request: GenerationRequest) throws {
        let decoder = try RequestDecoder(request: request, setup: try engine.setup(for: request))
        guard !active.contains(where: { $0.decoder.request.id == request.id }) else {
            throw DecodingError.duplicateID(request.id)
        }
        guard inFlight < limits.maxRequestsInFlight else {
            throw DecodingError.full("\(inFlight) requests in flight (limit \(limits.maxRequestsInFlight))")
        }
        let need = decoder.usesGuidance ? 2 : 1
        guard engine.openSequences + need <= engine.maxSequences else {
            throw DecodingError.full("engine has no free sequence slot (\(engine.maxSequences) in use)")
        }
        let cond = try engine.openSequence(for: request)
        let uncond = decoder.usesGuidance ? try engine.openSequence(for: request) : nil
        active.append(Active(decoder: decoder, cond: cond, uncond: uncond))
    }

    /// Runs one forward pass; returns the requests that finished in it.
    public func step() -> [GenerationResult] {
        guard !active.isEmpty else { return [] }
        let cap = queryCap
        var queries = PassBatch()
        var members: [(Active, [PlannedQuery], condIndex: [Int?], uncondIndex: [Int?])] = []
        for a in active {
            let room = cap - queries.count
            var plan = a.decoder.isPrefilling ? a.decoder.plan(maxQueries: room) : a.decoder.plan()
            let cost = RequestDecoder.cost(plan)
            if cost == 0 { continue }
            if cost > room {
                if !queries.isEmpty { continue }           // wait for a pass with room
                plan = a.decoder.plan(maxQueries: cap)     // alone and too big: run what fits
            }
            var ci: [Int?] = [], ui: [Int?] = []
            for pq in plan {
                guard pq.side != .unconditional else { ci.append(nil); continue }
                ci.append(queries.count)
                queries.append(DecoderQuery(sequence: a.cond, position: pq.position, input: pq.input,
                                           wantsLogits: pq.wantsLogits, hidden: pq.hidden))
            }
            for pq in plan {
                let twin = pq.side == .unconditional || (pq.side == .both && pq.guided)
                if twin, let u = a.uncond {
                    ui.append(queries.count)
                    let input = pq.side == .unconditional ? pq.input : pq.twinInput ?? pq.input
                    queries.append(DecoderQuery(sequence: u, position: pq.position, input: input,
                                               wantsLogits: pq.wantsLogits, hidden: pq.hidden))
                } else {
                    ui.append(nil)
                }
            }
            members.append((a, plan, ci, ui))
        }
        // Every unfinished request always has a query to make (the window rules cannot deadlock).
        precondition(!queries.isEmpty, "scheduler made no progress with \(active.count) requests in flight")

        let t0 = Date()
        lastPassQueries = queries.count
        let logits = engine.forward(queries)
        func row(_ q: Int?) -> [Float]? { q.flatMap { logits[$0] } }
        var gathered: [(Active, [PlannedQuery], [[Float]?], [[Float]?])] = []
        for (a, plan, ci, ui) in members {
            gathered.append((a, plan, ci.map { row($0) }, ui.map { row($0) }))
        }
        // Sampling is part of the pass's cost; time it with the forward pass.
        var finished: [GenerationResult] = []
        var seconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        for (a, plan, c, u) in gathered { a.decoder.apply(plan, cond: c, uncond: u, seconds: 0) }
        seconds += Date().timeIntervalSince(t1)
        for (a, _, _, _) in gathered { a.decoder.setLastPassSeconds(seconds) }
        passCount += 1

        active.removeAll { a in
            guard a.decoder.isFinished else { return false }
            finished.append(a.decoder.result(wallSeconds: Date().timeIntervalSince(a.started)))
            release(a)
            return true
        }
        return finished
    }

    private func release(_ a: Active) {
        engine.closeSequence(a.cond)
        if let u = a.uncond { engine.closeSequence(u) }
    }

    /// Drops a request in flight (its sequences are released).
    public func cancel(id: String) {
        active.removeAll { a in
            guard a.decoder.request.id == id else { return false }
            release(a)
            return true
        }
    }

    /// Decodes all `requests`, keeping at most `limits.maxRequestsInFlight` in flight; `onResult` sees each
    /// result as it finishes. Results come back in the order of `requests`.
    public func run(_ requests: [GenerationRequest],
                    onResult: ((GenerationResult) throws -> Void)? = nil) throws -> [GenerationResult] {
        var pending = requests[...]
        var done: [String: GenerationResult] = [:]
        while !pending.isEmpty || !active.isEmpty {
            while let next = pending.first, hasCapacity || active.isEmpty {
                try add(next)
                pending = pending.dropFirst()
            }
            for r in step() { done[r.id] = r; try onResult?(r) }
        }
        return requests.map { done[$0.id]! }
    }
}
