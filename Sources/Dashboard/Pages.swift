import Foundation
import JobCore
import JobStore

/// The HTML pages. Each takes what it shows, already read from the store, and returns the page.
struct Pages {
    let readOnly: Bool

    func queues(_ stats: StatsReport) -> String {
        let states = JobState.allCases
        let rows = stats.queues.map { q -> [String] in
            [HTML.esc(q.name)] + states.map { s in
                let n = q.counts[s] ?? 0
                return n == 0 ? "0" : "<a href=\"/jobs?queue=\(HTML.query(q.name))&state=\(s.rawValue)\">\(n)</a>"
            } + [q.paused ? "<b>paused</b>" : "no",
                 HTML.action("/queues/\(HTML.query(q.name))/\(q.paused ? "resume" : "pause")", q.paused ? "resume" : "pause",
                             enabled: !readOnly)]
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
        body += HTML.table(["", "p50", "p95", "max"], lat)
        body += String(format: "<p>%d results: %d forward passes vs %d for next-token prediction (<b>%.1f%% saved</b>). Live workers: %d.</p>",
                       stats.results, stats.passes, stats.ntpPasses, 100 * stats.passesSaved, stats.liveWorkers.count)
        return HTML.page("Queues", active: "queues", readOnly: readOnly, body)
    }

    func jobs(_ jobs: [JobListEntry], filter f: JobFilter, page: Int, pageSize: Int, query: [String: String]) -> String {
        var body = filterForm(action: "/jobs", query: query, fields: ["queue", "state", "label", "policy", "class", "q", "since"])
        let rows = jobs.map { j -> [String] in
            ["<a href=\"/jobs/\(j.id)\">\(j.id.prefix(8))</a>", HTML.esc(j.label ?? ""), HTML.esc(j.queue), j.state.rawValue,
             subject(j), HTML.esc(j.policy), "\(j.seed)", "\(j.attempts)", HTML.date(j.createdAt),
             j.lastError.map { "<span class=\"err\">\(HTML.esc(String($0.prefix(100))))</span>" } ?? ""]
        }
        body += HTML.table(["job", "label", "queue", "state", "class", "policy", "seed", "attempts", "created", "last error"], rows, id: "jobs")
        body += pager("/jobs", query: query, page: page, more: jobs.count == pageSize)
        return HTML.page("Jobs", active: "jobs", readOnly: readOnly, body)
    }

    func job(_ d: JobDetail, grid: Int?) -> String {
        var info: [[String]] = [
            ["id", HTML.esc(d.id)], ["label", HTML.esc(d.label ?? "-")], ["queue", HTML.esc(d.queue)], ["model", HTML.esc(d.model)],
            ["state", "<b>\(d.state.rawValue)</b>" + (d.state == .scheduled ? " until \(HTML.date(d.runAfter))" : "")], ["prompt", "<code>\(HTML.esc(d.prompt ?? "-"))</code>"],
        ]
        // A text job's prompts are what it draws: shown whole, up front, escaped like every database text.
        if let text = d.parameters?.prompt { info.append(["text prompt", "<b id=\"text-prompt\">\(HTML.esc(text))</b>"]) }
        if let text = d.parameters?.negativePrompt { info.append(["negative prompt", HTML.esc(text)]) }
        info += [
            ["class name", HTML.esc(d.className ?? "-")],
            ["attempts", "\(d.attempts) of \(d.maxAttempts)"], ["worker", HTML.esc(d.result?.worker ?? d.leaseOwner ?? "-")],
            ["created", HTML.date(d.createdAt)], ["run after", HTML.date(d.runAfter)], ["started", HTML.date(d.startedAt)],
            ["finished", HTML.date(d.finishedAt)],
        ]
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
            if let order = r.decodeOrder, let grid, order.count == grid * grid { body += heatmap(order, grid: grid) }
            var stats: [[String]] = [["passes", "\(r.passes) (ntp \(r.ntpPasses))"], ["queries", "\(r.queries)"],
                                     ["decode", HTML.ms(r.decodeMs)], ["latency", HTML.ms(r.latencyMs)],
                                     ["queue wait", HTML.ms(r.queueMs)], ["GPT", HTML.ms(r.gptMs)], ["VQ decode", HTML.ms(r.vqMs)],
                                     ["PNG", HTML.ms(r.pngMs)]]
            if let drafts = r.drafts, drafts > 0 { stats.append(["drafts accepted", "\(r.accepted ?? 0) of \(drafts)"]) }
            body += HTML.table(["result", ""], stats, id: "stats")
        }
        body += "</div></div>"
        if !d.errors.isEmpty {
            body += "<h2>Attempts with errors</h2>" + HTML.table(["attempt", "at", "worker", "error"], d.errors.map {
                ["\($0.attempt)", HTML.esc($0.at), HTML.esc($0.worker ?? "-"), "<span class=\"err\">\(HTML.esc($0.error))</span>"]
            }, id: "errors")
        }
        if d.state == .failed || d.state == .cancelled { body += HTML.action("/jobs/\(d.id)/retry", "retry", enabled: !readOnly) }
        if [.scheduled, .queued, .running].contains(d.state) { body += HTML.action("/jobs/\(d.id)/cancel", "cancel", enabled: !readOnly) }
        // Text jobs all store class 0: "same class and seed" would set unrelated prompts side by side.
        if let p = d.parameters, p.prompt == nil {
            body += "<p><a href=\"/compare?model=\(HTML.query(d.model))&class=\(p.classLabel)&seed=\(p.seed)\">same seed under other policies</a></p>"
        }
        return HTML.page("Job \(d.label ?? String(d.id.prefix(8)))", active: "jobs", readOnly: readOnly, body)
    }

