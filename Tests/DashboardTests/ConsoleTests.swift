import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import JobCore
import JobStore
import Telemetry
import Testing
import TestSupport

/// Issue 24 against a real PostgreSQL through the router: sign-in once, then a session cookie and CSRF
/// tokens on every form; bulk actions by filter behind a confirmation with the exact count; every change in
/// the audit log; HTML error pages; HEAD answered like GET. The API keeps its bearer tokens.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct ConsoleTests {
    static let token = "admin-token-0123456789"

    func driver(_ store: JobStore, adminToken: String? = token) -> HTTPDriver {
        HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(address: ListenAddress("127.0.0.1:0")!,
                                                                                 adminToken: adminToken)).buildResponder())
    }

    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Signs in; returns the Cookie header to send and the CSRF token of the session's pages.
    func signIn(_ http: HTTPDriver) async throws -> (cookie: HTTPFields, csrf: String) {
        let answer = try await http.send(.post, "/signin", body: "token=\(Self.token)", headers: Self.form)
        #expect(answer.status == .seeOther && answer.headers[.location] == "/queues?done=signed-in")
        let set = try #require(answer.headers[.setCookie])
        let pair = try #require(set.split(separator: ";").first.map(String.init))
        var cookie = Self.form
        cookie[.cookie] = pair
        let page = try await http.send(.get, "/queues", headers: cookie).body
        let csrf = try #require(Self.csrf(in: page))
        return (cookie, csrf)
    }

    static func csrf(in page: String) -> String? {
        guard let r = page.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(page[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test func signInSetsAStrictHttpOnlyCookieAndAWrongTokenIsAnHTMLPage() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store)
            let wrong = try await http.send(.post, "/signin", body: "token=not-the-token", headers: Self.form)
            #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil)
            #expect(wrong.body.hasPrefix("<!doctype html>") && wrong.body.contains("not the admin token"), "\(wrong.body)")

            let ok = try await http.send(.post, "/signin", body: "token=\(Self.token)", headers: Self.form)
            let set = try #require(ok.headers[.setCookie])
            for attribute in ["zipar_session=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
                #expect(set.contains(attribute), "\(attribute) missing from \(set)")
            }
            let (cookie, csrf) = try await signIn(http)
            let page = try await http.send(.get, "/queues?done=signed-in", headers: cookie).body
            #expect(page.contains("id=\"signed-in\"") && page.contains("id=\"notice\"") && page.contains("Signed in."))
            #expect(!csrf.isEmpty)
            // Signed out: no forms, a sign-in link instead.
            let anonymous = try await http.send(.get, "/queues").body
            #expect(anonymous.contains("id=\"signin\"") && !anonymous.contains("name=\"csrf\""))

            let out = try await http.send(.post, "/signout", body: "csrf=\(csrf)", headers: cookie)
            #expect(out.status == .seeOther && out.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }

    @Test func pageMutationsNeedASessionAndItsCSRFTokenAndAreAudited() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1)])
            let http = driver(store)
            let (cookie, csrf) = try await signIn(http)
            var forged = cookie
            forged[.cookie] = "zipar_session=1999999999.\(String(repeating: "ab", count: 16)).00"
            let refusals: [(HTTPFields, String, HTTPResponse.Status, String)] = [
                (Self.form, "csrf=\(csrf)", .unauthorized, "Sign in first"),          // no cookie
                (Self.form, "token=\(Self.token)", .unauthorized, "Sign in first"),   // the old token field is no session
                (forged, "csrf=\(csrf)", .unauthorized, "Sign in first"),            // a cookie the server did not sign
                (cookie, "", .forbidden, "CSRF"),                                     // no CSRF token
                (cookie, "csrf=\(csrf.dropLast())\(csrf.last == "0" ? "1" : "0")", .forbidden, "CSRF"),   // another token
            ]
            for (headers, body, status, message) in refusals {
                let answer = try await http.send(.post, "/queues/default/pause", body: body, headers: headers)
                #expect(answer.status == status && answer.body.contains(message) && answer.body.hasPrefix("<!doctype html>"),
                        "\(body): \(answer.status) \(answer.body.prefix(300))")
            }
            #expect(try await store.queues().first?.paused == false, "a refused form changed nothing")
            #expect(try await store.auditLog().isEmpty)

            let paused = try await http.send(.post, "/queues/default/pause", body: "csrf=\(csrf)", headers: cookie)
            #expect(paused.status == .seeOther && paused.headers[.location] == "/queues?done=paused")
            #expect(try await store.queues().first?.paused == true)
            let log = try await store.auditLog()
            #expect(log.count == 1 && log[0].action == "pause" && log[0].target == "queue default" && log[0].count == 1)
            #expect(log[0].actor.hasPrefix("admin session ") && log[0].actor.count == "admin session ".count + 8)
            let audit = try await http.send(.get, "/audit").body
            #expect(audit.contains("id=\"audit\"") && audit.contains("queue default") && audit.contains(log[0].actor))
        }
    }

    @Test func bulkRetryConfirmsTheExactCountBeforeAnythingChanges() async throws {
        try await PG.withDatabase { _, store in
            var specs = [job(1), job(2), job(3)]
            for (i, label) in ["a-1", "a-2", "b-1"].enumerated() { specs[i].label = label }
            let ids = try await store.submit(specs).ids
            for claimed in try await store.claim(limit: 3, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30) {
                try await store.fail(claimed, error: "broken on purpose", permanent: true, worker: "w")
            }
            let http = driver(store)
            #expect(try await http.send(.get, "/jobs/bulk?action=retry&label=a-").status == .unauthorized)
            let (cookie, csrf) = try await signIn(http)
            #expect(try await http.send(.get, "/jobs/bulk?action=explode&label=a-", headers: cookie).status == .badRequest)

            let confirm = try await http.send(.get, "/jobs/bulk?action=retry&label=a-&state=failed", headers: cookie)
            #expect(confirm.status == .ok && confirm.body.contains("id=\"bulk-count\"><b>2</b> jobs"), "\(confirm.body)")
            #expect(confirm.body.contains("name=\"expected\" value=\"2\""))
            #expect(try await store.states(of: ids).values.allSatisfy { $0 == .failed }, "the confirmation changed nothing")

            let stale = try await http.send(.post, "/jobs/bulk", body: "csrf=\(csrf)&action=retry&label=a-&state=failed&expected=3",
                                            headers: cookie)
            #expect(stale.status == .conflict && stale.body.contains("Nothing was changed"), "\(stale.status) \(stale.body)")
            #expect(try await store.states(of: ids).values.allSatisfy { $0 == .failed })
            #expect(try await http.send(.post, "/jobs/bulk", body: "action=retry&label=a-&expected=2", headers: cookie).status == .forbidden)

            let done = try await http.send(.post, "/jobs/bulk", body: "csrf=\(csrf)&action=retry&label=a-&state=failed&expected=2",
                                           headers: cookie)
            #expect(done.status == .seeOther && done.headers[.location] == "/jobs?done=bulk-retry&label=a-&n=2&state=failed")
            let states = try await store.states(of: ids)
            #expect(states[ids[0]] == .queued && states[ids[1]] == .queued && states[ids[2]] == .failed)
            let log = try await store.auditLog()
            #expect(log.count == 1 && log[0].action == "bulk-retry" && log[0].target == "label=a- state=failed" && log[0].count == 2)
            let jobs = try await http.send(.get, "/jobs?done=bulk-retry&n=2&label=a-", headers: cookie).body
            #expect(jobs.contains("2 jobs requeued.") && jobs.contains("id=\"bulk-retry\""))
        }
    }

    @Test func bulkCancelAndDeleteTouchOnlyTheStatesTheyMayChange() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2), job(3, queue: "other")], createQueues: true).ids
            let note = AuditNote(actor: "test", action: "bulk-cancel", target: "queue=default")
            #expect(try await store.bulkCount(.cancel, filter: JobFilter(queue: "default")) == 2)
            #expect(try await store.bulkCount(.delete, filter: JobFilter(queue: "default")) == 0, "live jobs are not deleted")
            #expect(try await store.bulk(.cancel, filter: JobFilter(queue: "default"), expected: 2, audit: note) == ["default": 2])
            #expect(try await store.bulk(.delete, filter: JobFilter(queue: "default"), expected: nil, audit: nil) == ["default": 2])
            #expect(try await store.states(of: ids) == [ids[2]: .queued])
            #expect(try await store.auditLog().map(\.count) == [2])
        }
    }

    @Test func hostileFormsAndCookiesGetAFourHundredNeverAServerError() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store)
            let (cookie, csrf) = try await signIn(http)
            let values = HostileQueryTests.hostile
            for value in values {
                for body in ["token=\(value)", "csrf=\(value)", "csrf=\(csrf)&action=\(value)&expected=1",
                             "csrf=\(csrf)&action=retry&expected=\(value)", "csrf=\(csrf)&action=delete&expected=0&since=\(value)",
                             "csrf=\(csrf)&action=cancel&expected=0&state=\(value)", String(repeating: "a=b&", count: 5000)] {
                    for path in ["/signin", "/signout", "/jobs/bulk", "/queues/default/pause"] {
                        let status = try await http.send(.post, path, body: body, headers: cookie).status
                        #expect(status.code < 500, "\(path) \(body.prefix(60)) answered \(status.code)")
                    }
                }
                var hostileCookie = Self.form
                hostileCookie[.cookie] = "zipar_session=\(value); zipar_session=; other=\(value)"
                let status = try await http.send(.post, "/queues/default/pause", body: "csrf=\(csrf)", headers: hostileCookie).status
                #expect(status == .unauthorized || status == .badRequest, "cookie \(value.prefix(30)) answered \(status.code)")
            }
        }
    }

    @Test func theAPIKeepsBearerTokensAndIsAudited() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(1)]).ids[0]
            let http = driver(store)
            let (cookie, csrf) = try await signIn(http)
            // A session never authorises the API: programs send the token.
            let withCookie = try await http.send(.post, "/api/jobs/\(id.text)/cancel", body: "csrf=\(csrf)", headers: cookie)
            #expect(withCookie.status == .unauthorized && !withCookie.body.hasPrefix("<!doctype"), "\(withCookie.body)")
            let cancelled = try await http.send(.post, "/api/jobs/\(id.text)/cancel", headers: .bearer(Self.token))
            #expect(cancelled.status == .ok && cancelled.body.contains("\"changed\":true"))
            let log = try await http.send(.get, "/api/audit").body
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.utf8)) as? [[String: Any]])
            #expect(entries.count == 1 && entries[0]["actor"] as? String == "admin token" && entries[0]["action"] as? String == "cancel")
        }
    }

    @Test func headIsAnsweredLikeGetAndUnknownPagesAreHTML() async throws {
        try await PG.withDatabase { _, store in
            let http = driver(store, adminToken: nil)
            let head = try await http.send(.head, "/queues")
            #expect(head.status == .ok && head.body.isEmpty && head.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(try await http.send(.head, "/api/queues").status == .ok)
            let missing = try await http.send(.get, "/no-such-page")
            #expect(missing.status == .notFound && missing.body.hasPrefix("<!doctype html>"))
            let readOnly = try await http.send(.get, "/queues").body
            #expect(readOnly.contains("read-only") && !readOnly.contains("id=\"signin\""))
            #expect(try await http.send(.post, "/signin", body: "token=x", headers: Self.form).status == .forbidden)
            let script = try await http.send(.get, "/console.js")
            #expect(script.status == .ok && script.body.contains("/api/queues"))
            let csp = try await http.send(.get, "/queues").headers[.contentSecurityPolicy] ?? ""
            #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline'; script"))
        }
    }
}

