import Foundation
import Hummingbird
import JobCore
import JobStore
import Logging
import Submission
import Telemetry

/// How `zipar-admin serve` runs.
public struct DashboardConfig: Sendable {
    public var address: ListenAddress
    /// Mutating requests (pause, resume, retry, cancel) need this token; nil = read-only.
    public var adminToken: String?
    /// Throughput window of the queues page, minutes.
    public var windowMinutes: Int
    /// Model grids by model name, for the decode-order heatmap (from the model directories given).
    public var grids: [String: Int]

    /// `POST /api/batches` and batch cancels need this token (or the admin token); nil = no submit scope.
    public var submitToken: String?
    /// The models batches may use (from `--model DIR`): a batch line is validated against its model.
    public var models: [ModelSpec]
    public var batchLimits: BatchLimits
    /// Signs webhook bodies; nil = batches may not name a webhook.
    public var webhookSecret: String?
    /// Signs dashboard session cookies (at least 32 bytes); nil = a random secret per start (sessions end when
    /// the server restarts, and servers behind one address do not share them).
    public var sessionSecret: [UInt8]?
    /// How long a dashboard session lasts from sign-in, seconds.
    public var sessionLifetime: TimeInterval
    /// Marks the session cookie `Secure` (the dashboard is reached over https).
    public var secureCookie: Bool

    public init(address: ListenAddress, adminToken: String?, windowMinutes: Int = 60, grids: [String: Int] = [:],
                submitToken: String? = nil, models: [ModelSpec] = [], batchLimits: BatchLimits = BatchLimits(),
                webhookSecret: String? = nil, sessionSecret: [UInt8]? = nil, sessionLifetime: TimeInterval = 8 * 3600,
                secureCookie: Bool = false) {
        self.address = address; self.adminToken = adminToken; self.windowMinutes = windowMinutes; self.grids = grids
        self.submitToken = submitToken; self.models = models; self.batchLimits = batchLimits; self.webhookSecret = webhookSecret
        self.sessionSecret = sessionSecret; self.sessionLifetime = sessionLifetime; self.secureCookie = secureCookie
    }
}

/// The dashboard: server-rendered pages for people, the same data as JSON under /api (docs/openapi.yaml),
/// and /metrics, /healthz, /readyz. Every mutating request is a POST: from the pages a form of a signed-in
/// session carrying its CSRF token (`ConsoleAuth`), on /api `Authorization: Bearer` with the admin token;
/// each is refused otherwise and recorded in the audit log when done. Image routes take a job id (a UUID),
/// never a path.
public func dashboardApplication(store: JobStore, config: DashboardConfig, logger: Logger) -> some ApplicationProtocol {
    // Behind ClientAddressResponder: the sign-in throttle counts failures per connection peer.
    Application(responder: ClientAddressResponder(inner: dashboardRouter(store: store, config: config).buildResponder()),
                configuration: .init(address: config.address.bindAddress, serverName: "zipar-admin"), logger: logger)
}

