import Foundation
import JobCore
import JobStore

/// The HTML pages. Each takes what it shows, already read from the store, and returns the page.
struct Pages {
    let viewer: Viewer
    /// The confirmation of the mutation that led to this page, if any (`Notice`).
    var notice: String? = nil

    func page(_ title: String, active: String, _ body: String) -> String {
        HTML.page(title, active: active, viewer: viewer, notice: notice, body)
    }

    func queues(_ stats: StatsReport) -> String {
        let states = JobState.allCases
        let rows = stats.queues.map { q -> [String] in
            [HTML.esc(q.name)] + states.map { s in
                let n = q.counts[s] ?? 0
                let link = n == 0 ? "0" : "<a href=\"/jobs?queue=\(HTML.query(q.name))&state=\(s.rawValue)\">\(n)</a>"
                return "<span data-queue=\"\(HTML.esc(q.name))\" data-state=\"\(s.rawValue)\">\(link)</span>"
            } + [q.paused ? "<b>paused</b>" : "no",
                 HTML.action("/queues/\(HTML.query(q.name))/\(q.paused ? "resume" : "pause")", q.paused ? "resume" : "pause",
                             viewer: viewer)]
        }
        var body = HTML.table(["queue"] + states.map(\.rawValue) + ["paused", ""], rows, id: "queues")
        for u in stats.unserved {
            body += "<p class=\"err\">\(u.queued) queued job(s) of model <b>\(HTML.esc(u.model))</b> in queue \(HTML.esc(u.queue)): no live worker serves them.</p>"
        }
        body += "<h2>Throughput and latency</h2><p>"
        body += String(format: "%.0f jobs finished in the last %d min (%.2f/min).", stats.jobsPerMinuteRecent * Double(stats.windowMinutes),
                       stats.windowMinutes, stats.jobsPerMinuteRecent)
        body += "</p>"
        var lat: [[String]] = []
        if let l = stats.latencyMs { lat.append(["submit to result", HTML.ms(l.p50), HTML.ms(l.p95), HTML.ms(l.max)]) }
        if let d = stats.decodeMs { lat.append(["decode", HTML.ms(d.p50), HTML.ms(d.p95), HTML.ms(d.max)]) }
        for (name, key) in [("queue wait", "queue"), ("GPT passes", "gpt"), ("VQ decode", "vq"), ("PNG", "png")] {
            if let s = stats.stageMs?[key] { lat.append([name, HTML.ms(s.p50), HTML.ms(s.p95), HTML.ms(s.max)]) }
        }
        body += "<p>Latency of the jobs finished in the last \(stats.windowMinutes) min (<a href=\"/charts\">charts</a> for the last hour and day):</p>"
        body += HTML.table(["", "p50", "p95", "max"], lat)
        body += String(format: "<p>%d results in that window: %d forward passes vs %d for next-token prediction (<b>%.1f%% saved</b>). Live workers: %d.</p>",
                       stats.results, stats.passes, stats.ntpPasses, 100 * stats.passesSaved, stats.liveWorkers.count)
        return page("Queues", active: "queues", body)
    }

    func jobs(_ jobs: [JobListEntry], filter f: JobFilter, page: Int, pageSize: Int, query: [String: String]) -> String {
        var body = filterForm(action: "/jobs", query: query, fields: Self.jobFilterFields)
        if viewer.session != nil {
            // Links to a confirmation page (a GET changes nothing); the POST behind it carries the CSRF token.
            let filter = Self.jobFilterFields.compactMap { k in query[k].map { "&\(k)=\(HTML.query($0))" } }.joined()
            body += "<p class=\"bulk\" id=\"bulk\">All jobs matching this filter: "
                + BulkAction.allCases.map { "<a id=\"bulk-\($0.rawValue)\" href=\"/jobs/bulk?action=\($0.rawValue)\(HTML.esc(filter))\">\($0.rawValue)…</a>" }.joined()
                + "</p>"
        }
        let rows = jobs.map { j -> [String] in
            ["<a href=\"/jobs/\(j.id)\">\(j.id.prefix(8))</a>", HTML.esc(j.label ?? ""), HTML.esc(j.queue),
             "<span data-job=\"\(j.id)\">\(j.state.rawValue)</span>",
             className(j), textPrompt(j), HTML.esc(j.policy), "\(j.seed)", "\(j.attempts)", HTML.date(j.createdAt),
             j.lastError.map { "<span class=\"err\">\(HTML.esc(String($0.prefix(100))))</span>" } ?? ""]
        }
        body += HTML.table(["job", "label", "queue", "state", "class", "prompt", "policy", "seed", "attempts", "created", "last error"], rows, id: "jobs")
        body += pager("/jobs", query: query, page: page, more: jobs.count == pageSize)
        return self.page("Jobs", active: "jobs", body)
    }

