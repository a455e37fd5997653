import ArgumentParser
import CLISupport
import Foundation
import JobCore
import JobStore

/// The filter flags of `jobs`, `export` and `purge`.
struct FilterOptions: ParsableArguments {
    @Option(help: "Only this queue.") var queue: String?
    @Option(help: "Only jobs whose label starts with this.") var label: String?
    @Option(help: "Only jobs in these states (repeat): scheduled (queued, not due yet), queued (due), running, done, failed, cancelled.") var state: [JobState] = []
    @Option(help: "Only jobs of this model.") var model: String?
    @Option(help: "Only jobs created within this age: 30s, 15m, 12h, 7d.") var since: DurationArgument?

    func filter(limit: Int? = nil, defaultStates: [JobState]? = nil) -> JobFilter {
        JobFilter(queue: queue, labelPrefix: label, states: state.isEmpty ? defaultStates : state, model: model,
                  sinceSeconds: since?.seconds, limit: limit)
    }
}

struct Jobs: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(abstract: "Lists jobs, newest first, with filters.")
    @OptionGroup var filter: FilterOptions
    @Option(help: "At most this many (1...10000).") var limit = 50
    @OptionGroup var common: Common
    func validate() throws {
        if !(1...10_000).contains(limit) { throw ValidationError("--limit must be in 1...10000") }
    }
    func run() async throws {
        let f = filter.filter(limit: limit)
        let jobs = try await withDatabase { try await $0.jobs(f) }
        if common.json { try printJSON(jobs); return }
        for j in jobs {
            let name = j.label.map { " \($0)" } ?? ""
            let cls = j.className.map { " \($0)" } ?? j.textPrompt.map { " \"\($0.prefix(60))\"" } ?? ""
            let err = j.lastError.map { "  error: \($0.prefix(120))" } ?? ""
            print("\(j.id)\(name)  \(j.queue)  \(j.state.rawValue)\(cls)  \(j.policy) seed \(j.seed)  attempts \(j.attempts)\(err)")
        }
        if jobs.isEmpty { say("no jobs match") }
    }
}

struct Show: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Everything about one job: state, prompt, parameters, attempts and their errors, result stats.",
        discussion: "Exit 1 when there is no such job.")
    @Argument(help: "Job id.") var id: JobID
    @Option(help: "Also write the job's PNG here (done jobs).") var png: String?
    @OptionGroup var common: Common
    func run() async throws {
        let (id, wantPNG) = (self.id.uuid, png != nil)
        let (detail, image) = try await withDatabase { store -> (JobDetail?, [UInt8]?) in
            guard let d = try await store.job(id: id) else { return (nil, nil) }
            return (d, wantPNG ? try await store.png(id: id) : nil)
        }
        guard let d = detail else { throw CLIError("no job \(id.text)") }
        if let png {
            guard let image else { throw CLIError("job \(d.id) has no image (state \(d.state.rawValue))") }
            try Data(image).write(to: URL(fileURLWithPath: png))
        }
        if common.json { try printJSON(d); return }
        print(describe(d))
    }

    func describe(_ d: JobDetail) -> String {
        func date(_ x: Date?) -> String { x.map { ISO8601DateFormatter().string(from: $0) } ?? "-" }
        var lines = ["job      \(d.id)" + (d.label.map { "  label \($0)" } ?? ""),
                     "queue    \(d.queue)  model \(d.model)  priority \(d.priority)",
                     "state    \(d.state.rawValue)  attempts \(d.attempts)/\(d.maxAttempts)"
                        + (d.attemptsBeforeRetry > 0 ? " (\(d.attemptsBeforeRetry) before its last retry)" : "")
                        + (d.leaseOwner.map { "  worker \($0)" } ?? "")]
        if let p = d.prompt { lines.append("prompt   \(p)") }
        // A text job's prompts get lines of their own (free text would blur the key=value line); a class
        // job has none, so its params line reads as it always did.
        if let text = d.parameters?.prompt { lines.append("text     \(quoted(text))") }
        if let text = d.parameters?.negativePrompt { lines.append("negative \(quoted(text))") }
        if let p = d.parameters {
            let shown = p.values.filter { !Self.ownLines.contains($0.key) && !($0.key == "size" && $0.value == .null) }
            let text = shown.map { "\($0.key)=\(showValue($0.value))" }.joined(separator: " ")
            lines.append("params   \(text)" + (d.className.map { "  (\($0))" } ?? ""))
        } else {
            lines.append("params   (unreadable: see show --json)")
        }
        lines.append("times    created \(date(d.createdAt))  run after \(date(d.runAfter))  started \(date(d.attemptStartedAt))"
                     + (d.startedAt != nil && d.startedAt != d.attemptStartedAt ? "  first started \(date(d.startedAt))" : "")
                     + "  finished \(date(d.finishedAt))")
        if let r = d.result {
            lines.append(String(format: "result   %dx%d  passes %d (ntp %d)  queries %d  decode %.0f ms  latency %.0f ms  worker %@  exported %@",
                                r.width, r.height, r.passes, r.ntpPasses, r.queries, r.decodeMs, r.latencyMs, r.worker,
                                date(r.exportedAt)))
            if let gpt = r.gptMs, let vq = r.vqMs, let png = r.pngMs {
                lines.append(String(format: "stages   queue %.0f ms  GPT %.0f ms  VQ decode %.0f ms  PNG %.0f ms", r.queueMs ?? 0, gpt, vq, png))
            }
        }
        for e in d.errors {
            lines.append("error    attempt \(e.attempt) at \(e.at)\(e.worker.map { " on \($0)" } ?? "")\(e.permanent == true ? " (permanent)" : ""): \(e.error)")
        }
        return lines.joined(separator: "\n")
    }

    /// Parameters `describe` prints on their own lines.
    static let ownLines: Set<String> = ["prompt", "negative_prompt"]

    /// Text in quotes as a prompt file writes it, so a prompt with spaces, quotes or `#` reads unambiguously.
    func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    func showValue(_ v: ParameterValue) -> String {
        switch v {
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .text(let t): return t
        case .null: return "none"
        }
    }
}

