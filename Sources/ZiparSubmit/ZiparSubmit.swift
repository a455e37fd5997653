// zipar-submit: validates a prompt file against a model and inserts one job per prompt.
import ArgumentParser
import Decoding
import Foundation
import JobStore
import Model

@main
struct ZiparSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-submit",
        abstract: "Submits image-generation jobs: one per prompt line (times its count).",
        discussion: """
            Text format, one prompt per line: CLASS [key=value ...]
              CLASS: a class name (dress, ankle-boot, ...) or id.
              keys: policy (ntp, zipar:S, adaptive:SMIN), seed, cfg, temperature,
                    top_k, top_p, count, priority, max_attempts.
              '#' starts a comment; blank lines are skipped.
            JSON lines (--format jsonl): {"class": "dress", "policy": "zipar:4"}
            Everything is validated against the model's config.json first; errors
            name the line and the field, and nothing is inserted. All jobs go in
            in one transaction.
            Exit codes: 0 ok, 1 invalid input (nothing inserted), 2 database error,
            3 --wait saw failed or cancelled jobs.
            Database: DATABASE_URL, or PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD
            PGPASSFILE PGSSLMODE.
            """)

    @Argument(help: "Prompt file, or - for standard input.")
    var file: String

    @Option(help: "Model directory whose config.json defines the classes and the grid (jobs carry its name).")
    var model: String

    @Option(help: "Input format: text or jsonl.")
    var format: String = "text"

    @Option(help: "Queue to submit to.")
    var queue = "default"

    @Option(help: "Default window policy: ntp, zipar:S or adaptive:SMIN.")
    var policy = "ntp"

    @Option(help: "Base seed: a job without seed= gets base + its index in the submission.")
    var seed: Int64 = 0

    @Option(help: "Default classifier-free guidance scale (1 = off).")
    var cfg: Double = 1

    @Option(help: "Default sampling temperature.")
    var temperature: Double = 1

    @Option(name: .customLong("top-k"), help: "Default top-k (0 = off).")
    var topK = 0

    @Option(name: .customLong("top-p"), help: "Default nucleus top-p (1 = off).")
    var topP: Double = 1

    @Option(help: "Default number of images per prompt line.")
    var count = 1

    @Option(help: "Default priority (higher runs first).")
    var priority = 0

    @Option(name: .customLong("max-attempts"), help: "Attempts before a job is marked failed.")
    var maxAttempts = 5

    @Option(name: .customLong("idempotency-key"), help: "Submission key: re-running with the same key and queue inserts nothing new.")
    var idempotencyKey: String?

    @Flag(help: "Print JSON ({\"ids\": [...], \"inserted\": N}) instead of one id a line.")
    var json = false

    @Flag(help: "Show progress until every job finished, then print a summary.")
    var wait = false

    @Flag(name: .customLong("dry-run"), help: "Validate only; insert nothing.")
    var dryRun = false

    func run() async throws {
        guard let fmt = PromptFormat(rawValue: format) else {
            throw ValidationError("--format must be text or jsonl")
        }
        let config: ModelConfig
        do { config = try ModelConfig.load(path: URL(fileURLWithPath: model).appendingPathComponent("config.json").path) } catch {
            fail("--model \(model): \(error)"); throw ExitCode(1)
        }
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)"); throw ExitCode(1) }
            text = String(decoding: data, as: UTF8.self)
        }
        var defaults = SubmitDefaults()
        defaults.queue = queue; defaults.policy = policy; defaults.seed = seed; defaults.cfg = cfg
        defaults.temperature = temperature; defaults.topK = topK; defaults.topP = topP; defaults.count = count
        defaults.priority = priority; defaults.maxAttempts = maxAttempts
        let parser = PromptParser(model: ModelSpec(config), defaults: defaults, checkPolicy: policyChecker)
        let jobs: [JobSpec]
        do { jobs = try parser.parse(text, format: fmt) } catch let e as PromptErrors {
            let where_ = file == "-" ? "stdin" : file
            for err in e.errors { fail("\(where_): \(err)") }
            fail("\(e.errors.count) error(s); nothing submitted")
            throw ExitCode(1)
        }
        if dryRun {
            print("\(jobs.count) job(s) valid; nothing submitted (--dry-run)")
            return
        }
        let db: DatabaseConfig
        do { db = try DatabaseConfig.fromEnvironment() } catch { fail("\(error)"); throw ExitCode(2) }
        let (key, json, wait) = (idempotencyKey, self.json, self.wait)
        let code: Int32 = try await runDatabase(db) { store in
            try await store.checkSchema()
            let outcome = try await store.submit(jobs, idempotencyKey: key)
            if json {
                let obj: [String: Any] = ["ids": outcome.ids.map(\.uuidString).map { $0.lowercased() },
                                          "inserted": outcome.inserted, "queue": jobs.first?.queue ?? ""]
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for id in outcome.ids { print(id.uuidString.lowercased()) }
                FileHandle.standardError.write(Data("submitted \(outcome.inserted) new job(s) of \(outcome.ids.count) to queue \(jobs.first?.queue ?? "")\n".utf8))
            }
            guard wait else { return 0 }
            return try await waitForJobs(store: store, ids: outcome.ids)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// WindowPolicy's own parser and grid check; returns the canonical text.
@Sendable func policyChecker(_ text: String, _ grid: Int) throws -> String {
    let p = try WindowPolicy(parsing: text)
    try p.validate(grid: grid)
    return p.description
}

extension ModelSpec {
    init(_ c: ModelConfig) {
        self.init(name: c.name, grid: c.gpt.grid, numClasses: c.gpt.numClasses, classNames: c.classNames)
    }
}

func fail(_ message: String) {
    FileHandle.standardError.write(Data("zipar-submit: \(message)\n".utf8))
}

/// Runs `body` against the database; database errors exit with code 2.
func runDatabase(_ db: DatabaseConfig, _ body: @escaping @Sendable (JobStore) async throws -> Int32) async throws -> Int32 {
    do {
        return try await JobStore.withStore(db, body)
    } catch {
        fail("database \(db): \(describeError(error))")
        return 2
    }
}

/// Progress bar on stderr until every job is done, failed or cancelled; then a summary.
func waitForJobs(store: JobStore, ids: [UUID]) async throws -> Int32 {
    let started = Date()
    let tty = isatty(2) != 0
    var last = ""
    while true {
        let states = try await store.states(of: ids)
        var counts: [JobState: Int] = [:]
        for s in states.values { counts[s, default: 0] += 1 }
        let finished = (counts[.done] ?? 0) + (counts[.failed] ?? 0) + (counts[.cancelled] ?? 0)
        let width = 30
        let filled = ids.isEmpty ? width : finished * width / ids.count
        let line = "[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(finished)/\(ids.count) finished"
            + "  running \(counts[.running] ?? 0)  queued \(counts[.queued] ?? 0)  failed \(counts[.failed] ?? 0)"
            + String(format: "  %.0fs", Date().timeIntervalSince(started))
        if tty { FileHandle.standardError.write(Data("\r\(line)".utf8)) } else if line != last && finished != 0 || last.isEmpty {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
        last = line
        if finished == ids.count {
            if tty { FileHandle.standardError.write(Data("\n".utf8)) }
            let (results, passes, ntp, meanMs, maxMs) = try await store.resultSummary(ids: ids)
            let saved = ntp > 0 ? 100 * (1 - Double(passes) / Double(ntp)) : 0
            print(String(format: "done %d  failed %d  cancelled %d  wall %.1fs  mean latency %.0f ms  max %.0f ms  passes %d vs NTP %d (%.1f%% saved)",
                         counts[.done] ?? 0, counts[.failed] ?? 0, counts[.cancelled] ?? 0, Date().timeIntervalSince(started),
                         meanMs, maxMs, passes, ntp, saved))
            _ = results
            return (counts[.failed] ?? 0) + (counts[.cancelled] ?? 0) > 0 ? 3 : 0
        }
        try await Task.sleep(nanoseconds: 500_000_000)
    }
}

