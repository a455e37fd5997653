import Foundation
import Model

/// A tiny RGB canvas for contact sheets and heatmaps, with a built-in 3x5 bitmap font.
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, w: width, h: height, color: background)
    }

    /// Clipped to the canvas: a glyph past its edge (a title wider than a sheet of small panels) draws nothing.
    mutating func fill(x: Int, y: Int, w: Int, h: Int, color: (UInt8, UInt8, UInt8)) {
        let (x0, x1, y0, y1) = (max(x, 0), min(x + w, width), max(y, 0), min(y + h, height))
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            for xx in x0..<x1 {
                let o = (yy * width + xx) * 3
                pixels[o] = color.0; pixels[o + 1] = color.1; pixels[o + 2] = color.2
            }
        }
    }

    mutating func paste(_ image: PixelImage, x: Int, y: Int) {
        let img = image.rgb
        for yy in 0..<img.height where y + yy < height {
            for xx in 0..<img.width where x + xx < width {
                let s = (yy * img.width + xx) * 3, d = ((y + yy) * width + x + xx) * 3
                pixels[d] = img.pixels[s]; pixels[d + 1] = img.pixels[s + 1]; pixels[d + 2] = img.pixels[s + 2]
            }
        }
    }

    /// Draws `text` with the 3x5 font, each font pixel `scale` pixels wide, 1 font pixel between glyphs.
    mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var cx = x
        for ch in text.lowercased() {
            let glyph = Font.glyphs[ch] ?? Font.glyphs["?"]!
            for (row, line) in glyph.enumerated() {
                for (col, c) in line.enumerated() where c == "#" {
                    fill(x: cx + col * scale, y: y + row * scale, w: scale, h: scale, color: color)
                }
            }
            cx += 4 * scale
        }
    }

    static func textWidth(_ text: String, scale: Int = 2) -> Int { max(text.count * 4 * scale - scale, 0) }

    var image: PixelImage { PixelImage(width: width, height: height, channels: 3, pixels: pixels) }
}

enum Font {
    static let glyphs: [Character: [String]] = [
        "0": ["###", "#.#", "#.#", "#.#", "###"], "1": [".#.", "##.", ".#.", ".#.", "###"],
        "2": ["###", "..#", "###", "#..", "###"], "3": ["###", "..#", "###", "..#", "###"],
        "4": ["#.#", "#.#", "###", "..#", "..#"], "5": ["###", "#..", "###", "..#", "###"],
        "6": ["###", "#..", "###", "#.#", "###"], "7": ["###", "..#", "..#", ".#.", ".#."],
        "8": ["###", "#.#", "###", "#.#", "###"], "9": ["###", "#.#", "###", "..#", "###"],
        "a": [".#.", "#.#", "###", "#.#", "#.#"], "b": ["##.", "#.#", "##.", "#.#", "##."],
        "c": [".##", "#..", "#..", "#..", ".##"], "d": ["##.", "#.#", "#.#", "#.#", "##."],
        "e": ["###", "#..", "##.", "#..", "###"], "f": ["###", "#..", "##.", "#..", "#.."],
        "g": [".##", "#..", "#.#", "#.#", ".##"], "h": ["#.#", "#.#", "###", "#.#", "#.#"],
        "i": ["###", ".#.", ".#.", ".#.", "###"], "j": ["..#", "..#", "..#", "#.#", ".#."],
        "k": ["#.#", "#.#", "##.", "#.#", "#.#"], "l": ["#..", "#..", "#..", "#..", "###"],
        "m": ["#.#", "###", "###", "#.#", "#.#"], "n": ["##.", "#.#", "#.#", "#.#", "#.#"],
        "o": [".#.", "#.#", "#.#", "#.#", ".#."], "p": ["##.", "#.#", "##.", "#..", "#.."],
        "q": [".#.", "#.#", "#.#", "##.", ".##"], "r": ["##.", "#.#", "##.", "#.#", "#.#"],
        "s": [".##", "#..", ".#.", "..#", "##."], "t": ["###", ".#.", ".#.", ".#.", ".#."],
        "u": ["#.#", "#.#", "#.#", "#.#", "###"], "v": ["#.#", "#.#", "#.#", "#.#", ".#."],
        "w": ["#.#", "#.#", "###", "###", "#.#"], "x": ["#.#", "#.#", ".#.", "#.#", "#.#"],
        "y": ["#.#", "#.#", ".#.", ".#.", ".#."], "z": ["###", "..#", ".#.", "#..", "###"],
        ":": ["...", ".#.", "...", ".#.", "..."], "-": ["...", "...", "###", "...", "..."],
        ".": ["...", "...", "...", "...", ".#."], "/": ["..#", "..#", ".#.", "#..", "#.."],
        "%": ["#.#", "..#", ".#.", "#..", "#.#"], "=": ["...", "###", "...", "###", "..."],
        "(": [".#.", "#..", "#..", "#..", ".#."], ")": [".#.", "..#", "..#", "..#", ".#."],
        "+": ["...", ".#.", "###", ".#.", "..."], "_": ["...", "...", "...", "...", "###"],
        "?": ["##.", "..#", ".#.", "...", ".#."], " ": ["...", "...", "...", "...", "..."],
        ",": ["...", "...", "...", ".#.", "#.."], "'": [".#.", ".#.", "...", "...", "..."],
        "\"": ["#.#", "#.#", "...", "...", "..."], "*": ["...", "#.#", ".#.", "#.#", "..."],
    ]
}

