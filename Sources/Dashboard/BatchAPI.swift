import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import JobStore
import Submission

/// What the batch API accepts: the models a line may name, and how big one batch may be.
public struct BatchLimits: Sendable {
    /// Bytes of one `POST /api/batches` body.
    public var maxBytes: Int
    /// Lines of one body (blank and comment lines count: they are read too).
    public var maxLines: Int
    public init(maxBytes: Int = 16 << 20, maxLines: Int = 10_000) { self.maxBytes = maxBytes; self.maxLines = maxLines }
}

/// The batch API (issue #23): `POST /api/batches` takes a JSONL body that `PromptParser` validates exactly
/// as `zipar-submit --format jsonl` does, and inserts it in one transaction; the batch, its results, its
/// cancellation and each job's PNG are read back under /api. Creating and cancelling need the submit token
/// (or the admin token); reading needs none, like every other GET of the server.
func addBatchAPI(to router: Router<BasicRequestContext>, store: JobStore, config: DashboardConfig, hub: EventHub) {
    router.post("/api/batches") { request, context in
        let actor = try requireSubmitToken(request, config: config)
        let q = try query(request)
        guard !config.models.isEmpty else {
            throw HTTPError(.serviceUnavailable, message: "this server knows no model: start `zipar-admin serve` with --model DIR")
        }
        let text = try await readBatchBody(request, limits: config.batchLimits)
        var parser = try batchParser(q, models: config.models)
        parser.customIDRequired = true
        let jobs: [JobSpec]
        do { jobs = try parser.parse(text, format: .jsonl) } catch let error as PromptErrors {
            return try json(BatchRefusal(error: "\(error.errors.count) error(s); nothing inserted", errors: error.errors.prefix(100).map {
                BatchRefusal.LineError(line: $0.line, field: $0.field, message: $0.message)
            }), status: .badRequest)
        }
        let key = request.headers[.idempotencyKey]
        if let key, key.isEmpty || key.count > 200 || key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw HTTPError(.badRequest, message: "Idempotency-Key must be 1-200 characters without control characters")
        }
        var webhook: String?
        if let hook = q["webhook"] {
            guard config.webhookSecret != nil else {
                throw HTTPError(.badRequest, message: "webhook: this server sends no webhooks (start `zipar-admin serve` with --webhook-secret-file)")
            }
            guard let url = webhookURL(hook) else { throw HTTPError(.badRequest, message: "webhook: must be an http or https URL with a host") }
            webhook = url
        }
        // The key names the request: its body and the defaults its query gave the lines.
        let sha = sha256Hex(Array("\(q["model"] ?? "")\n\(q["queue"] ?? "")\n\(webhook ?? "")\n\(text)".utf8))
        do {
            // The audit row goes in with the batch, in its transaction.
            let created = try await store.createBatch(jobs, requestSHA256: sha, idempotencyKey: key, webhook: webhook, auditActor: actor)
            if !created.replayed {
                logMutation(context.logger, .batchCreated(actor: actor, batch: created.batch.id), count: jobs.count)
            }
            var response = try json(created.batch, status: created.replayed ? .ok : .created)
            response.headers[.location] = "/api/batches/\(created.batch.id)"
            if created.replayed { response.headers[.idempotentReplayed] = "true" }
            return response
        } catch let e as BatchKeyConflict {
            throw HTTPError(.unprocessableContent, message: e.description)
        } catch let e as SubmitError {
            throw HTTPError(.unprocessableContent, message: "\(e); nothing inserted")
        }
    }
    router.get("/api/batches/{id}") { _, context in
        let id = try context.parameters.require("id", as: UUID.self)
        guard let batch = try await store.batch(id: id) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        return try json(batch)
    }
    router.get("/api/batches/{id}/results") { request, context in
        let id = try context.parameters.require("id", as: UUID.self)
        let q = try query(request)
        let wait = try QueryValues.int(q, "wait", default: -1, range: 0...3600)
        guard var batch = try await store.batch(id: id) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        if wait >= 0 {
            // Until every job is final or the time is up; each final state is a NOTIFY (and a slow poll backs it).
            let deadline = Date().addingTimeInterval(Double(wait))
            hub.start(store)
            while batch.finishedAt == nil && Date() < deadline {
                let generation = await hub.wakeups.generation
                guard let now = try await store.batch(id: id) else { break }
                batch = now
                if batch.finishedAt != nil { break }
                await hub.wakeups.wait(since: generation, seconds: min(2, max(0, deadline.timeIntervalSinceNow)))
            }
        }
        let lines = try await store.batchResults(id: id, onlyFinished: wait < 0)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var body = ByteBuffer()
        for line in lines {
            body.writeBytes(try enc.encode(line))
            body.writeString("\n")
        }
        return Response(status: .ok, headers: [.contentType: "application/jsonl", .batchComplete: batch.finishedAt == nil ? "false" : "true"],
                        body: .init(byteBuffer: body))
    }
    router.post("/api/batches/{id}/cancel") { request, context in
        let id = try context.parameters.require("id", as: UUID.self)
        let actor = try requireSubmitToken(request, config: config)
        let note = AuditNote(actor: actor, action: "batch-cancel", target: "batch \(id.text)")
        guard let cancelled = try await store.cancelBatch(id: id, audit: note) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        logMutation(context.logger, note, count: cancelled)
        guard let batch = try await store.batch(id: id) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        return try json(BatchCancelAnswer(cancelled: cancelled, batch: batch))
    }
    router.get("/api/jobs/{id}/image.png") { _, context in
        let id = try context.parameters.require("id", as: UUID.self)
        guard let png = try await store.png(id: id) else { throw HTTPError(.notFound, message: "no image for job \(id.text)") }
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "max-age=3600"],
                        body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }
}

