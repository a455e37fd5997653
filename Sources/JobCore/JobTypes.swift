import Foundation

// What a job is as the queue and the worker exchange it: the spec submitted, the job claimed under a
// lease, and the output written back. The store's reports (stats, details, lists) are JobStore's `Records.swift`.

/// A job's life: queued -> running -> done | failed | cancelled (running -> queued again on retry or rescue).
/// Bound and read as this type (JobStore's `Rows.swift`): a state the code does not know is an error.
///
/// `scheduled` is never stored: reports (stats, lists, the dashboard, /metrics) show a queued job whose
/// `run_after` is still in the future as scheduled, derived when read (`SQL.shownState`). Claims, cancels and
/// retries keep working on the stored `queued`, so nothing that changes jobs needs to know about it.
public enum JobState: String, Sendable, Codable, CodingKeyRepresentable, CaseIterable {
    case scheduled, queued, running, done, failed, cancelled
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
    /// The caller's name for the request (JSONL `custom_id`, `JobSpec.isValidCustomID`): echoed in batch
    /// results and events, unlike a label not unique per queue.
    public var customID: String?

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

    /// A custom id is any text of 1-200 characters without control characters (the column's CHECK): it is
    /// the caller's key, echoed back, never used as a file name.
    public static func isValidCustomID(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 200 && !s.unicodeScalars.contains { $0.properties.generalCategory == .control }
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
    /// The caller's name for the job (logged beside its id).
    public var label: String?

    public init(id: UUID, queue: String, model: String, parameters: Result<JobParameters, ParameterError>, priority: Int,
                attempt: Int, maxAttempts: Int, leaseToken: UUID, createdAt: Date, label: String? = nil) {
        self.id = id; self.queue = queue; self.model = model; self.parameters = parameters; self.priority = priority
        self.attempt = attempt; self.maxAttempts = maxAttempts; self.leaseToken = leaseToken; self.createdAt = createdAt
        self.label = label
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

extension UUID {
    /// Lowercase text, as printed by zipar-submit and used in file names and logs.
    public var text: String { uuidString.lowercased() }
}
