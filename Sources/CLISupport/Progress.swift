import Foundation

/// A progress bar on standard error for long work: redrawn in place on a terminal, a line every
/// `every` steps (and at the end) when standard error is a file or pipe, so logs stay readable.
public struct Progress {
    public let total: Int
    public let label: String
    public let every: Int
    private(set) var done = 0
    private let tty = isatty(2) != 0

    public init(total: Int, label: String, every: Int = 50) {
        self.total = total; self.label = label; self.every = every
    }

    public mutating func step(_ n: Int = 1, note: String = "") {
        done += n
        let width = 30, filled = total > 0 ? min(done, total) * width / total : width
        let line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)"
            + (note.isEmpty ? "" : "  " + note)
        if tty { FileHandle.standardError.write(Data("\r\(line)".utf8)) } else if done % every == 0 || done == total { say(line) }
    }

    public func finish() {
        if tty && total > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
