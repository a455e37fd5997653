import Foundation
import HTTPAPI
import Hummingbird
import JobCore
import JobStore
import Logging
import OpenAPIRuntime

/// One LISTEN connection for the whole server, started by the first stream or wait that needs it: every
/// NOTIFY on `zipar_job_events` wakes all waiting streams, which then read `job_events` after their last
/// id. It reconnects after a failure and ends once the router that owns the hub is gone.
final class EventHub: Sendable {
    let wakeups = Wakeups()
    private let started = Locked(false)

    func start(_ store: JobStore) {
        let first = started.withLock { s -> Bool in defer { s = true }; return !s }
        guard first else { return }
        Task { [weak self] in
            while let wakeups = self?.wakeups {
                do {
                    try await store.listenForEvents { await wakeups.wakeAll() }
                } catch {
                    store.logger.debug("event listener: \(describeError(error)); reconnecting")
                }
                try? await Task.sleep(nanoseconds: 1_000_000_000)
            }
        }
    }
}

/// `GET /api/events`: Server-Sent Events, one per job that reached a final state, `id:` being the
/// durable `job_events` id. Filters: `batch`, `queue`, `label` (prefix). Resumes after `Last-Event-ID` (or
/// `?after=N`); without either, a stream filtered by batch starts at the batch's first event (nothing is
/// lost between submitting and connecting) and any other starts with the next event.
extension DashboardAPI {
    func streamEvents(_ input: Operations.StreamEvents.Input) async throws -> Operations.StreamEvents.Output {
        var filter = EventFilter(queue: nonEmpty(input.query.queue), labelPrefix: nonEmpty(input.query.label))
        if let b = nonEmpty(input.query.batch) {
            guard let id = UUID(uuidString: b) else { throw HTTPError(.badRequest, message: "batch must be a batch id (a UUID)") }
            filter.batch = id
        }
        let after: Int64
        if let resume = input.headers.lastEventID ?? input.query.after {   // Last-Event-ID wins
            guard resume >= 0 else {
                throw HTTPError(.badRequest, message: "Last-Event-ID (or after) must be an event id, a whole number >= 0")
            }
            after = Int64(resume)
        } else {
            after = filter.batch != nil ? 0 : try await store.lastEventID()
        }
        hub.start(store)
        let events = EventChunks(store: store, hub: hub, filter: filter, after: after)
        return .ok(.init(headers: .init(cacheControl: .noCache), body: .textEventStream(HTTPBody(events, length: .unknown, iterationBehavior: .single))))
    }
}

/// The bytes of one event stream, produced as the client reads them: nothing runs once it stops reading
/// (a closed connection ends the iteration, so no task outlives the client).
struct EventChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let store: JobStore
    let hub: EventHub
    let filter: EventFilter
    let after: Int64

    func makeAsyncIterator() -> Iterator { Iterator(source: self, last: after) }

    struct Iterator: AsyncIteratorProtocol {
        let source: EventChunks
        var last: Int64
        var started = false
        /// Seconds without an event, for the keep-alive comment.
        var quiet = 0.0
        /// The wakeup generation read before the last read of the events: the next call waits on it first.
        var waitSince: Int?
        let encoder: JSONEncoder = {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            enc.dateEncodingStrategy = .iso8601
            return enc
        }()

        init(source: EventChunks, last: Int64) { self.source = source; self.last = last }

        mutating func next() async throws -> ArraySlice<UInt8>? {
            if !started {
                started = true
                // Clients reconnect after 2 s; a comment every 15 s keeps proxies from closing an idle stream.
                return ArraySlice("retry: 2000\n: events after \(last)\n\n".utf8)
            }
            while !Task.isCancelled {
                if let generation = waitSince {
                    waitSince = nil
                    // A NOTIFY wakes the stream at once; the 5 s timeout is the safety net of a lost one.
                    if !(await source.hub.wakeups.wait(since: generation, seconds: 5)) {
                        quiet += 5
                        if quiet >= 15 {
                            quiet = 0
                            return ArraySlice(": keep-alive\n\n".utf8)
                        }
                    }
                }
                let generation = await source.hub.wakeups.generation
                let events = try await source.store.events(after: last, filter: source.filter)
                if events.count < 500 { waitSince = generation }   // 500: more are waiting, read on at once
                guard !events.isEmpty else { continue }
                quiet = 0
                var chunk: [UInt8] = []
                for e in events {
                    chunk += Array("id: \(e.id)\nevent: job\ndata: ".utf8)
                    chunk += try encoder.encode(e)
                    chunk += Array("\n\n".utf8)
                    last = e.id
                }
                return chunk[...]
            }
            return nil
        }
    }
}
