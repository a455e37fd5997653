import Decoding
import Foundation

/// A job's life: queued -> running -> done | failed | cancelled (running -> queued again on retry or rescue).
/// Bound and read as this type (`JobState+Postgres.swift`): a state the code does not know is an error.
public enum JobState: String, Sendable, Codable, CodingKeyRepresentable, CaseIterable {
    case queued, running, done, failed, cancelled
}

/// One job to insert (a validated prompt line expands to `count` of these).
public struct JobSpec: Sendable, Equatable {
    public var queue: String
    public var model: String
    public var parameters: JobParameters
    public var priority: Int = 0
    public var maxAttempts: Int = 5
    /// The caller's name for the job, unique per queue (`JobSpec.isValidLabel`).
    public var label: String?
    /// The prompt line as submitted, and the class name from the model's config: shown and exported.
    public var prompt: String?
    public var className: String?
    /// Not claimed before this (delayed jobs); nil = at once.
    public var runAfter: Date?
    /// The input line it came from (1-based; 0 when built in code). Not stored.
    public var line: Int = 0

    public init(queue: String = "default", model: String, parameters: JobParameters, priority: Int = 0,
                maxAttempts: Int = 5, label: String? = nil, prompt: String? = nil, className: String? = nil,
                runAfter: Date? = nil, line: Int = 0) {
        self.queue = queue; self.model = model; self.parameters = parameters
        self.priority = priority; self.maxAttempts = maxAttempts; self.label = label; self.prompt = prompt
        self.className = className; self.runAfter = runAfter; self.line = line
    }

    /// Labels go into export file names, so only `[A-Za-z0-9._-]`, 1-100 characters, not `.` or `..`
    /// (the same rule as the column's CHECK).
    public static func isValidLabel(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 100 && s != "." && s != ".."
            && s.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}

/// A job this worker holds a lease on. `leaseToken` must accompany every write about it.
public struct ClaimedJob: Sendable, Equatable {
    public var id: UUID
    public var queue: String
    public var model: String
    /// The row's parameters, or why they do not pass `JobParameters.validate()` (a row written by hand or by
    /// a newer version): the worker fails such a job permanently instead of guessing.
    public var parameters: Result<JobParameters, ParameterError>
    public var priority: Int
    /// 1 for the first claim.
    public var attempt: Int
    public var maxAttempts: Int
    public var leaseToken: UUID
    public var createdAt: Date

    public init(id: UUID, queue: String, model: String, parameters: Result<JobParameters, ParameterError>, priority: Int,
                attempt: Int, maxAttempts: Int, leaseToken: UUID, createdAt: Date) {
        self.id = id; self.queue = queue; self.model = model; self.parameters = parameters; self.priority = priority
        self.attempt = attempt; self.maxAttempts = maxAttempts; self.leaseToken = leaseToken; self.createdAt = createdAt
    }
}

/// What a worker writes for a finished job.
public struct JobOutput: Sendable, Equatable {
    public var png: [UInt8]
    public var width: Int
    public var height: Int
    public var passes: Int
    /// grid * grid: the passes plain next-token prediction needs.
    public var ntpPasses: Int
    public var tokens: Int
    public var queries: Int
    /// The whole decode: joining the batch to the finished image (GPT passes + VQ decode + PNG).
    public var decodeSeconds: Double
    public var passSeconds: [Double]
    /// The stages of `decodeSeconds` (nil where an executor does not measure them).
    public var stages: StageSeconds?
    /// For each token in raster order, the pass (0-based) that decoded it: the decode-order heatmap.
    public var decodeOrder: [Int]?
    /// Adaptive policies: drafts made and accepted.
    public var drafts: Int = 0
    public var accepted: Int = 0

    public init(png: [UInt8], width: Int, height: Int, passes: Int, ntpPasses: Int, tokens: Int, queries: Int,
                decodeSeconds: Double, passSeconds: [Double], stages: StageSeconds? = nil, decodeOrder: [Int]? = nil,
                drafts: Int = 0, accepted: Int = 0) {
        self.png = png; self.width = width; self.height = height; self.passes = passes; self.ntpPasses = ntpPasses
        self.tokens = tokens; self.queries = queries; self.decodeSeconds = decodeSeconds; self.passSeconds = passSeconds
        self.stages = stages; self.decodeOrder = decodeOrder; self.drafts = drafts; self.accepted = accepted
    }
}

/// Seconds a job spent in each stage of the worker.
public struct StageSeconds: Sendable, Equatable, Codable {
    /// GPT passes: from joining the batch to the last token.
    public var gpt: Double
    /// VQ decode of the token grid to pixels.
    public var vq: Double
    /// PNG encode.
    public var png: Double
    public init(gpt: Double, vq: Double, png: Double) { self.gpt = gpt; self.vq = vq; self.png = png }
}

/// A job that cannot run. `permanent` errors (unknown class, bad policy) fail the job at once;
/// others are retried with backoff up to the job's max_attempts.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var permanent: Bool
    public init(_ message: String, permanent: Bool) { self.message = message; self.permanent = permanent }
    public var description: String { message }
}

/// The job's lease is gone (rescued after expiry, cancelled, or already finished): the write was refused.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public var jobID: UUID
    public init(jobID: UUID) { self.jobID = jobID }
    public var description: String { "lease on job \(jobID.text) was lost; result discarded" }
}

public enum FailOutcome: Sendable, Equatable {
    case retrying(after: Double)
    case failed
}

public struct SubmitOutcome: Sendable, Equatable {
    /// Every job of the submission, in input order (existing ones too on an idempotent re-run).
    public var ids: [UUID]
    /// How many rows this call inserted.
    public var inserted: Int
}

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
    /// Finished jobs per minute over the last `windowMinutes`, and over the whole history.
    public var windowMinutes: Int
    public var jobsPerMinuteRecent: Double
    public var jobsPerMinuteOverall: Double
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
    public var attempts: Int
    public var maxAttempts: Int
    public var createdAt: Date
    public var runAfter: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The worker holding (or that last held) the lease.
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
    /// `cancelled` / `requeued`, or why not: `not found`, `already done`, ...
    public var outcome: String
    public var changed: Bool
}

/// Backoff before retry `attempt` (1-based): base * 2^(attempt-1), capped, times a jitter in [0.5, 1].
public func retryBackoff(attempt: Int, base: Double = 1, cap: Double = 300,
                         jitter: Double = Double.random(in: 0.5...1)) -> Double {
    let exp = min(max(attempt - 1, 0), 30)
    return min(cap, base * pow(2, Double(exp))) * jitter
}

extension UUID {
    /// Lowercase text, as printed by zipar-submit and used in file names and logs.
    public var text: String { uuidString.lowercased() }
}

/// Jobs of one queue and state, and how long the oldest queued one has waited (`/metrics`).
public struct QueueDepth: Sendable, Codable, Equatable {
    public var queue: String
    public var state: JobState
    public var count: Int
    public var oldestQueuedSeconds: Double?
}