/// Issue 24, item 6: charts of the last hour and day, computed by the database over the window only.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct ChartTests {
    @Test func chartsCountTheWindowAndArePlainSVG() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1), job(2), job(3)])
            for claimed in try await store.claim(limit: 2, queues: ["default"], models: ["m"], owner: "w", leaseSeconds: 30) {
                try await store.complete(claimed, output: tinyOutput, worker: "w")
            }
            let c = try await store.charts(windowSeconds: 3600, buckets: 60)
            #expect(c.done.count == 60 && c.done.reduce(0, +) == 2 && c.done.last == 2)
            #expect(c.depth.first == 0 && c.depth.last == 1, "0 waiting an hour ago, 1 now: \(c.depth)")
            #expect(c.p50Ms.last! != nil && c.p95Ms.first! == nil)
            // The queues page's figures come from the window's jobs (through jobs_finished), not every result.
            let recent = try await store.stats(windowMinutes: 60, resultsInWindow: true)
            let all = try await store.stats(windowMinutes: 60)
            #expect(recent.results == 2 && recent.latencyMs == all.latencyMs && recent.passes == all.passes)

            let http = HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(
                address: ListenAddress("127.0.0.1:0")!, adminToken: nil)).buildResponder())
            let page = try await http.send(.get, "/charts")
            for id in ["chart-throughput", "chart-depth", "chart-latency"] { #expect(page.body.contains("<svg id=\"\(id)\"")) }
            #expect(page.body.contains("<polyline") && !page.body.contains("<script>"))
            let day = try await http.send(.get, "/api/charts?range=day").json()
            #expect((day["done"] as? [Int])?.count == 48)
            let bad = try await http.send(.get, "/charts?range=week")
            #expect(bad.status == .badRequest && bad.body.hasPrefix("<!doctype html>"))
        }
    }
}

