import Foundation
import JobCore

// What the store reports about jobs, queues and workers (admin commands, the dashboard, /metrics). The
// types a worker and a queue exchange are JobCore's (JobTypes.swift).

public struct SubmitOutcome: Sendable, Equatable {
    /// Every job of the submission, in input order (existing ones too on an idempotent re-run).
    public var ids: [UUID]
    /// How many rows this call inserted.
    public var inserted: Int
    /// Jobs not inserted because their label was taken (`LabelConflict.skip`); not in `ids`.
    public var skipped: Int = 0
    /// The batch the jobs form, when the submission asked for one (`submit(batchRequestSHA256:)`).
    public var batchID: UUID? = nil
}

/// What submit does with a job whose label another job of its queue already holds.
public enum LabelConflict: String, Sendable, CaseIterable {
    /// Refuse the whole submission, naming the line (the default).
    case fail
    /// Leave those jobs out and insert the rest.
    case skip
}

/// A label within its queue (labels are unique per queue).
struct LabelKey: Hashable { var queue: String; var label: String }

/// A queue, whether it is paused, and its jobs by state (`zipar-admin queues` and `stats`).
public struct QueueInfo: Sendable, Codable, Equatable {
    public var name: String
    public var paused: Bool
    public var counts: [JobState: Int]
}

public struct WorkerInfo: Sendable, Codable, Equatable {
    /// live: heartbeat younger than the worker's lease; silent: older (crashed or hung); stopped: exited.
    public enum Liveness: String, Sendable, Codable { case live, silent, stopped }
    public var id: String
    public var host: String
    public var pid: Int
    public var models: [String]
    public var queues: [String]
    public var startedAt: Date
    public var heartbeatAt: Date
    public var stoppedAt: Date?
    public var jobsDone: Int
    /// The zipar release the worker runs (nil for workers older than the column).
    public var version: String?
    /// Seconds since the last heartbeat.
    public var heartbeatAge: Double
    public var leaseSeconds: Double
    public var liveness: Liveness
    public var running: Int
}

public struct StatsReport: Sendable, Codable, Equatable {
    public struct Latency: Sendable, Codable, Equatable {
        public var p50: Double
        public var p95: Double
        public var max: Double
    }
    public var queues: [QueueInfo]
    /// Finished jobs per minute over the last `windowMinutes`, and over the results window (from its
    /// first start to its last finish).
    public var windowMinutes: Int
    public var jobsPerMinuteRecent: Double
    public var jobsPerMinuteOverall: Double
    /// What `results`, the latencies, stages and passes cover: the jobs finished in the last this many
    /// minutes; nil = the whole history (a store of a million results is not sorted for every look).
    public var resultsWindowMinutes: Int?
    public var results: Int
    /// Submit-to-result and decode-only latency in milliseconds (nil when no results).
    public var latencyMs: Latency?
    public var decodeMs: Latency?
    /// The stages of a job's time (nil until results carry them): queue wait, GPT, VQ decode, PNG.
    public var stageMs: [String: Latency]?
    public var passes: Int
    public var ntpPasses: Int
    /// 1 - passes / ntp_passes.
    public var passesSaved: Double
    public var liveWorkers: [WorkerInfo]
    /// Queued jobs that no live worker serves (their model on their queue): they wait for nobody.
    public var unserved: [UnservedJobs] = []
}

/// Queued jobs of one queue and model that no live worker can take.
public struct UnservedJobs: Sendable, Codable, Equatable {
    public var queue: String
    public var model: String
    public var queued: Int
    public init(queue: String, model: String, queued: Int) { self.queue = queue; self.model = model; self.queued = queued }
}

/// Everything about one job (`zipar-admin show`, the JSON beside each exported PNG).
public struct JobDetail: Sendable, Codable, Equatable {
    /// Lowercase, as in file names.
    public var id: String
    public var queue: String
    public var model: String
    public var label: String?
    public var prompt: String?
    public var className: String?
    public var state: JobState
    /// Nil when the row's parameters no longer pass validation (see `ClaimedJob.parameters`).
    public var parameters: JobParameters?
    public var priority: Int
    /// Attempts since the job was submitted or last retried: what `maxAttempts` counts.
    public var attempts: Int
    public var maxAttempts: Int
    /// Attempts spent before the last retry (`zipar-admin retry`, the console's retry): attempt numbers go
    /// on from them, so the history in `errors` never shows a number twice.
    public var attemptsBeforeRetry: Int
    public var createdAt: Date
    public var runAfter: Date
    /// The first claim (submit to it is the result's queue wait).
    public var startedAt: Date?
    /// The current (or last) attempt's claim; nil while the job waits in the queue.
    public var attemptStartedAt: Date?
    public var finishedAt: Date?
    /// The worker holding (or that last held) the lease of the current attempt; nil while the job waits
    /// in the queue (its earlier attempts' workers are in `errors`).
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    /// Every failed attempt, oldest first.
    public var errors: [AttemptError]
    public var result: ResultStats?
}