/// Every route of the dashboard, the API and the health endpoints (tests drive it without a socket).
public func dashboardRouter(store: JobStore, config: DashboardConfig) -> Router<BasicRequestContext> {
    // HEAD answered as GET without the body (monitors and link checkers send HEAD; it was a 404).
    let router = Router(options: .autoGenerateHeadEndpoints)
    let auth = ConsoleAuth(config: config)
    let pageSize = 60
    router.middlewares.add(SecurityHeaders())
    router.middlewares.add(HTMLErrors())
    router.middlewares.add(ErrorBodies())
    router.middlewares.add(APIRequestScope.Middleware())
    /// The pages as this request's viewer sees them, with the confirmation its `?done=` names.
    @Sendable func pages(_ request: Request) throws -> Pages { Pages(viewer: auth.viewer(request), notice: Notice.text(try query(request))) }

    router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/queues"]) }
    router.get("/queues") { request, _ in
        html(try pages(request).queues(try await store.stats(windowMinutes: config.windowMinutes, resultsInWindow: true)))
    }
    router.get("/jobs") { request, _ in
        var q = try query(request)
        (q["done"], q["n"]) = (nil, nil)   // the confirmation shows once, not on every page after it
        let (filter, page) = try jobFilter(q, pageSize: pageSize)
        return html(try pages(request).jobs(try await store.jobs(filter), filter: filter, page: page, pageSize: pageSize, query: q))
    }
    router.get("/jobs/{id}") { request, context in
        let id = try context.parameters.require("id", as: UUID.self)
        guard let d = try await store.job(id: id) else { throw HTTPError(.notFound, message: "No job \(id.text).") }
        return html(try pages(request).job(d, grid: config.grids[d.model] ?? d.result?.decodeOrder.map { Int(Double($0.count).squareRoot()) }))
    }
    router.get("/jobs/{id}/image.png") { _, context in
        let id = try context.parameters.require("id", as: UUID.self)
        guard let png = try await store.png(id: id) else { return HealthRoutes.plain(.notFound, "no image for \(id.text)\n") }
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "max-age=3600"],
                        body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }
    router.get("/gallery") { request, _ in
        var q = try query(request)
        q["state"] = "done"
        let (filter, page) = try jobFilter(q, pageSize: pageSize)
        q["state"] = nil
        return html(try pages(request).gallery(try await store.jobs(filter), query: q, page: page, pageSize: pageSize))
    }
    router.get("/compare") { request, _ in
        let q = try query(request)
        guard let model = q["model"], let cls = q["class"], q["seed"] != nil else {
            throw HTTPError(.badRequest, message: "compare needs model, class and seed")
        }
        let seed = try QueryValues.int(q, "seed", default: 0, range: 0...Int(Int64.max))
        let jobs = try await store.jobs(JobFilter(states: [.done], model: model, className: cls, seed: seed, limit: 50))
        var seen = Set<String>()
        let one = jobs.filter { seen.insert($0.policy).inserted }.sorted { $0.policy < $1.policy }
        var passes: [String: (Int, Int)] = [:]       // at most one job per policy: a detail read each
        for j in one {
            if let id = UUID(uuidString: j.id), let r = try await store.job(id: id)?.result { passes[j.id] = (r.passes, r.ntpPasses) }
        }
        return html(try pages(request).compare(one, passes: passes, model: model, classLabel: cls, seed: seed))
    }
    router.get("/workers") { request, _ in
        html(try pages(request).workers(try await store.workers(), health: try await store.workerHealth()))
    }
    router.get("/audit") { request, _ in
        let page = try QueryValues.int(try query(request), "page", default: 0, range: 0...QueryValues.maxPage)
        return html(try pages(request).audit(try await store.auditLog(limit: pageSize, offset: page * pageSize), page: page, pageSize: pageSize))
    }
    router.get("/charts") { request, _ in
        let range = try query(request)["range"] ?? "hour"
        guard let r = chartRanges[range] else { throw HTTPError(.badRequest, message: "range must be hour or day") }
        return html(try pages(request).charts(try await store.charts(windowSeconds: r.window, buckets: r.buckets), range: range))
    }
    router.get("/console.js") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"],
                 body: .init(byteBuffer: ByteBuffer(string: LiveScript.source)))
    }
    addSignIn(to: router, auth: auth)

    // Mutations from pages: a signed-in form with its CSRF token, recorded, then back to the page with a
    // confirmation.
    for verb in ["pause", "resume"] {
        router.post("/queues/{name}/\(verb)") { request, context in
            let name = try context.parameters.require("name")
            let (session, _) = try await auth.requireSession(request)
            let note = AuditNote(actor: session.actor, action: verb, target: "queue \(name)")
            try await store.setPaused(queue: name, verb == "pause", audit: note)
            logMutation(context.logger, note, count: 1)
            return Response(status: .seeOther, headers: [.location: "/queues?done=\(verb == "pause" ? "paused" : "resumed")"])
        }
    }
    for verb in ["retry", "cancel"] {
        router.post("/jobs/{id}/\(verb)") { request, context in
            let id = try context.parameters.require("id", as: UUID.self)
            let (session, _) = try await auth.requireSession(request)
            let note = AuditNote(actor: session.actor, action: verb, target: "job \(id.text)")
            let outcome = verb == "retry" ? try await store.retry(ids: [id], audit: note) : try await store.cancel(ids: [id], audit: note)
            let changed = outcome.first?.changed == true
            logMutation(context.logger, note, count: changed ? 1 : 0)
            let done = changed ? (verb == "retry" ? "retried" : "cancelled") : "unchanged"
            return Response(status: .seeOther, headers: [.location: "/jobs/\(id.text)?done=\(done)"])
        }
    }
    addBulkActions(to: router, store: store, auth: auth, pages: pages)

    // The JSON API: generated from docs/openapi.yaml (DashboardAPI).
    DashboardAPI(store: store, config: config, hub: EventHub(), pageSize: pageSize).register(on: router)

    HealthRoutes.add(to: router, metrics: {
        let depths = (try? await store.queueDepths()) ?? []
        return QueueMetrics.text(depths)
    }, ready: {
        do { _ = try await store.schemaVersion(); return nil } catch { return "database: \(describeError(error))" }
    })

    return router
}

