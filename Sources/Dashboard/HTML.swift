import Foundation

/// Server-rendered HTML: every piece of text from the database (queue names, prompts, labels, errors)
/// goes through `esc`, so a prompt holding `<script>` shows as text. The only script is the server's own
/// /console.js and the Content-Security-Policy forbids inline ones, so even a missed escape could not run one.
enum HTML {
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A query-string value.
    static func query(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// A whole page. `viewer` nil: an error page, whose header offers nothing that depends on who asks.
    /// `notice`: the confirmation of the mutation that led here (`Notice`), shown above the title.
    static func page(_ title: String, active: String, viewer: Viewer?, notice: String? = nil, _ body: String) -> String {
        let nav = [("queues", "/queues"), ("jobs", "/jobs"), ("gallery", "/gallery"), ("workers", "/workers"), ("charts", "/charts"), ("audit", "/audit")].map { name, href in
            "<a href=\"\(href)\"\(name == active ? " class=\"on\"" : "")>\(name)</a>"
        }.joined(separator: " ")
        var who = ""
        switch viewer {
        case .readOnly: who = " <span class=\"ro\">read-only</span>"
        case .signedOut: who = " <a class=\"who\" id=\"signin\" href=\"/signin\">sign in</a>"
        case .signedIn(let s):
            who = " <form method=\"post\" action=\"/signout\" class=\"who\">\(csrfField(s))<span id=\"signed-in\">signed in</span> "
                + "<button type=\"submit\" id=\"signout\">sign out</button></form>"
        case nil: break
        }
        let shown = notice.map { "<p class=\"notice\" id=\"notice\">\(esc($0))</p>" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(esc(title)) · zipar</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>\(css)</style><script src="/console.js" defer></script></head>
            <body><header><b>zipar</b> \(nav)\(who)</header>
            <main>\(shown)<h1>\(esc(title))</h1>
            \(body)
            </main></body></html>
            """
    }

    static func csrfField(_ s: Session) -> String { "<input type=\"hidden\" name=\"csrf\" value=\"\(esc(s.csrf))\">" }

    static func table(_ head: [String], _ rows: [[String]], id: String = "") -> String {
        let h = head.map { "<th>\(esc($0))</th>" }.joined()
        let r = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table\(id.isEmpty ? "" : " id=\"\(id)\"")><thead><tr>\(h)</tr></thead><tbody>\n\(r)\n</tbody></table>"
    }

    /// A POST form with one button and the session's CSRF token; nothing unless signed in.
    static func action(_ path: String, _ label: String, viewer: Viewer) -> String {
        guard let session = viewer.session else { return "" }
        return """
            <form method="post" action="\(esc(path))" class="act">\(csrfField(session))\
            <button type="submit">\(esc(label))</button></form>
            """
    }

    static func date(_ d: Date?) -> String {
        guard let d else { return "-" }
        return esc(d.formatted(Date.ISO8601FormatStyle()))
    }

    /// A duration for people: "704 ms", "4.2 s", "1 m 33 s", "2 h 5 m" (issue 24: not "93308 ms").
    static func ms(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "-" }
        if x < 1000 { return String(format: "%.0f ms", max(x, 0)) }
        let s = x / 1000
        if s < 60 { return String(format: "%.1f s", s) }
        let whole = Int(s.rounded())
        if whole < 3600 { return "\(whole / 60) m \(whole % 60) s" }
        return "\(whole / 3600) h \((whole % 3600) / 60) m"
    }

    static let css = """
        body{font:14px system-ui,sans-serif;margin:0;color:#222}header{background:#1d2b3a;color:#fff;padding:8px 16px}
        header a{color:#cde;margin-left:14px;text-decoration:none}header a.on{color:#fff;font-weight:bold}
        .ro{background:#a33;color:#fff;border-radius:3px;padding:1px 6px;margin-left:12px;font-size:12px}
        main{padding:12px 16px}table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
        th{background:#f2f4f6}td.n{text-align:right}form.filters input,form.filters select{margin-right:6px}
        form.act{display:inline-block;margin:2px 8px 2px 0}form.act input{width:9em}
        .grid{display:flex;flex-wrap:wrap;gap:10px}.tile{width:112px;font-size:11px;text-align:center}
        .tile img,.pix{image-rendering:pixelated;background:#000}.tile img{width:96px;height:96px}
        .heat{display:grid;gap:0;margin:6px 0}.heat div{width:12px;height:12px}.legend{display:grid;grid-template-columns:1fr 1fr 1fr;width:192px;font-size:12px}.legend div{grid-column:1/4;height:10px}.legend span:nth-child(3){text-align:center}.legend span:nth-child(4){text-align:right}
        .err{color:#a00}code{background:#f4f4f4;padding:0 3px}
        header .who{float:right;margin:0;color:#cde}header .who button{margin-left:6px}
        .notice{background:#e6f4ea;border:1px solid #9c9;padding:6px 10px}form.filters label{margin-right:8px}
        .bulk{margin:8px 0}.bulk a{margin-right:10px}figure.chart{margin:0 12px 12px 0}figcaption{font-weight:bold}
        .legend{font-size:12px}
        """

    /// A viridis-like ramp from dark blue (early) to yellow (late), as a CSS colour.
    static func heatColor(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = max(0, min(1, t)) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        return String(format: "rgb(%d,%d,%d)", Int(a.0 + (b.0 - a.0) * f), Int(a.1 + (b.1 - a.1) * f), Int(a.2 + (b.2 - a.2) * f))
    }
}