/// What `retry` and `cancel` print with `--json`, by ids and by `--failed` alike: how many jobs changed,
/// how many exist but were left as they were, how many ids name no job, and each id's outcome.
struct ChangeReport: Encodable {
    /// `requeued` or `cancelled`.
    var action: String
    var changed: Int
    var unchanged: Int
    var unknown: Int
    var jobs: [IDOutcome]

    init(action: String, _ outcomes: [IDOutcome]) {
        self.action = action
        changed = outcomes.filter(\.changed).count
        unknown = outcomes.filter { !$0.found }.count
        unchanged = outcomes.count - changed - unknown
        jobs = outcomes
    }

    /// Why nothing changed, counted by reason ("1 already final, 1 unknown").
    func nothingChanged(unchangedAs reason: String, whenEmpty: String) -> String {
        var parts: [String] = []
        if unchanged > 0 { parts.append("\(unchanged) \(reason)") }
        if unknown > 0 { parts.append("\(unknown) unknown") }
        return "nothing \(action): " + (parts.isEmpty ? whenEmpty : parts.joined(separator: ", "))
    }
}

/// Prints each id's outcome (one line each, or one `ChangeReport` with `--json`). Exit 1 when nothing
/// changed: the error line names each reason; with `--json` the report alone is the JSON document (it says
/// `"changed": 0`), so stdout stays one document.
func report(_ outcomes: [IDOutcome], json: Bool, action: String, unchangedAs reason: String,
            whenEmpty: String = "no job matched") throws {
    let r = ChangeReport(action: action, outcomes)
    if json { try printJSON(r) } else {
        for o in outcomes { print("\(o.id)  \(o.outcome)") }
    }
    if r.changed == 0 {
        let why = r.nothingChanged(unchangedAs: reason, whenEmpty: whenEmpty)
        if json { sayError(why); throw ExitStatus.failure.code }
        throw CLIError(why)
    }
    if !json { say("\(action) \(r.changed) of \(outcomes.count) job(s)" + (r.unknown > 0 ? "; \(r.unknown) unknown" : "")) }
}