    /// The filters of the jobs page, which its bulk actions apply too.
    static let jobFilterFields = ["queue", "state", "model", "label", "policy", "class", "q", "since"]

    /// A class job's class (name, else id); empty for a text job, whose prompt has a column of its own.
    func className(_ j: JobListEntry) -> String {
        if let name = j.className { return HTML.esc(name) }
        return j.textPrompt == nil ? "\(j.classLabel)" : ""
    }

    /// A text job's prompt, cut to 60 characters.
    func textPrompt(_ j: JobListEntry) -> String {
        guard let text = j.textPrompt else { return "" }
        return "“" + HTML.esc(text.count > 60 ? String(text.prefix(59)) + "…" : text) + "”"
    }

    func signIn(error: String?) -> String {
        var body = error.map { "<p class=\"err\" id=\"signin-error\">\(HTML.esc($0))</p>" } ?? ""
        switch viewer {
        case .readOnly: body += "<p>This dashboard is read-only: it was started without an admin token.</p>"
        case .signedIn: body += "<p>You are signed in.</p>"
        case .signedOut:
            body += """
                <form method="post" action="/signin" id="signin-form"><label>admin token \
                <input type="password" name="token" autocomplete="current-password" required autofocus></label> \
                <button type="submit">sign in</button></form>\
                <p>The token is checked once; the browser then keeps a session cookie (HttpOnly, SameSite=Strict) \
                until you sign out or it expires.</p>
                """
        }
        return page("Sign in", active: "", body)
    }

    func job(_ d: JobDetail, grid: Int?) -> String {
        var info: [[String]] = [
            ["id", HTML.esc(d.id)], ["label", HTML.esc(d.label ?? "-")], ["queue", HTML.esc(d.queue)], ["model", HTML.esc(d.model)],
            ["state", "<b id=\"state\" data-job=\"\(d.id)\">\(d.state.rawValue)</b>" + (d.state == .scheduled ? " until \(HTML.date(d.runAfter))" : "")], ["prompt", "<code>\(HTML.esc(d.prompt ?? "-"))</code>"],
        ]
        // A text job's prompts are what it draws: shown whole, up front, escaped like every database text.
        if let text = d.parameters?.prompt { info.append(["text prompt", "<b id=\"text-prompt\">\(HTML.esc(text))</b>"]) }
        if let text = d.parameters?.negativePrompt { info.append(["negative prompt", HTML.esc(text)]) }
        info += [
            ["class name", HTML.esc(d.className ?? "-")],
            ["attempts", "<span id=\"attempts\">\(d.attempts) of \(d.maxAttempts)</span>"
                + (d.attemptsBeforeRetry > 0 ? " since its last retry (\(d.attemptsBeforeRetry) before it)" : "")],
            // The current attempt's worker and start: none while the job waits (its earlier attempts are below).
            ["worker", "<span id=\"worker\">\(HTML.esc(d.result?.worker ?? d.leaseOwner ?? "-"))</span>"],
            ["created", HTML.date(d.createdAt)], ["run after", HTML.date(d.runAfter)],
            ["started", "<span id=\"started\">\(HTML.date(d.attemptStartedAt))</span>"],
        ]
        if let first = d.startedAt, first != d.attemptStartedAt { info.append(["first started", HTML.date(first)]) }
        info.append(["finished", HTML.date(d.finishedAt)])
        for (key, value) in d.parameters?.values ?? [] where !Self.shownAbove.contains(key) && !(key == "size" && value == .null) {
            let text: String
            switch value {
            case .int(let i): text = "\(i)"
            case .double(let x): text = "\(x)"
            case .text(let t): text = t
            case .null: text = "none"
            }
            info.append([key, HTML.esc(text)])
        }
        var body = "<div class=\"grid\"><div>" + HTML.table(["job", ""], info, id: "detail") + "</div><div>"
        if let r = d.result {
            body += "<img id=\"image\" class=\"pix\" src=\"/jobs/\(d.id)/image.png\" width=\"\(max(r.width, 256))\" alt=\"the job's image\">"
            // The job's own grid (size=HxW) or the model's square one.
            let (rows, columns) = d.parameters?.size.map { ($0.rows, $0.columns) } ?? (grid ?? 0, grid ?? 0)
            if let order = r.decodeOrder, rows > 0, order.count == rows * columns { body += heatmap(order, columns: columns) }
            var stats: [[String]] = [["passes", "\(r.passes) (ntp \(r.ntpPasses))"], ["queries", "\(r.queries)"],
                                     ["decode", HTML.ms(r.decodeMs)], ["latency", HTML.ms(r.latencyMs)],
                                     ["queue wait", HTML.ms(r.queueMs)], ["GPT", HTML.ms(r.gptMs)], ["VQ decode", HTML.ms(r.vqMs)],
                                     ["PNG", HTML.ms(r.pngMs)]]
            if let drafts = r.drafts, drafts > 0 { stats.append(["drafts accepted", "\(r.accepted ?? 0) of \(drafts)"]) }
            body += HTML.table(["result", ""], stats, id: "stats")
        } else {
            body += "<div id=\"live-image\"></div>"   // /console.js shows the image here once the job is done
        }
        body += "</div></div>"
        if !d.errors.isEmpty {
            body += "<h2>Attempts with errors</h2>" + HTML.table(["attempt", "at", "worker", "error"], d.errors.map {
                ["\($0.attempt)", HTML.esc($0.at), HTML.esc($0.worker ?? "-"), "<span class=\"err\">\(HTML.esc($0.error))</span>"]
            }, id: "errors")
        }
        if d.state == .failed || d.state == .cancelled { body += HTML.action("/jobs/\(d.id)/retry", "retry", viewer: viewer) }
        if [.scheduled, .queued, .running].contains(d.state) { body += HTML.action("/jobs/\(d.id)/cancel", "cancel", viewer: viewer) }
        // Text jobs all store class 0: "same class and seed" would set unrelated prompts side by side.
        if let p = d.parameters, p.prompt == nil {
            body += "<p><a href=\"/compare?model=\(HTML.query(d.model))&class=\(p.classLabel)&seed=\(p.seed)\">same seed under other policies</a></p>"
        }
        return page("Job \(d.label ?? String(d.id.prefix(8)))", active: "jobs", body)
    }