/// Viridis-like colour ramp, t in [0, 1].
func rampColor(_ t: Double) -> (UInt8, UInt8, UInt8) {
    let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    let x = min(max(t, 0), 1) * Double(stops.count - 1)
    let i = min(Int(x), stops.count - 2), f = x - Double(i)
    let a = stops[i], b = stops[i + 1]
    return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
}

/// Each token cell coloured by the pass that decoded it: dark early, yellow at pass `maxPass` (the image's own
/// last pass), with every other band of `band` passes drawn darker so the iso-pass lines (ZipAR's diagonal
/// wavefront, ntp's raster) stand out.
/// `rows` x `columns` cells (a non-square `--size` grid draws a non-square map).
func heatmap(decodeStep: [Int], rows: Int, columns: Int, cell: Int, maxPass: Int, band: Int = 0) -> PixelImage {
    var c = Canvas(width: columns * cell, height: rows * cell)
    let b = band > 0 ? band : max(1, (maxPass + 1) / 16)
    for i in 0..<rows {
        for j in 0..<columns {
            let s = decodeStep[i * columns + j]
            var col = rampColor(Double(s) / Double(max(maxPass, 1)))
            if (s / b) % 2 == 1 { col = (UInt8(Double(col.0) * 0.8), UInt8(Double(col.1) * 0.8), UInt8(Double(col.2) * 0.8)) }
            c.fill(x: j * cell, y: i * cell, w: cell, h: cell, color: col)
        }
    }
    return c.image
}

/// A contact sheet: one column per panel, each with picture(s) stacked and label lines underneath.
func contactSheet(columns: [(images: [PixelImage], labels: [String])], title: String?) -> PixelImage {
    let pad = 8, scale = 2, lineH = 7 * scale
    let colW = columns.map { col in max(col.images.map(\.width).max() ?? 0, col.labels.map { Canvas.textWidth($0, scale: scale) }.max() ?? 0) }
    let imgH = columns.map { $0.images.reduce(0) { $0 + $1.height + pad } }.max() ?? 0
    let labH = (columns.map(\.labels.count).max() ?? 0) * lineH
    let titleH = title == nil ? 0 : lineH + pad
    let width = colW.reduce(pad) { $0 + $1 + pad }
    var canvas = Canvas(width: width, height: pad + titleH + imgH + labH + pad)
    if let title { canvas.text(title, x: pad, y: pad, scale: scale) }
    var x = pad
    for (k, col) in columns.enumerated() {
        var y = pad + titleH
        for img in col.images { canvas.paste(img, x: x, y: y); y += img.height + pad }
        y = pad + titleH + imgH
        for l in col.labels { canvas.text(l, x: x, y: y, scale: scale); y += lineH }
        x += colW[k] + pad
    }
    return canvas.image
}

/// A sample grid: one row per class, its label on the left, the images side by side.
func classSheet(rows: [(label: String, images: [PixelImage])]) -> PixelImage {
    let pad = 4, scale = 2
    let labelW = (rows.map { Canvas.textWidth($0.label, scale: scale) }.max() ?? 0) + 2 * pad
    let cellW = rows.flatMap(\.images).map(\.width).max() ?? 0
    let cellH = rows.flatMap(\.images).map(\.height).max() ?? 0
    let columns = rows.map(\.images.count).max() ?? 0
    var canvas = Canvas(width: labelW + columns * (cellW + pad) + pad, height: rows.count * (cellH + pad) + pad)
    for (r, row) in rows.enumerated() {
        let y = pad + r * (cellH + pad)
        canvas.text(row.label, x: pad, y: y + (cellH - 5 * scale) / 2, scale: scale)
        for (k, img) in row.images.enumerated() { canvas.paste(img, x: labelW + k * (cellW + pad), y: y) }
    }
    return canvas.image
}
