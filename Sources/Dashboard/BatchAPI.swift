import Foundation
import HTTPTypes
import HTTPAPI
import Hummingbird
import JobCore
import JobStore
import OpenAPIRuntime
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
extension DashboardAPI {
    func createBatch(_ input: Operations.CreateBatch.Input) async throws -> Operations.CreateBatch.Output {
        let actor = try requireSubmitToken(APIRequestScope.current.authorization, config: config)
        guard !config.models.isEmpty else {
            throw HTTPError(.serviceUnavailable, message: "this server knows no model: start `zipar-admin serve` with --model DIR")
        }
        let body: HTTPBody
        switch input.body {   // the body is JSON lines whatever its Content-Type says
        case .applicationJsonl(let b), .any(let b): body = b
        }
        let text = try await readBatchBody(body, limits: config.batchLimits)
        let (model, queue) = (nonEmpty(input.query.model), nonEmpty(input.query.queue))
        var parser = try batchParser(model: model, queue: queue, models: config.models)
        parser.customIDRequired = true
        let jobs: [JobSpec]
        // (The refusal is built in a function of its own: built here, in the catch of the typed throw,
        // Swift 6.3.1's SILGen crashes.)
        do { jobs = try parser.parse(text, format: .jsonl) } catch { return .badRequest(.init(body: .json(batchRefusal(error)))) }
        let key = input.headers.idempotencyKey
        if let key, key.isEmpty || key.count > 200 || key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw HTTPError(.badRequest, message: "Idempotency-Key must be 1-200 characters without control characters")
        }
        var webhook: String?
        if let hook = nonEmpty(input.query.webhook) {
            guard config.webhookSecret != nil else {
                throw HTTPError(.badRequest, message: "webhook: this server sends no webhooks (start `zipar-admin serve` with --webhook-secret-file)")
            }
            guard let url = webhookURL(hook) else { throw HTTPError(.badRequest, message: "webhook: must be an http or https URL with a host") }
            webhook = url
        }
        // The key names the request: its body and the defaults its query gave the lines.
        let sha = sha256Hex(Array("\(model ?? "")\n\(queue ?? "")\n\(webhook ?? "")\n\(text)".utf8))
        do {
            // The audit row goes in with the batch, in its transaction.
            let created = try await store.createBatch(jobs, requestSHA256: sha, idempotencyKey: key, webhook: webhook, auditActor: actor)
            let location = "/api/batches/\(created.batch.id)"
            if created.replayed {
                return .ok(.init(headers: .init(location: location, idempotentReplayed: ._true), body: .json(created.batch)))
            }
            logMutation(logger, .batchCreated(actor: actor, batch: created.batch.id), count: jobs.count)
            return .created(.init(headers: .init(location: location), body: .json(created.batch)))
        } catch let e as BatchKeyConflict {
            throw HTTPError(.unprocessableContent, message: e.description)
        } catch let e as SubmitError {
            throw HTTPError(.unprocessableContent, message: "\(e); nothing inserted")
        }
    }

    func getBatch(_ input: Operations.GetBatch.Input) async throws -> Operations.GetBatch.Output {
        let id = try pathUUID(input.path.id)
        guard let batch = try await store.batch(id: id) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        return .ok(.init(body: .json(batch)))
    }

    func getBatchResults(_ input: Operations.GetBatchResults.Input) async throws -> Operations.GetBatchResults.Output {
        let id = try pathUUID(input.path.id)
        let wait = try bounded(input.query.wait, "wait", default: -1, range: 0...3600)
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
        var body: [UInt8] = []
        for line in lines {
            body += try enc.encode(line)
            body.append(0x0A)
        }
        return .ok(.init(headers: .init(ziparBatchComplete: batch.finishedAt == nil ? ._false : ._true), body: .applicationJsonl(HTTPBody(body))))
    }

    func cancelBatch(_ input: Operations.CancelBatch.Input) async throws -> Operations.CancelBatch.Output {
        let id = try pathUUID(input.path.id)
        let actor = try requireSubmitToken(APIRequestScope.current.authorization, config: config)
        let note = AuditNote(actor: actor, action: "batch-cancel", target: "batch \(id.text)")
        guard let cancelled = try await store.cancelBatch(id: id, audit: note) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        logMutation(logger, note, count: cancelled)
        guard let batch = try await store.batch(id: id) else { throw HTTPError(.notFound, message: "no batch \(id.text)") }
        return .ok(.init(body: .json(.init(cancelled: cancelled, batch: batch))))
    }

    func getJobImage(_ input: Operations.GetJobImage.Input) async throws -> Operations.GetJobImage.Output {
        let id = try pathUUID(input.path.id)
        guard let png = try await store.png(id: id) else { throw HTTPError(.notFound, message: "no image for job \(id.text)") }
        return .ok(.init(headers: .init(cacheControl: "max-age=3600"), body: .png(HTTPBody(png))))
    }
}

/// A refused batch: every line error (the first 100), each naming its line and field.
func batchRefusal(_ error: PromptErrors) -> Components.Schemas.BatchRefusal {
    let lines = error.errors.prefix(100).map {
        Components.Schemas.BatchRefusal.ErrorsPayloadPayload(line: $0.line, field: $0.field, message: $0.message)
    }
    return .init(error: "\(error.errors.count) error(s); nothing inserted", errors: Array(lines))
}

/// The parser of one batch: `?model=` names the model of lines without one (else a lone served model is the
/// default and, with several, each line names its own), `?queue=` the queue of lines without one.
func batchParser(model: String?, queue: String?, models: [ModelSpec]) throws -> PromptParser {
    var defaults = SubmitDefaults()
    if let queue {
        if let problem = QueueName.problem(queue) { throw HTTPError(.badRequest, message: "queue: \(problem)") }
        defaults.queue = queue
    }
    guard let first = models.first else { throw HTTPError(.serviceUnavailable, message: "this server knows no model") }
    var parser = PromptParser(model: first, defaults: defaults)
    if let name = model {
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
func readBatchBody(_ body: HTTPBody, limits: BatchLimits) async throws -> String {
    var bytes: [UInt8] = []
    var newlines = 0
    for try await view in body {
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
func requireSubmitToken(_ authorization: String?, config: DashboardConfig) throws -> String {
    let accepted = [config.submitToken, config.adminToken].compactMap { $0 }
    guard !accepted.isEmpty else {
        throw HTTPError(.forbidden, message: "batches are off: start `zipar-admin serve` with a submit token (--submit-token-file or ZIPAR_SUBMIT_TOKEN)")
    }
    guard let auth = authorization, auth.hasPrefix("Bearer ") else {
        throw HTTPError(.unauthorized, message: "submit token missing: send Authorization: Bearer TOKEN")
    }
    let given = Array(auth.dropFirst("Bearer ".count).utf8)
    // Both compared, always: the time taken says nothing about which token was close.
    let matches = accepted.map { constantTimeEqual(given, Array($0.utf8)) }
    guard matches.contains(true) else { throw HTTPError(.unauthorized, message: "submit token wrong") }
    return config.submitToken.map { constantTimeEqual(given, Array($0.utf8)) } == true ? "submit token" : "admin token"
}

