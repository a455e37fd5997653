// zipar-submit: validates a prompt file against a model and inserts one job per prompt.
import ArgumentParser
import CLISupport
import Foundation
import JobCore
import JobStore
import ModelFolder
import Submission

@main
struct ZiparSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar-submit",
        abstract: "Submits image-generation jobs: one per prompt line (times its count).",
        discussion: """
            Text format, one prompt per line: CLASS [key=value ...]
              or, for a text-to-image model: "TEXT" [key=value ...]
              CLASS: a class name (dress, ankle-boot, ...) or id.
              TEXT: in double quotes, \\" for a quote and \\\\ for a backslash inside;
              any value may be quoted too: negative_prompt="blurry, dark".
              keys: \(PromptParser.keys.filter { $0 != "class" }.joined(separator: ", ")).
              '#' outside quotes starts a comment; blank lines are skipped; CRLF reads like LF.
            JSON lines (--format jsonl): {"class": "dress", "policy": "zipar:4"}
              or {"prompt": "a dark ankle boot", "seed": 3}
              A line may also carry custom_id (your name for it, unique in the file),
              model (it must be --model's) and queue (else --queue): the same file
              is a batch for POST /api/batches of `zipar-admin serve`, and submitted
              here it forms a batch too (its id is printed; GET /api/batches/ID).
            Everything is validated against the model directory first (config.json;
            a text model's layout.json); errors name the line, the column where
            known, and the field, and nothing is inserted. All jobs go in
            in one transaction. The flags below set the defaults a line overrides.
            \(ExitStatus.helpText(", 3 --wait saw failed or cancelled jobs"))
            \(databaseHelp)
            """,
        version: ziparVersion)

    static func main() async { await mainAsTool() }

    @Argument(help: "Prompt file, or - for standard input.")
    var file: String

    @Option(help: "Model directory: a class model's config.json (classes, grid), or a text model's Hugging Face config.json with its layout.json (name, grid). Jobs carry its name.")
    var model: String

    @Option(help: "Input format.")
    var format: PromptFormat = .text

    @Option(help: "Queue to submit to (it must exist, see --create-queue).")
    var queue = "default"

    @Flag(name: .customLong("create-queue"), help: "Create the queue when it does not exist (else that is an error).")
    var createQueue = false

    @Option(name: .customLong("run-at"), help: "Default start time: ISO-8601 (2026-11-26T18:00:00Z) or +DURATION (+30m); jobs are not claimed before it.")
    var runAt: String?

    @Option(help: "Default window policy: \(WindowPolicy.helpList).")
    var policy = WindowPolicy.ntp

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

    @Flag(help: "Print one JSON object on stdout ({\"ids\": [...], \"inserted\": N, ...}; with --format jsonl also the batch, with --wait also the summary) instead of one id a line.")
    var json = false

    @Flag(help: "Show progress until every job finished (woken by each job's completion event), then print a summary.")
    var wait = false

    @Flag(name: .customLong("dry-run"), help: "Validate only; insert nothing.")
    var dryRun = false

    @Option(name: .customLong("on-conflict"), help: "A line whose label a job of the queue already has: fail (nothing is inserted; the error names the file and line) or skip (that line is left out, the rest inserted, the summary counts the skipped).")
    var onConflict: LabelConflict = .fail

    @Option(name: .customLong("warn-no-worker-after"), help: "With --wait: warn once on stderr when, after this long, no live worker serves a queue and model the jobs wait in (30s, 2m; they keep waiting).")
    var warnNoWorkerAfter = DurationArgument(argument: "30s")!

    @OptionGroup var log: LogOptions

    func validate() throws {
        // A re-run under the same key already passes over its own labels; skipping other lines as well would
        // make the re-run a different submission (fewer jobs than the key recorded).
        if onConflict == .skip && idempotencyKey != nil {
            throw ValidationError("--on-conflict skip cannot be combined with --idempotency-key")
        }
    }

    func run() async throws {
        let spec: ModelSpec
        do { spec = try ModelSpec.load(directory: model) } catch { throw CLIError("--model \(model): \(error)") }
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let read = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
            data = read
        }
        let text: String
        do { text = try InputText.decode([UInt8](data)) } catch {
            for err in error.errors { sayError("\(file == "-" ? "stdin" : file): \(err)") }
            throw CLIError("nothing submitted")
        }
        var defaults = SubmitDefaults()
        defaults.queue = queue
        defaults.parameters = try sampling.parameters(policy: policy, seed: seed)
        defaults.count = count; defaults.priority = priority; defaults.maxAttempts = maxAttempts
        if let runAt {
            guard let at = PromptParser.parseTime(runAt) else {
                throw ValidationError("--run-at '\(runAt)' is not a time: 2026-11-26T18:00:00Z or +DURATION like +30m")
            }
            defaults.runAfter = at
        }
        let jobs: [JobSpec]
        do { jobs = try PromptParser(model: spec, defaults: defaults).parse(text, format: format) } catch {
            let source = file == "-" ? "stdin" : file
            for err in error.errors { sayError("\(source): \(err)") }
            throw CLIError("\(error.errors.count) error(s); nothing submitted")
        }
        if dryRun {
            if json { try printJSON(SubmitReport(queue: queue, valid: jobs.count, ids: [], inserted: 0)) } else {
                print("\(jobs.count) job(s) valid; nothing submitted (--dry-run)")
            }
            return
        }
        let (key, json, wait, create, conflict) = (idempotencyKey, self.json, self.wait, createQueue, onConflict)
        // A JSONL file is a batch, as POST /api/batches makes of it: recorded with the SHA-256 of the file.
        let batchSHA = format == .jsonl ? sha256Hex([UInt8](data)) : nil
        let (source, warnAfter) = (file == "-" ? "stdin" : file, warnNoWorkerAfter.seconds)
        let status: ExitStatus = try await withDatabase { store in
            try await store.checkSchema()
            let outcome: SubmitOutcome
            do {
                outcome = try await store.submit(jobs, idempotencyKey: key, createQueues: create, onConflict: conflict,
                                                 batchRequestSHA256: batchSHA)
            } catch let e as SubmitError {
                // A refusal about one line (a taken label) names the file too, as parse errors do.
                throw CLIError((e.line != nil ? "\(source): " : "") + "\(e); nothing submitted")
            }
            var report = SubmitReport(queue: jobs.first?.queue ?? "", valid: jobs.count, ids: outcome.ids.map(\.text),
                                      inserted: outcome.inserted, skipped: outcome.skipped, batch: outcome.batchID?.text)
            if !json {
                for id in outcome.ids { print(id.text) }
                // stdout stays one job id a line (scripts read it); the batch goes with the summary.
                say("submitted \(outcome.inserted) new job(s) of \(outcome.ids.count) to queue \(report.queue)"
                    + (report.batch.map { " as batch \($0)" } ?? "")
                    + (outcome.skipped > 0 ? "; skipped \(outcome.skipped) whose label was taken" : ""))
            }
            var status = ExitStatus.ok
            if wait {
                let summary = try await waitForJobs(store: store, ids: outcome.ids, warnNoWorkerAfter: warnAfter)
                report.summary = summary
                status = summary.failed.isEmpty ? .ok : .jobsFailed
                if !json { printSummary(summary) }
            }
            if json { try printJSON(report) }
            return status
        }
        if status != .ok { throw status.code }
    }
}