/// One failed attempt of a job.
public struct AttemptError: Sendable, Codable, Equatable {
    public var at: String
    public var attempt: Int
    public var worker: String?
    public var error: String
    public var permanent: Bool?
}

/// What the worker recorded with a job's image.
public struct ResultStats: Sendable, Codable, Equatable {
    public var width: Int
    public var height: Int
    public var passes: Int
    /// grid * grid: the passes plain next-token prediction needs.
    public var ntpPasses: Int
    public var tokens: Int
    public var queries: Int
    public var decodeMs: Double
    public var latencyMs: Double
    public var passMs: [Double]
    /// Submit to first claim, GPT passes, VQ decode, PNG encode (nil for results older than the columns).
    public var queueMs: Double?
    public var gptMs: Double?
    public var vqMs: Double?
    public var pngMs: Double?
    /// Per token, the pass that decoded it (nil for results older than the column).
    public var decodeOrder: [Int]?
    public var drafts: Int?
    public var accepted: Int?
    public var worker: String
    public var attempt: Int
    public var createdAt: Date
    /// When `zipar-admin export` last wrote it (purge keeps results never exported).
    public var exportedAt: Date?
}

/// One line of `zipar-admin jobs`.
public struct JobListEntry: Sendable, Codable, Equatable {
    public var id: String
    public var queue: String
    public var model: String
    public var label: String?
    public var prompt: String?
    public var className: String?
    public var classLabel: Int
    /// Text-to-image jobs: the text the image is drawn from (nil for class-conditional jobs).
    public var textPrompt: String?
    public var state: JobState
    public var policy: String
    public var seed: Int
    public var attempts: Int
    public var createdAt: Date
    public var finishedAt: Date?
    public var lastError: String?
}

/// Which jobs `jobs`, `export` and `purge` look at. Nil fields do not filter.
public struct JobFilter: Sendable, Equatable {
    public var queue: String?
    /// Jobs whose label starts with this.
    public var labelPrefix: String?
    public var states: [JobState]?
    public var model: String?
    /// Created at most this many seconds ago.
    public var sinceSeconds: Double?
    public var policy: String?
    /// Jobs whose class name is this, or whose class id is this number.
    public var className: String?
    public var seed: Int?
    /// Jobs whose prompt contains this text (any case).
    public var text: String?
    public var limit: Int?
    /// Skip this many (paging).
    public var offset: Int?
    public init(queue: String? = nil, labelPrefix: String? = nil, states: [JobState]? = nil, model: String? = nil,
                sinceSeconds: Double? = nil, policy: String? = nil, className: String? = nil, seed: Int? = nil,
                text: String? = nil, limit: Int? = nil, offset: Int? = nil) {
        self.queue = queue; self.labelPrefix = labelPrefix; self.states = states; self.model = model
        self.sinceSeconds = sinceSeconds; self.policy = policy; self.className = className; self.seed = seed
        self.text = text; self.limit = limit; self.offset = offset
    }
}

/// What happened to one id of `cancel` or `retry`.
public struct IDOutcome: Sendable, Codable, Equatable {
    public var id: String
    /// `cancelled` / `requeued`; or why not: `unknown` (no such job), `already final (done)` (cancel),
    /// `is queued, not failed or cancelled` (retry).
    public var outcome: String
    public var changed: Bool

    public static let cancelled = "cancelled"
    public static let requeued = "requeued"
    /// No job has this id.
    public static let unknown = "unknown"

    /// The job exists (changed or not).
    public var found: Bool { outcome != Self.unknown }
}

/// Jobs of one queue and state, and how long the oldest queued one has waited (`/metrics`).
public struct QueueDepth: Sendable, Codable, Equatable {
    public var queue: String
    public var state: JobState
    public var count: Int
    public var oldestQueuedSeconds: Double?
}
