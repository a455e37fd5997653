// zipar-admin: migrations, queue control, stats and export for the job store.
import ArgumentParser
import CLISupport
import Foundation
import JobStore

@main
struct ZiparAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-admin",
        abstract: "Operates the ZipAR job store: migrate, stats, queues, pause/resume, retry, cancel, purge, export, workers.",
        discussion: """
            \(databaseHelp)
            \(ExitStatus.helpText())
            """,
        subcommands: [Migrate.self, Stats.self, Queues.self, Pause.self, Resume.self, Retry.self, Cancel.self,
                      Purge.self, Export.self, Workers.self])

    static func main() async { await mainAsTool() }
}

struct Common: ParsableArguments {
    @Flag(help: "Machine-readable JSON output.")
    var json = false
}

func parseIDs(_ ids: [String]) throws -> [UUID] {
    try ids.map { s in
        guard let id = UUID(uuidString: s) else { throw ValidationError("'\(s)' is not a job id (UUID)") }
        return id
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Applies migrations/*.sql not applied yet (in a transaction, under an advisory lock; safe from many hosts at once).")
    @Option(help: "Directory of numbered .sql files (default: $ZIPAR_MIGRATIONS, ./migrations, or the source tree's).")
    var dir: String?
    @OptionGroup var common: Common

    func run() async throws {
        guard let dir = Migration.findDirectory(explicit: dir) else {
            throw CLIError("cannot find the migrations directory; pass --dir")
        }
        let migrations: [Migration]
        do { migrations = try Migration.load(directory: dir) } catch { throw CLIError("\(error)") }
        let json = common.json
        let (applied, version) = try await withDatabase { store in
            let a = try await store.migrate(migrations)
            return (a, try await store.schemaVersion())
        }
        if json {
            try printJSON(["applied": applied, "version": [version]])
        } else {
            print(applied.isEmpty ? "schema up to date (version \(version))" : "applied \(applied.map(String.init).joined(separator: ", ")); schema version \(version)")
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Jobs per queue and state, throughput, latency percentiles, passes saved against NTP, live workers.")
    @Option(help: "Throughput window in minutes (at least 1).")
    var window = 10
    @Option(name: .customLong("live-seconds"), help: "A worker counts as live when its last heartbeat is at most this old.")
    var liveSeconds = 30.0
    @OptionGroup var common: Common

    func validate() throws {
        if window < 1 { throw ValidationError("--window must be at least 1 (minutes)") }
        if !(liveSeconds > 0) { throw ValidationError("--live-seconds must be above 0") }
    }

    func run() async throws {
        let (window, live) = (self.window, liveSeconds)
        let r = try await withDatabase { try await $0.stats(windowMinutes: window, liveSeconds: live) }
        if common.json { try printJSON(r); return }
        let states = JobState.allCases
        print("queue".padding(toLength: 16, withPad: " ", startingAt: 0) + states.map { $0.rawValue.leftPad(10) }.joined() + "  paused")
        for q in r.queues {
            print(q.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + states.map { String(q.counts[$0] ?? 0).leftPad(10) }.joined() + "  " + (q.paused ? "yes" : "no"))
        }
        print(String(format: "throughput: %.0f jobs finished in the last %d min (%.1f/min); %.1f jobs/min from first start to last finish",
                     r.jobsPerMinuteRecent * Double(r.windowMinutes), r.windowMinutes, r.jobsPerMinuteRecent, r.jobsPerMinuteOverall))
        if let l = r.latencyMs, let d = r.decodeMs {
            print(String(format: "latency (submit to result): p50 %.0f ms  p95 %.0f ms  max %.0f ms", l.p50, l.p95, l.max))
            print(String(format: "decode time:                p50 %.0f ms  p95 %.0f ms  max %.0f ms", d.p50, d.p95, d.max))
        }
        print(String(format: "results %d: %d forward passes vs %d for NTP (%.1f%% saved)", r.results, r.passes, r.ntpPasses, 100 * r.passesSaved))
        print("live workers: \(r.liveWorkers.count)")
        for w in r.liveWorkers {
            print("  \(w.id)  running \(w.running)  done \(w.jobsDone)  last heartbeat " + String(format: "%.1fs ago", w.heartbeatAge))
        }
    }
}

struct Queues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lists queues with their job counts and paused flag.")
    @OptionGroup var common: Common
    func run() async throws {
        let qs = try await withDatabase { try await $0.queues() }
        if common.json { try printJSON(qs); return }
        for q in qs {
            let counts = JobState.allCases.compactMap { s in q.counts[s].map { "\(s.rawValue) \($0)" } }
            print("\(q.name)\(q.paused ? " (paused)" : "")  " + (counts.isEmpty ? "empty" : counts.joined(separator: "  ")))
        }
    }
}

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pauses a queue: workers stop claiming its jobs (running ones finish).")
    @Argument(help: "Queue name.") var queue: String
    func run() async throws {
        let q = queue
        try await withDatabase { try await $0.setPaused(queue: q, true) }
        print("paused \(q)")
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resumes a paused queue.")
    @Argument(help: "Queue name.") var queue: String
    func run() async throws {
        let q = queue
        try await withDatabase { try await $0.setPaused(queue: q, false) }
        print("resumed \(q)")
    }
}

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Puts failed or cancelled jobs back in their queue with fresh attempts.")
    @Flag(help: "Retry every failed job (of --queue if given).") var failed = false
    @Option(help: "With --failed: only this queue.") var queue: String?
    @Argument(help: "Job ids.") var ids: [String] = []
    @OptionGroup var common: Common
    func validate() throws {
        if failed == !ids.isEmpty { throw ValidationError("give job ids or --failed (not both)") }
    }
    func run() async throws {
        let uuids = try parseIDs(ids)
        let (failed, queue) = (self.failed, self.queue)
        let n = try await withDatabase { store in
            failed ? try await store.retryFailed(queue: queue) : try await store.retry(ids: uuids)
        }
        if common.json { try printJSON(["requeued": n]) } else { print("requeued \(n) job(s)") }
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancels queued or running jobs (a running job's worker loses its lease and drops it).")
    @Argument(help: "Job ids.") var ids: [String]
    @OptionGroup var common: Common
    func run() async throws {
        let uuids = try parseIDs(ids)
        let n = try await withDatabase { try await $0.cancel(ids: uuids) }
        if common.json { try printJSON(["cancelled": n]) } else { print("cancelled \(n) job(s)") }
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deletes finished jobs (done, failed, cancelled) and their results, and worker rows stopped as long ago (or silent that long and at least an hour: live workers stay).")
    @Option(name: .customLong("older-than"), help: "Age: 30s, 15m, 12h, 7d.") var olderThan = DurationArgument(argument: "7d")!
    @OptionGroup var common: Common
    func run() async throws {
        let secs = olderThan.seconds
        let n = try await withDatabase { try await $0.purge(olderThan: secs) }
        if common.json { try printJSON(["purged": n]) } else { print("purged \(n) job(s)") }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Writes each result as <job-id>.png plus <job-id>.json (its stats).")
    @Option(help: "Output directory (created).") var out: String
    @Option(help: "Only this queue.") var queue: String?
    @OptionGroup var common: Common
    func run() async throws {
        let (out, queue, json) = (self.out, self.queue, common.json)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let n = try await withDatabase { store -> Int in
            let ids = try await store.resultIDs(queue: queue)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.dateEncodingStrategy = .iso8601
            let tty = isatty(2) != 0
            var written = 0
            for (i, id) in ids.enumerated() {
                guard let (meta, png) = try await store.result(id: id) else { continue }
                let base = out + "/" + id.uuidString.lowercased()
                try Data(png).write(to: URL(fileURLWithPath: base + ".png"))
                try enc.encode(meta).write(to: URL(fileURLWithPath: base + ".json"))
                written += 1
                let width = 30, filled = (i + 1) * width / max(ids.count, 1)
                let line = "export [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(i + 1)/\(ids.count)"
                if tty { FileHandle.standardError.write(Data("\r\(line)".utf8)) }
                else if (i + 1) % 50 == 0 || i + 1 == ids.count { say(line) }
            }
            if tty && !ids.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
            return written
        }
        if json { try printJSON(["exported": n]) } else { print("exported \(n) image(s) to \(out)") }
    }
}

struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lists workers with their last heartbeat.")
    @OptionGroup var common: Common
    func run() async throws {
        let ws = try await withDatabase { try await $0.workers() }
        if common.json { try printJSON(ws); return }
        for w in ws {
            let state = w.stoppedAt != nil ? "stopped" : (w.heartbeatAge > 60 ? "silent" : "live")
            print("\(w.id)  \(state)  models \(w.models.joined(separator: ","))  queues \(w.queues.joined(separator: ","))  "
                  + "running \(w.running)  done \(w.jobsDone)  heartbeat " + String(format: "%.1fs ago", w.heartbeatAge))
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