/// `--json` output: one object, and with `--wait` the summary inside it.
struct SubmitReport: Encodable {
    var queue: String
    /// Jobs the input expands to.
    var valid: Int
    var ids: [String]
    var inserted: Int
    /// Lines left out because their label was taken (`--on-conflict skip`).
    var skipped = 0
    /// `--format jsonl`: the batch the jobs form (absent for the text format and with --dry-run).
    var batch: String?
    var summary: WaitSummary?
}

struct WaitSummary: Encodable {
    struct Failure: Encodable { var id: String; var state: String; var error: String }
    var done: Int
    var cancelled: Int
    var wallSeconds: Double
    var meanLatencyMs: Double
    var maxLatencyMs: Double
    var passes: Int
    var ntpPasses: Int
    /// Failed and cancelled jobs with their last error.
    var failed: [Failure]
}

func printSummary(_ s: WaitSummary) {
    let saved = s.ntpPasses > 0 ? 100 * (1 - Double(s.passes) / Double(s.ntpPasses)) : 0
    print(String(format: "done %d  failed %d  cancelled %d  wall %.1fs  mean latency %.0f ms  max %.0f ms  passes %d vs NTP %d (%.1f%% saved)",
                 s.done, s.failed.count - s.cancelled, s.cancelled, s.wallSeconds, s.meanLatencyMs, s.maxLatencyMs,
                 s.passes, s.ntpPasses, saved))
    for f in s.failed { print("\(f.state) \(f.id): \(f.error)") }
}

