import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The convolution plans measured on this machine, in one JSON file (`conv-plans-v1.json`) in a cache
/// directory: `$ZIPAR_CACHE_DIR`, else `$XDG_CACHE_HOME/zipar`, else `~/.cache/zipar`. Keys hold the CPU
/// model, ISA, thread count, OpenBLAS core and layer shape, so a plan measured under other settings is
/// never reused: a changed key is measured afresh and added.
///
/// Several workers may share the directory: every write takes an exclusive `flock` on a lock file,
/// re-reads the file, merges its entry and replaces the file by rename (readers never see half a file).
/// A cache that cannot be read or written costs a measurement, never an error.
public final class ConvPlanCache: @unchecked Sendable {
    public let file: URL
    private let lock = NSLock()
    private var loaded: [String: ConvPlanner.Choice]?

    public init(directory: URL) {
        file = directory.appendingPathComponent("conv-plans-v1.json")
    }

    /// The cache the environment asks for; nil with `ZK_CONV_CACHE=0` or no usable directory.
    public static func standard(environment env: [String: String]) -> ConvPlanCache? {
        if env["ZK_CONV_CACHE"] == "0" { return nil }
        if let dir = env["ZIPAR_CACHE_DIR"], !dir.isEmpty { return ConvPlanCache(directory: URL(fileURLWithPath: dir)) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            return ConvPlanCache(directory: URL(fileURLWithPath: xdg).appendingPathComponent("zipar"))
        }
        if let home = env["HOME"], !home.isEmpty {
            return ConvPlanCache(directory: URL(fileURLWithPath: home).appendingPathComponent(".cache/zipar"))
        }
        return nil
    }

    private struct FileBody: Codable {
        var version = 1
        var plans: [String: ConvPlanner.Choice] = [:]
    }

    private func readFile() -> [String: ConvPlanner.Choice] {
        guard let data = try? Data(contentsOf: file), let body = try? JSONDecoder().decode(FileBody.self, from: data),
              body.version == 1 else { return [:] }
        return body.plans
    }

    public func load(key: String) -> ConvPlanner.Choice? {
        lock.withLock {
            if loaded == nil { loaded = readFile() }
            return loaded?[key]
        }
    }

    /// Adds one plan to the file (merged with what other processes wrote meanwhile).
    public func store(key: String, choice: ConvPlanner.Choice) {
        lock.withLock { withFileLock { writeLocked(key: key, choice: choice) } }
    }

    /// The plan of `key` from the file, or `measure()`'s, stored: with the file lock held throughout, so
    /// workers starting together on one machine measure a shape once and all run the same plan (two
    /// measurements could pick different algorithms, whose outputs differ in the last bits).
    public func loadOrMeasure(key: String, _ measure: () -> ConvPlanner.Choice) -> ConvPlanner.Choice {
        lock.withLock {
            if let c = loaded?[key] { return c }
            var out: ConvPlanner.Choice?
            withFileLock {
                loaded = readFile()
                if let c = loaded?[key] { out = c; return }
                let c = measure()
                writeLocked(key: key, choice: c)
                out = c
            }
            if let out { return out }
            return measure()   // no usable cache directory: measured, not stored
        }
    }

    /// Runs `body` holding an exclusive `flock` on the directory's lock file; skips it when the directory
    /// cannot be made or locked.
    private func withFileLock(_ body: () -> Void) {
        let dir = file.deletingLastPathComponent()
        guard (try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)) != nil else { return }
        let fd = open(dir.appendingPathComponent("conv-plans.lock").path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { return }
        defer { _ = flock(fd, LOCK_UN) }
        body()
    }

    /// Merges one plan into the file and replaces it by rename; the caller holds the file lock.
    private func writeLocked(key: String, choice: ConvPlanner.Choice) {
        var body = FileBody(plans: readFile())
        body.plans[key] = choice
        loaded = body.plans
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(body) else { return }
        let dir = file.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".conv-plans-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp")
        guard (try? data.write(to: temp)) != nil else { return }
        if rename(temp.path, file.path) != 0 { try? FileManager.default.removeItem(at: temp) }
    }
}