struct Retry: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Puts failed or cancelled jobs back in their queue with fresh attempts.",
        discussion: """
            Prints each id's outcome (requeued, unknown, or its state); --json prints one object either way: \
            {"action": "requeued", "changed": N, "unchanged": N, "unknown": N, "jobs": [{"id", "outcome", "changed"}]}. \
            Exit 1 when none was requeued.
            """)
    @Flag(help: "Retry every failed job (of --queue if given).") var failed = false
    @Option(help: "With --failed: only this queue.") var queue: String?
    @Argument(help: "Job ids.") var ids: [JobID] = []
    @OptionGroup var common: Common
    func validate() throws {
        if failed == !ids.isEmpty { throw ValidationError("give job ids or --failed (not both)") }
    }
    func run() async throws {
        let (uuids, failed, queue) = (ids.map(\.uuid), self.failed, self.queue)
        let outcomes = try await withDatabase { store in
            failed ? try await store.retryAllFailed(queue: queue) : try await store.retry(ids: uuids)
        }
        try report(outcomes, json: common.json, action: IDOutcome.requeued, unchangedAs: "not failed or cancelled",
                   whenEmpty: "no failed job")
    }
}

struct Cancel: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancels scheduled, queued or running jobs (a running job's worker loses its lease and drops it).",
        discussion: """
            Prints each id's outcome: cancelled, already final (done, failed or cancelled), or unknown (no such \
            job). --json prints one object: {"action": "cancelled", "changed": N, "unchanged": N, "unknown": N, \
            "jobs": [...]}. Exit 0 when at least one job was cancelled, 1 when none was (the error line counts \
            each reason).
            """)
    @Argument(help: "Job ids.") var ids: [JobID]
    @OptionGroup var common: Common
    func run() async throws {
        let uuids = ids.map(\.uuid)
        try report(try await withDatabase { try await $0.cancel(ids: uuids) }, json: common.json,
                   action: IDOutcome.cancelled, unchangedAs: "already final")
    }
}

struct Purge: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deletes finished jobs (done, failed, cancelled) and their results, and workers stopped as long ago.",
        discussion: """
            Results never exported are kept unless --include-unexported. Crashed workers are forgotten after
            being silent that long and at least an hour, so live workers stay listed.
            """)
    @Option(name: .customLong("older-than"), help: "Age: 30s, 15m, 12h, 7d.") var olderThan = DurationArgument(argument: "7d")!
    @OptionGroup var filter: FilterOptions
    @Flag(name: .customLong("include-unexported"), help: "Also delete done jobs whose result was never exported.") var includeUnexported = false
    @Flag(name: .customLong("dry-run"), help: "Only list what would be deleted.") var dryRun = false
    @OptionGroup var common: Common
    func run() async throws {
        let (age, f, all, dry) = (olderThan.seconds, filter.filter(), includeUnexported, dryRun)
        let removed = try await withDatabase { try await $0.purge(olderThan: age, filter: f, includeUnexported: all, dryRun: dry) }
        var byState: [JobState: Int] = [:]
        for (_, s) in removed { byState[s, default: 0] += 1 }
        let summary = JobState.allCases.compactMap { s in byState[s].map { "\(s.rawValue) \($0)" } }.joined(separator: ", ")
        if common.json {
            try printJSON(PurgeReport(dryRun: dry, count: removed.count, byState: byState, ids: removed.map { $0.0.text }))
            return
        }
        print("\(dry ? "would purge" : "purged") \(removed.count) job(s)" + (summary.isEmpty ? "" : " (\(summary))"))
    }
}

/// `purge --json`: `purged` counts what was deleted; a dry run deletes nothing, so it says `wouldPurge`
/// instead (never `purged`), and `dryRun: true`.
struct PurgeReport: Encodable {
    var dryRun: Bool
    var purged: Int?
    var wouldPurge: Int?
    var byState: [JobState: Int]
    var ids: [String]

    init(dryRun: Bool, count: Int, byState: [JobState: Int], ids: [String]) {
        self.dryRun = dryRun
        if dryRun { wouldPurge = count } else { purged = count }
        self.byState = byState; self.ids = ids
    }
}