/// The charts' windows: the last hour in minutes, the last day in half hours.
let chartRanges: [String: (window: Double, buckets: Int)] = ["hour": (3600, 60), "day": (86_400, 48)]

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in a.indices { diff |= a[i] ^ b[i] }
    return diff == 0
}

/// `application/x-www-form-urlencoded` fields.
func formFields(_ body: String) -> [String: String] {
    var out: [String: String] = [:]
    for pair in body.split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
        if kv.count == 2 { out[kv[0]] = kv[1] }
    }
    return out
}

func query(_ request: Request) throws -> [String: String] { try QueryValues.parse(request) }

/// The filters of /jobs, /gallery and /api/jobs: queue, state, label (prefix), policy, class, q (prompt
/// text), since (age), page. Every value bounded (`QueryValues`).
func jobFilter(_ q: [String: String], pageSize: Int) throws -> (JobFilter, Int) {
    var states: [JobState]?
    if let s = q["state"] {
        guard let st = JobState(rawValue: s) else { throw HTTPError(.badRequest, message: "unknown state \(s.prefix(40))") }
        states = [st]
    }
    let since = try QueryValues.age(q, "since")
    let page = try QueryValues.int(q, "page", default: 0, range: 0...QueryValues.maxPage)
    let filter = JobFilter(queue: q["queue"], labelPrefix: q["label"], states: states, model: q["model"], sinceSeconds: since,
                           policy: q["policy"], className: q["class"], text: q["q"], limit: pageSize, offset: page * pageSize)
    return (filter, page)
}

func html(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    enc.dateEncodingStrategy = .iso8601
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try enc.encode(value))))
}

/// One script, the server's own /console.js, and nothing from elsewhere: a prompt's `<script>` could not run
/// even unescaped (inline scripts are not allowed), and the script may only talk to this server.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; "
            + "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        return response
    }
}

/// The admin server's own /metrics: queue depth by state and how long each queue's oldest due job has waited.
enum QueueMetrics {
    static func text(_ depths: [QueueDepth]) -> String {
        var out = "# HELP zipar_queue_jobs Jobs by queue and state (scheduled: queued but not due yet).\n# TYPE zipar_queue_jobs gauge\n"
        for d in depths { out += "zipar_queue_jobs{queue=\"\(label(d.queue))\",state=\"\(d.state.rawValue)\"} \(d.count)\n" }
        out += "# HELP zipar_queue_oldest_queued_seconds How long the oldest due queued job of each queue has been due (scheduled jobs do not count).\n"
        out += "# TYPE zipar_queue_oldest_queued_seconds gauge\n"
        // One series per queue, 0 while nothing is due (an absent series would read as "no such queue").
        var oldest: [String: Double] = [:]
        for d in depths { oldest[d.queue] = max(oldest[d.queue] ?? 0, d.oldestQueuedSeconds ?? 0) }
        for (queue, age) in oldest.sorted(by: { $0.key < $1.key }) {
            out += "zipar_queue_oldest_queued_seconds{queue=\"\(label(queue))\"} \(age)\n"
        }
        return out
    }

    /// A label value in the exposition format: backslash, quote and newline escaped.
    static func label(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
