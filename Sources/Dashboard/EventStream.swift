import Foundation
import Hummingbird
import JobCore
import JobStore
import Logging

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
func addEventStream(to router: Router<BasicRequestContext>, store: JobStore, hub: EventHub) {
    router.get("/api/events") { request, _ in
        let q = try query(request)
        var filter = EventFilter(queue: q["queue"], labelPrefix: q["label"])
        if let b = q["batch"] {
            guard let id = UUID(uuidString: b) else { throw HTTPError(.badRequest, message: "batch must be a batch id (a UUID)") }
            filter.batch = id
        }
        let resume = request.headers[.lastEventID] ?? q["after"]
        let after: Int64
        if let resume {
            guard let n = Int64(resume.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw HTTPError(.badRequest, message: "Last-Event-ID (or after) must be an event id, a whole number >= 0")
            }
            after = n
        } else {
            after = filter.batch != nil ? 0 : try await store.lastEventID()
        }
        hub.start(store)
        let start = after, eventFilter = filter
        let body = ResponseBody { writer in
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            enc.dateEncodingStrategy = .iso8601
            var last = start
            // Clients reconnect after 2 s; a comment every 15 s keeps proxies from closing an idle stream.
            try await writer.write(ByteBuffer(string: "retry: 2000\n: events after \(last)\n\n"))
            var quiet = 0.0
            while !Task.isCancelled {
                let generation = await hub.wakeups.generation
                let events = try await store.events(after: last, filter: eventFilter)
                for e in events {
                    var chunk = ByteBuffer(string: "id: \(e.id)\nevent: job\ndata: ")
                    chunk.writeBytes(try enc.encode(e))
                    chunk.writeString("\n\n")
                    try await writer.write(chunk)
                    last = e.id
                }
                if events.count == 500 { continue }   // more waiting: no sleep
                if !events.isEmpty { quiet = 0 }
                // A NOTIFY wakes the stream at once; the 5 s timeout is the safety net of a lost one.
                let woken = await hub.wakeups.wait(since: generation, seconds: 5)
                if !woken {
                    quiet += 5
                    if quiet >= 15 {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        quiet = 0
                    }
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