    /// Parameters the job page shows in rows of their own.
    static let shownAbove: Set<String> = ["prompt", "negative_prompt"]

    /// What a list shows for what a job draws: its class name, else its text prompt (cut), else the class id.
    func subject(_ j: JobListEntry) -> String {
        if let name = j.className { return HTML.esc(name) }
        if let text = j.textPrompt { return "“" + HTML.esc(text.count > 60 ? String(text.prefix(59)) + "…" : text) + "”" }
        return "\(j.classLabel)"
    }

    /// Each token cell coloured by the pass that decoded it: ZipAR's diagonal wavefront, NTP's raster. The
    /// legend under it maps the colours to pass numbers (1 = the first pass).
    func heatmap(_ order: [Int], columns: Int) -> String {
        let lastPass = max(order.max() ?? 0, 1)
        let last = Double(lastPass)
        let cells = order.map { "<div style=\"background:\(HTML.heatColor(Double($0) / last))\"></div>" }.joined()
        let stops = stride(from: 0.0, through: 1.0, by: 0.25).map { HTML.heatColor($0) }.joined(separator: ",")
        let middle = lastPass / 2 + 1
        return "<p>decode order: each token coloured by the pass that decoded it</p>"
            + "<div class=\"heat\" id=\"heatmap\" style=\"grid-template-columns:repeat(\(columns),12px)\">\(cells)</div>"
            + "<div class=\"legend\" id=\"heatmap-legend\"><div style=\"background:linear-gradient(to right,\(stops))\"></div>"
            + "<span>pass 1</span><span>\(middle)</span><span>\(lastPass + 1)</span></div>"
    }

    func gallery(_ jobs: [JobListEntry], query: [String: String], page: Int, pageSize: Int) -> String {
        var body = filterForm(action: "/gallery", query: query, fields: ["queue", "label", "class", "q"])
        body += "<div class=\"grid\" id=\"gallery\">" + jobs.map { j in
            """
            <div class="tile"><a href="/jobs/\(j.id)"><img src="/jobs/\(j.id)/image.png" alt="\(HTML.esc(j.className ?? j.textPrompt ?? ""))" loading="lazy"></a>\
            <br>\(HTML.esc(j.label ?? String(j.id.prefix(8))))<br>\(subject(j)) · \(HTML.esc(j.policy))</div>
            """
        }.joined(separator: "\n") + "</div>"
        body += pager("/gallery", query: query, page: page, more: jobs.count == pageSize)
        return self.page("Gallery", active: "gallery", body)
    }

    /// One job per policy, each with the passes it took (`passes`: job id -> its result's passes and NTP's).
    func compare(_ one: [JobListEntry], passes: [String: (Int, Int)], model: String, classLabel: String, seed: Int) -> String {
        var body = "<p>Model <b>\(HTML.esc(model))</b>, class \(HTML.esc(classLabel)), seed \(seed): one image per policy.</p>"
        body += "<div class=\"grid\" id=\"compare\">" + one.map { j in
            let count = passes[j.id].map { "<br>\($0.0) passes (ntp \($0.1))" } ?? ""
            return "<div class=\"tile\"><a href=\"/jobs/\(j.id)\"><img src=\"/jobs/\(j.id)/image.png\" alt=\"\"></a><br>\(HTML.esc(j.policy))\(count)</div>"
        }.joined() + "</div>"
        if one.count < 2 { body += "<p>No other policy has this seed yet.</p>" }
        return page("Same seed, different policies", active: "gallery", body)
    }

