import Foundation
import JobStore

/// The console's pages (issue 24): a bulk action's confirmation, the audit log, the charts.
extension Pages {
    /// What a bulk action would change, and the form that does it (filter, count shown, CSRF token).
    func bulkConfirm(_ action: BulkAction, count: Int, query: [String: String]) -> String {
        let jobs = count == 1 ? "job" : "jobs"
        var body = "<p id=\"bulk-count\"><b>\(count)</b> \(jobs) \(action.fromStatesText) match <code>\(HTML.esc(filterText(query)))</code>.</p>"
        if count == 0 {
            body += "<p>Nothing to \(action.rawValue).</p>"
        } else if let session = viewer.session {
            let hidden = query.sorted { $0.key < $1.key }.map {
                "<input type=\"hidden\" name=\"\(HTML.esc($0.key))\" value=\"\(HTML.esc($0.value))\">"
            }.joined()
            body += """
                <form method="post" action="/jobs/bulk" id="bulk-confirm">\(HTML.csrfField(session))\(hidden)\
                <input type="hidden" name="action" value="\(action.rawValue)"><input type="hidden" name="expected" value="\(count)">\
                <button type="submit">\(action.rawValue) \(count) \(jobs)</button></form>
                <p>If the set changes before you confirm, nothing is changed and you are asked again.\
                \(action == .delete ? " Deleted jobs and their images are gone for good." : "")</p>
                """
        }
        body += "<p><a href=\"/jobs?\(HTML.esc(queryString(query)))\">back to the jobs</a></p>"
        let verb = action.rawValue.prefix(1).uppercased() + action.rawValue.dropFirst()
        return page("\(verb) jobs by filter", active: "jobs", body)
    }

    func audit(_ entries: [AuditEntry], page number: Int, pageSize: Int) -> String {
        let rows = entries.map { e in
            [HTML.date(e.at), HTML.esc(e.actor), HTML.esc(e.action), HTML.esc(e.target), "\(e.count)", HTML.esc(e.detail ?? "")]
        }
        var body = "<p>Every change made through this server, its pages or its API, newest first.</p>"
        body += HTML.table(["when", "who", "what", "target", "changed", "detail"], rows, id: "audit")
        body += pager("/audit", query: [:], page: number, more: entries.count == pageSize)
        return page("Audit log", active: "audit", body)
    }

    /// Throughput, queue depth and latency over the last hour or day, drawn by the server.
    func charts(_ c: ChartSeries, range: String) -> String {
        let span = range == "day" ? "24 h" : "60 min"
        let per = range == "day" ? "half hour" : "minute"
        var body = "<p>" + [("hour", "last hour"), ("day", "last day")].map { key, text in
            key == range ? "<b>\(text)</b>" : "<a href=\"/charts?range=\(key)\">\(text)</a>"
        }.joined(separator: " · ") + "</p><div class=\"grid\" id=\"charts\">"
        body += SVGChart.lines(id: "chart-throughput", title: "jobs done per \(per)", series: [
            .init(name: "done", color: "#2a7", values: c.done.map(Double.init)),
        ], span: span, format: { String(format: "%.0f", $0) })
        body += SVGChart.lines(id: "chart-depth", title: "jobs waiting (queued and scheduled)", series: [
            .init(name: "waiting", color: "#36c", values: c.depth.map(Double.init)),
        ], span: span, format: { String(format: "%.0f", $0) })
        body += SVGChart.lines(id: "chart-latency", title: "submit-to-result latency", series: [
            .init(name: "p50", color: "#36c", values: c.p50Ms), .init(name: "p95", color: "#c63", values: c.p95Ms),
        ], span: span, format: { HTML.ms($0) })
        body += "</div><p>Computed in the database from the jobs of the window only. The waiting count is rebuilt from "
            + "arrivals and starts, so a retry sending a job back to its queue does not show.</p>"
        return page("Charts", active: "charts", body)
    }
}
