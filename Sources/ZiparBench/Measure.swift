import Foundation
import Kernels
import Model

/// Wall-clock seconds of `body`.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Fastest seconds of `repeats` runs after `warmup` untimed ones: what the machine can do, compared
/// with the streaming-read bandwidth, which is also the best of its sweeps.
func fastest(repeats: Int, warmup: Int = 1, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    return (0..<max(repeats, 1)).map { _ in seconds(body) }.min()!
}

/// Median seconds of `repeats` runs after `warmup` untimed ones.
func timed(repeats: Int, warmup: Int = 1, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    return median((0..<max(repeats, 1)).map { _ in seconds(body) })
}

/// Values from /proc/self/status in bytes (VmHWM = peak resident set, VmRSS = current).
func procStatus(_ key: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
}

/// The machine, in words, for the report.
struct MachineInfo: Codable {
    var cpu: String
    var cores: Int
    var kernelThreads: Int
    var instructionSet: String
    var memoryGiB: Double
    var loadAverage: String
    var date: String

    static func current() -> MachineInfo {
        let cpu = CPUInfo.modelName
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        let iso = ISO8601DateFormatter()
        return MachineInfo(cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
                           kernelThreads: KernelRuntime.threads, instructionSet: KernelRuntime.instructionSet,
                           memoryGiB: Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30),
                           loadAverage: load, date: iso.string(from: Date()))
    }
}

/// A plain text table with right-aligned numeric columns.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: [String]) { rows.append(cells) }

    func render() -> String {
        var widths = headers.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }
        var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

func f(_ x: Double, _ digits: Int = 1) -> String {
    guard x.isFinite else { return "-" }
    return String(format: "%.\(digits)f", x)
}

func pct(_ x: Double) -> String { x.isFinite ? String(format: "%.0f%%", x * 100) : "-" }

func mb(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1e6) }

/// Writes a line straight to standard output (unbuffered: tables appear as they are measured,
/// also through a pipe).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
