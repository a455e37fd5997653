// zipar-submit: validates a prompt file against a model and inserts one job per prompt.
import ArgumentParser
import CLISupport
import Decoding
import Foundation
import JobStore
import Model
import Submission

@main
struct ZiparSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-submit",
        abstract: "Submits image-generation jobs: one per prompt line (times its count).",
        discussion: """
            Text format, one prompt per line: CLASS [key=value ...]
              CLASS: a class name (dress, ankle-boot, ...) or id.
              keys: \(PromptParser.keys.filter { $0 != "class" }.joined(separator: ", ")).
              '#' starts a comment; blank lines are skipped; CRLF reads like LF.
            JSON lines (--format jsonl): {"class": "dress", "policy": "zipar:4"}
            Everything is validated against the model's config.json first; errors
            name the line and the field, and nothing is inserted. All jobs go in
            in one transaction. The flags below set the defaults a line overrides.
            \(ExitStatus.helpText(", 3 --wait saw failed or cancelled jobs"))
            \(databaseHelp)
            """)

    static func main() async { await mainAsTool() }

    @Argument(help: "Prompt file, or - for standard input.")
    var file: String

    @Option(help: "Model directory whose config.json defines the classes and the grid (jobs carry its name).")
    var model: String

    @Option(help: "Input format.")
    var format: PromptFormat = .text

    @Option(help: "Queue to submit to.")
    var queue = "default"

    @Option(help: "Default window policy: ntp, zipar:S, adaptive:SMIN or official:S.")
    var policy = PolicySpec(policy: .ntp)

    @Option(help: "Base seed: a job without seed= gets base + its index in the submission.")
    var seed: UInt64 = Defaults.seed

    @OptionGroup var sampling: SamplingOptions

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
        let config = try ModelConfig.load(directory: model)
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
            text = String(decoding: data, as: UTF8.self)
        }
        var defaults = SubmitDefaults()
        defaults.queue = queue
        defaults.parameters = sampling.parameters(policy: policy, seed: seed)
        defaults.count = count; defaults.priority = priority; defaults.maxAttempts = maxAttempts
        let jobs: [JobSpec]
        do { jobs = try PromptParser(model: ModelSpec(config), defaults: defaults).parse(text, format: format) } catch {
            let source = file == "-" ? "stdin" : file
            for err in error.errors { sayError("\(source): \(err)") }
            throw CLIError("\(error.errors.count) error(s); nothing submitted")
        }
        if dryRun {
            print("\(jobs.count) job(s) valid; nothing submitted (--dry-run)")
            return
        }
        let (key, json, wait) = (idempotencyKey, self.json, self.wait)
        let status: ExitStatus = try await withDatabase { store in
            try await store.checkSchema()
            let outcome = try await store.submit(jobs, idempotencyKey: key)
            if json {
                let obj: [String: Any] = ["ids": outcome.ids.map(\.text), "inserted": outcome.inserted, "queue": jobs.first?.queue ?? ""]
                print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
            } else {
                for id in outcome.ids { print(id.text) }
                say("submitted \(outcome.inserted) new job(s) of \(outcome.ids.count) to queue \(jobs.first?.queue ?? "")")
            }
            guard wait else { return .ok }
            return try await waitForJobs(store: store, ids: outcome.ids)
        }
        if status != .ok { throw status.code }
    }
}

extension PromptFormat: ExpressibleByArgument {}

/// Progress bar on stderr until every job is done, failed or cancelled; then a summary.
func waitForJobs(store: JobStore, ids: [UUID]) async throws -> ExitStatus {
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
            say(line)
        }
        last = line
        if finished == ids.count {
            if tty { FileHandle.standardError.write(Data("\n".utf8)) }
            let (_, passes, ntp, meanMs, maxMs) = try await store.resultSummary(ids: ids)
            let saved = ntp > 0 ? 100 * (1 - Double(passes) / Double(ntp)) : 0
            print(String(format: "done %d  failed %d  cancelled %d  wall %.1fs  mean latency %.0f ms  max %.0f ms  passes %d vs NTP %d (%.1f%% saved)",
                         counts[.done] ?? 0, counts[.failed] ?? 0, counts[.cancelled] ?? 0, Date().timeIntervalSince(started),
                         meanMs, maxMs, passes, ntp, saved))
            return (counts[.failed] ?? 0) + (counts[.cancelled] ?? 0) > 0 ? .jobsFailed : .ok
        }
        try await Task.sleep(nanoseconds: 500_000_000)
    }
}