    func workers(_ ws: [WorkerInfo], health: [ModelHealth]) -> String {
        let byWorker = Dictionary(grouping: health, by: \.worker)
        let rows = ws.map { w -> [String] in
            let state: String
            switch w.liveness {
            case .live: state = "<b>live</b>"
            case .stopped: state = "stopped"
            // A worker that stopped beating crashed, hung or lost the database: for the operator it has stopped.
            case .silent: state = "<span class=\"err\">stopped: no heartbeat for \(HTML.ms(w.heartbeatAge * 1000))</span>"
            }
            let running = w.running > 0 && w.liveness != .live
                ? "<span class=\"err stale\">\(w.running) still marked running: their leases run out and another worker retries them</span>"
                : "\(w.running)"
            let models = w.models.map { m -> String in
                let status = byWorker[w.id]?.first { $0.model == m }?.status ?? "ok"
                return status == "ok" || status == "failing" ? HTML.esc(m) : "\(HTML.esc(m)) <span class=\"err\">(\(status))</span>"
            }.joined(separator: ", ")
            return [HTML.esc(w.id), state, String(format: "%.1f s (lease %.0f s)", w.heartbeatAge, w.leaseSeconds),
                    models, HTML.esc(w.queues.joined(separator: ", ")), running, "\(w.jobsDone)",
                    HTML.esc(w.version ?? "-"), HTML.esc(w.host)]
        }
        var body = HTML.table(["worker", "state", "heartbeat", "models", "queues", "running", "done", "version", "host"], rows, id: "workers")
            + "<p>A worker is live while its heartbeat is younger than its lease; one without a heartbeat has crashed, hung or lost the database.</p>"
        body += "<h2>Health by worker and model, last hour</h2>"
        body += HTML.table(["worker", "model", "status", "done", "failed attempts", "last error", "at"], health.map { h in
            [HTML.esc(h.worker), HTML.esc(h.model), h.status == "ok" ? "ok" : "<span class=\"err\">\(h.status)</span>", "\(h.done)",
             "\(h.failures)", h.lastError.map { "<span class=\"err\">\(HTML.esc(String($0.prefix(200))))</span>" } ?? "",
             HTML.date(h.lastFailureAt)]
        }, id: "health")
        body += "<p>From the jobs finished in the last hour: each failed attempt names its worker. <i>load failed</i>: the model "
            + "did not load there (known from the worker's start, before any job) and its jobs fail at once; "
            + "<i>broken</i>: attempts failed and none succeeded.</p>"
        return page("Workers", active: "workers", body)
    }

    func message(_ title: String, _ text: String) -> String {
        page(title, active: "", "<p>\(HTML.esc(text))</p>")
    }

    private func filterForm(action: String, query: [String: String], fields: [String]) -> String {
        let inputs = fields.map { f -> String in
            let v = HTML.esc(query[f] ?? "")
            let name = ["q": "prompt text", "since": "age", "label": "label prefix"][f] ?? f
            if f == "state" {
                let opts = ([""] + JobState.allCases.map(\.rawValue)).map { s in
                    "<option value=\"\(s)\"\(s == (query["state"] ?? "") ? " selected" : "")>\(s.isEmpty ? "any state" : s)</option>"
                }.joined()
                return "<label>\(name) <select name=\"state\">\(opts)</select></label>"
            }
            let hint = ["since": "2h, 7d"][f] ?? ""
            return "<label>\(name) <input name=\"\(f)\" value=\"\(v)\" placeholder=\"\(hint)\" size=\"10\"></label>"
        }.joined()
        return "<form class=\"filters\" method=\"get\" action=\"\(action)\">\(inputs)<button type=\"submit\">filter</button></form>"
    }

    func pager(_ path: String, query: [String: String], page: Int, more: Bool) -> String {
        func link(_ p: Int) -> String {
            var q = query
            q["page"] = "\(p)"
            return path + "?" + q.sorted { $0.key < $1.key }.map { "\($0.key)=\(HTML.query($0.value))" }.joined(separator: "&")
        }
        var out = "<p>page \(page + 1)"
        if page > 0 { out += " · <a href=\"\(HTML.esc(link(page - 1)))\">newer</a>" }
        if more { out += " · <a href=\"\(HTML.esc(link(page + 1)))\">older</a>" }
        return out + "</p>"
    }
}