extension PromptFormat: ExpressibleByArgument {}
extension LabelConflict: ExpressibleByArgument {}

extension ZiparSubmit: LogConfigurable { var logOptions: LogOptions { log } }

/// A progress bar on stderr until every job is done, failed or cancelled; then the summary. Listens for
/// the completion events (NOTIFY zipar_job_events) instead of polling; a slow poll every 5 s is the safety
/// net for a lost connection or a database older than the events. After `warnNoWorkerAfter` seconds it
/// warns once per queue and model whose queued jobs no live worker serves (else it would wait silently
/// forever for a worker nobody started), and keeps waiting.
func waitForJobs(store: JobStore, ids: [UUID], warnNoWorkerAfter: Double = 30) async throws -> WaitSummary {
    let started = Date()
    var progress = Progress(total: ids.count, label: "jobs", every: max(1, ids.count / 20))
    var shown = 0
    var warned = Set<String>()
    var lastWorkerCheck = Date.distantPast
    let wakeups = Wakeups()
    let listener = Task {
        while !Task.isCancelled {
            try? await store.listenForEvents { await wakeups.wakeAll() }
            try? await Task.sleep(nanoseconds: 1_000_000_000)
        }
    }
    defer { listener.cancel() }
    while true {
        let generation = await wakeups.generation
        let states = try await store.states(of: ids)
        var counts: [JobState: Int] = [:]
        for s in states.values { counts[s, default: 0] += 1 }
        let finished = (counts[.done] ?? 0) + (counts[.failed] ?? 0) + (counts[.cancelled] ?? 0)
        if finished > shown || shown == 0 {
            progress.step(finished - shown, note: "running \(counts[.running] ?? 0)  queued \(counts[.queued] ?? 0)  failed \(counts[.failed] ?? 0)"
                          + String(format: "  %.0fs", Date().timeIntervalSince(started)))
            shown = finished
        }
        if finished == ids.count {
            progress.finish()
            let (_, passes, ntp, meanMs, maxMs) = try await store.resultSummary(ids: ids)
            let failures = try await store.lastErrors(ids: ids).map {
                WaitSummary.Failure(id: $0.0.text, state: $0.1.rawValue, error: $0.2)
            }
            return WaitSummary(done: counts[.done] ?? 0, cancelled: counts[.cancelled] ?? 0,
                               wallSeconds: Date().timeIntervalSince(started), meanLatencyMs: meanMs, maxLatencyMs: maxMs,
                               passes: passes, ntpPasses: ntp, failed: failures)
        }
        let waited = Date().timeIntervalSince(started)
        // At most every 5 s: completion events of a busy submission must not each cost a query.
        if waited >= warnNoWorkerAfter && Date().timeIntervalSince(lastWorkerCheck) >= 5 {
            lastWorkerCheck = Date()
            for u in try await store.unservedJobs(ids: ids) where warned.insert("\(u.queue)\u{0}\(u.model)").inserted {
                say("\(toolName): warning: no live worker serves queue \(u.queue) model \(u.model) (\(u.queued) job(s) waiting); still waiting")
            }
        }
        // Wake in time for the check above, not only at the 5 s safety poll.
        let untilCheck = waited < warnNoWorkerAfter ? warnNoWorkerAfter - waited : 5
        await wakeups.wait(since: generation, seconds: max(0.05, min(5, untilCheck)))
    }
}
