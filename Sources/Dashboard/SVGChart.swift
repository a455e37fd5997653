import Foundation

/// Charts drawn by the server as inline SVG (no script, no library): a line per series over time buckets,
/// with the y axis's top value, the time span and a legend. Every label is escaped like any other text.
enum SVGChart {
    struct Series { var name: String; var color: String; var values: [Double?] }

    static let width = 560.0, height = 160.0, left = 56.0, bottom = 20.0, top = 10.0

    /// `format` writes a y value as people read it ("1 m 33 s", "12").
    static func lines(id: String, title: String, series: [Series], span: String, format: (Double) -> String) -> String {
        let n = series.map(\.values.count).max() ?? 0
        let peak = series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
        let yMax = peak > 0 ? peak * 1.1 : 1
        let plotW = width - left - 8, plotH = height - top - bottom
        func x(_ i: Int) -> Double { left + (n > 1 ? Double(i) / Double(n - 1) : 0.5) * plotW }
        func y(_ v: Double) -> Double { top + plotH - v / yMax * plotH }
        var out = "<figure class=\"chart\"><figcaption>\(HTML.esc(title))</figcaption>"
        out += "<svg id=\"\(HTML.esc(id))\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.esc(title))\">"
        out += "<line x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(width - 8)\" y2=\"\(top + plotH)\" stroke=\"#888\"/>"
        out += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotH)\" stroke=\"#888\"/>"
        out += "<text x=\"\(left - 4)\" y=\"\(top + 8)\" text-anchor=\"end\" font-size=\"10\">\(HTML.esc(format(yMax)))</text>"
        out += "<text x=\"\(left - 4)\" y=\"\(top + plotH)\" text-anchor=\"end\" font-size=\"10\">0</text>"
        out += "<text x=\"\(left)\" y=\"\(height - 4)\" font-size=\"10\">\(HTML.esc(span)) ago</text>"
        out += "<text x=\"\(width - 8)\" y=\"\(height - 4)\" text-anchor=\"end\" font-size=\"10\">now</text>"
        for s in series {
            // A gap (no value) breaks the line: a bucket without jobs has no latency.
            var runs: [[String]] = [[]]
            for (i, v) in s.values.enumerated() {
                if let v, v.isFinite { runs[runs.count - 1].append(String(format: "%.1f,%.1f", x(i), y(v))) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
            }
            for run in runs where !run.isEmpty {
                if run.count == 1 {
                    let xy = run[0].split(separator: ",")
                    out += "<circle class=\"pt\" cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2\" fill=\"\(s.color)\"/>"
                } else {
                    out += "<polyline class=\"line\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\" points=\"\(run.joined(separator: " "))\"/>"
                }
            }
        }
        out += "</svg><div class=\"legend\">" + series.map {
            "<span style=\"color:\($0.color)\">■</span> \(HTML.esc($0.name))"
        }.joined(separator: " ") + "</div></figure>"
        return out
    }
}