    /// Parameters the job page shows in rows of their own.
    static let shownAbove: Set<String> = ["prompt", "negative_prompt"]

    /// What a list shows for what a job draws: its class name, else its text prompt (cut), else the class id.
    func subject(_ j: JobListEntry) -> String {
        if let name = j.className { return HTML.esc(name) }
        if let text = j.textPrompt { return "“" + HTML.esc(text.count > 60 ? String(text.prefix(59)) + "…" : text) + "”" }
        return "\(j.classLabel)"
    }

    /// Each token cell coloured by the pass that decoded it: ZipAR's diagonal wavefront, NTP's raster.
    func heatmap(_ order: [Int], grid: Int) -> String {
        let last = Double(max(order.max() ?? 1, 1))
        let cells = order.map { "<div style=\"background:\(HTML.heatColor(Double($0) / last))\"></div>" }.joined()
        return "<p>decode order (dark early, yellow late):</p><div class=\"heat\" id=\"heatmap\" style=\"grid-template-columns:repeat(\(grid),12px)\">\(cells)</div>"
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
        return HTML.page("Gallery", active: "gallery", readOnly: readOnly, body)
    }

    func compare(_ jobs: [JobListEntry], model: String, classLabel: String, seed: Int) -> String {
        var body = "<p>Model <b>\(HTML.esc(model))</b>, class \(HTML.esc(classLabel)), seed \(seed): one image per policy.</p>"
        var seen = Set<String>()
        let one = jobs.filter { seen.insert($0.policy).inserted }.sorted { $0.policy < $1.policy }
        body += "<div class=\"grid\" id=\"compare\">" + one.map { j in
            "<div class=\"tile\"><a href=\"/jobs/\(j.id)\"><img src=\"/jobs/\(j.id)/image.png\" alt=\"\"></a><br>\(HTML.esc(j.policy))</div>"
        }.joined() + "</div>"
        if one.count < 2 { body += "<p>No other policy has this seed yet.</p>" }
        return HTML.page("Same seed, different policies", active: "gallery", readOnly: readOnly, body)
    }

    func workers(_ ws: [WorkerInfo]) -> String {
        let rows = ws.map { w -> [String] in
            [HTML.esc(w.id), w.liveness == .live ? "<b>live</b>" : w.liveness.rawValue, String(format: "%.1f s (lease %.0f s)", w.heartbeatAge, w.leaseSeconds),
             HTML.esc(w.models.joined(separator: ", ")), HTML.esc(w.queues.joined(separator: ", ")), "\(w.running)", "\(w.jobsDone)",
             HTML.esc(w.version ?? "-"), HTML.esc(w.host)]
        }
        let body = HTML.table(["worker", "state", "heartbeat", "models", "queues", "running", "done", "version", "host"], rows, id: "workers")
            + "<p>A worker is live while its heartbeat is younger than its lease; silent ones have crashed, hung or lost the database.</p>"
        return HTML.page("Workers", active: "workers", readOnly: readOnly, body)
    }

    func message(_ title: String, _ text: String) -> String {
        HTML.page(title, active: "", readOnly: readOnly, "<p>\(HTML.esc(text))</p>")
    }

    private func filterForm(action: String, query: [String: String], fields: [String]) -> String {
        let inputs = fields.map { f -> String in
            let v = HTML.esc(query[f] ?? "")
            if f == "state" {
                let opts = ([""] + JobState.allCases.map(\.rawValue)).map { s in
                    "<option value=\"\(s)\"\(s == (query["state"] ?? "") ? " selected" : "")>\(s.isEmpty ? "any state" : s)</option>"
                }.joined()
                return "<select name=\"state\">\(opts)</select>"
            }
            let hint = ["q": "prompt text", "since": "age: 2h, 7d"][f] ?? f
            return "<input name=\"\(f)\" value=\"\(v)\" placeholder=\"\(hint)\" size=\"10\">"
        }.joined()
        return "<form class=\"filters\" method=\"get\" action=\"\(action)\">\(inputs)<button type=\"submit\">filter</button></form>"
    }

    private func pager(_ path: String, query: [String: String], page: Int, more: Bool) -> String {
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