/// Issue 24, item 7: the workers page says which model failed to load or broke on which worker, with the
/// last error, and flags a worker without heartbeat whose jobs still read running.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct WorkerHealthTests {
    @Test func loadFailuresAndSilentWorkersShow() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1), job(2), job(3), job(4, model: "n")])
            try await store.recordWorker(id: "w-ok", host: "h", pid: 1, models: ["m"], queues: ["default"], leaseSeconds: 30)
            try await store.recordWorker(id: "w-bad", host: "h", pid: 2, models: ["m"], queues: ["default"], leaseSeconds: 30)
            try await store.recordWorker(id: "w-gone", host: "h", pid: 3, models: ["n"], queues: ["default"], leaseSeconds: 1)
            let ok = try await store.claim(limit: 1, queues: ["default"], models: ["m"], owner: "w-ok", leaseSeconds: 30)
            try await store.complete(ok[0], output: tinyOutput, worker: "w-ok")
            for claimed in try await store.claim(limit: 2, queues: ["default"], models: ["m"], owner: "w-bad", leaseSeconds: 30) {
                try await store.fail(claimed, error: "model m failed to load on h: no such file", permanent: true, worker: "w-bad")
            }
            _ = try await store.claim(limit: 1, queues: ["default"], models: ["n"], owner: "w-gone", leaseSeconds: 60)
            try await Task.sleep(nanoseconds: 1_300_000_000)   // w-gone's heartbeat is now older than its 1 s lease

            let health = try await store.workerHealth()
            let bad = try #require(health.first { $0.worker == "w-bad" })
            #expect(bad.model == "m" && bad.failures == 2 && bad.done == 0 && bad.status == "load failed")
            #expect(bad.lastError?.contains("failed to load") == true)
            #expect(health.first { $0.worker == "w-ok" }?.status == "ok")

            let http = HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(
                address: ListenAddress("127.0.0.1:0")!, adminToken: nil)).buildResponder())
            let page = try await http.send(.get, "/workers").body
            #expect(page.contains("m <span class=\"err\">(load failed)</span>"), "\(page)")
            #expect(page.contains("stopped: no heartbeat for") && page.contains("1 still marked running"))
            #expect(page.contains("id=\"health\"") && page.contains("no such file"))
            let api = try await http.send(.get, "/api/workers/health").body
            #expect(api.contains("\"status\":\"load failed\"") && api.contains("\"loadFailed\":true"), "\(api)")
        }
    }

    /// A model that did not load shows as failed to load, with its error, before any of its jobs failed; it
    /// serves no queue (its queued jobs read as unserved); a restart that loads it clears the mark.
    @Test func aModelThatFailedToLoadShowsBeforeAnyJob() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1, model: "n")])
            let error = "model n failed to load on h: missing gpt.safetensors"
            try await store.recordWorker(id: "w", host: "h", pid: 1, models: ["m", "n"], queues: ["default"], leaseSeconds: 30,
                                         loadFailures: ["n": error])
            let health = try await store.workerHealth()
            let n = try #require(health.first { $0.worker == "w" && $0.model == "n" })
            #expect(n.status == "load failed" && n.loadFailed && n.failures == 0 && n.done == 0 && n.lastError == error)
            #expect(n.lastFailureAt != nil)
            #expect(!health.contains { $0.model == "m" }, "a loaded model without jobs has no health row, as before")
            #expect(try await store.unservedJobs().map(\.model) == ["n"])

            let http = HTTPDriver(responder: dashboardRouter(store: store, config: DashboardConfig(
                address: ListenAddress("127.0.0.1:0")!, adminToken: nil)).buildResponder())
            let page = try await http.send(.get, "/workers").body
            #expect(page.contains("m, n <span class=\"err\">(load failed)</span>") && page.contains("missing gpt.safetensors"), "\(page)")

            try await store.recordWorker(id: "w", host: "h", pid: 2, models: ["m", "n"], queues: ["default"], leaseSeconds: 30)
            #expect(try await store.workerHealth().isEmpty)
            #expect(try await store.unservedJobs().isEmpty)
        }
    }
}