/// The parser of one batch: `?model=` names the model of lines without one (else a lone served model is the
/// default and, with several, each line names its own), `?queue=` the queue of lines without one.
func batchParser(_ q: [String: String], models: [ModelSpec]) throws -> PromptParser {
    var defaults = SubmitDefaults()
    if let queue = q["queue"] {
        if let problem = QueueName.problem(queue) { throw HTTPError(.badRequest, message: "queue: \(problem)") }
        defaults.queue = queue
    }
    guard let first = models.first else { throw HTTPError(.serviceUnavailable, message: "this server knows no model") }
    var parser = PromptParser(model: first, defaults: defaults)
    if let name = q["model"] {
        guard let named = models.first(where: { $0.name == name }) else {
            throw HTTPError(.badRequest, message: "model: unknown model '\(name.prefix(80))' (known here: \(models.map(\.name).joined(separator: ", ")))")
        }
        parser.model = named
    } else {
        parser.modelRequired = models.count > 1
    }
    parser.otherModels = models.filter { $0.name != parser.model.name }
    return parser
}

/// The body as UTF-8 text, read piece by piece so a body over the limits is refused as soon as it passes
/// them: 413 naming the byte limit and the line it was reached on, or 400 naming the first line too many.
func readBatchBody(_ request: Request, limits: BatchLimits) async throws -> String {
    var bytes: [UInt8] = []
    var newlines = 0
    for try await buffer in request.body {
        let view = buffer.readableBytesView
        if bytes.count + view.count > limits.maxBytes {
            let upTo = bytes + view.prefix(limits.maxBytes - bytes.count)
            let line = upTo.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            throw HTTPError(.contentTooLarge, message: "the body passes \(limits.maxBytes) bytes on line \(line) "
                            + "(the server's --max-batch-bytes): split the batch")
        }
        newlines += view.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        bytes += view
        if newlines > limits.maxLines {   // line maxLines + 1 has begun
            throw HTTPError(.badRequest, message: "line \(limits.maxLines + 1): a batch has at most \(limits.maxLines) lines "
                            + "(the server's --max-batch-lines): split the batch")
        }
    }
    // A last line without its newline is a line too.
    let lines = newlines + (bytes.last.map { $0 == 0x0A ? 0 : 1 } ?? 0)
    if lines > limits.maxLines {
        throw HTTPError(.badRequest, message: "line \(limits.maxLines + 1): a batch has at most \(limits.maxLines) lines "
                        + "(the server's --max-batch-lines): split the batch")
    }
    return try utf8Text(bytes)
}

/// The body's text, or a 400 naming the line and column of the first byte that is not UTF-8.
func utf8Text(_ bytes: [UInt8]) throws -> String {
    let text: String
    do { text = try InputText.decode(bytes) } catch {
        throw HTTPError(.badRequest, message: error.errors.map(\.description).joined(separator: "; "))
    }
    return text
}

/// Creating and cancelling batches: the submit token, or the admin token (which may do anything). 403 when
/// the server has neither, 401 when the request's is missing or wrong.
/// Returns which token it was, for the audit log: "submit token" or "admin token".
@discardableResult
func requireSubmitToken(_ request: Request, config: DashboardConfig) throws -> String {
    let accepted = [config.submitToken, config.adminToken].compactMap { $0 }
    guard !accepted.isEmpty else {
        throw HTTPError(.forbidden, message: "batches are off: start `zipar-admin serve` with a submit token (--submit-token-file or ZIPAR_SUBMIT_TOKEN)")
    }
    guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") else {
        throw HTTPError(.unauthorized, message: "submit token missing: send Authorization: Bearer TOKEN")
    }
    let given = Array(auth.dropFirst("Bearer ".count).utf8)
    // Both compared, always: the time taken says nothing about which token was close.
    let matches = accepted.map { constantTimeEqual(given, Array($0.utf8)) }
    guard matches.contains(true) else { throw HTTPError(.unauthorized, message: "submit token wrong") }
    return config.submitToken.map { constantTimeEqual(given, Array($0.utf8)) } == true ? "submit token" : "admin token"
}

/// A refused batch: every line error (the first 100), each naming its line and field.
struct BatchRefusal: Encodable {
    struct LineError: Encodable { var line: Int; var field: String; var message: String }
    var error: String
    var errors: [LineError]
}

struct BatchCancelAnswer: Encodable {
    var cancelled: Int
    var batch: BatchInfo
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    /// `GET /api/batches/{id}/results`: whether every job of the batch had finished.
    static let batchComplete = Self("Zipar-Batch-Complete")!
    static let lastEventID = Self("Last-Event-ID")!
}
