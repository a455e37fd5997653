import Foundation
import JobCore

// What the batch API (`POST /api/batches` and friends) and the event stream report. Their JSON keys are
// snake_case, like the JSONL lines a batch is made of (`custom_id`).

/// One batch: how many jobs it has, how many are in each state, and when it finished.
public struct BatchInfo: Sendable, Codable, Equatable {
    public var id: String
    public var jobs: Int
    /// Jobs by state as every report shows them: `scheduled` counts the queued jobs not due yet.
    public var counts: [JobState: Int]
    public var createdAt: Date
    /// When the last job reached a final state; nil while any is scheduled, queued or running.
    public var finishedAt: Date?
    public var cancelledAt: Date?
    public var idempotencyKey: String?
    /// The batch's webhook, when it named one.
    public var webhook: WebhookState?

    enum CodingKeys: String, CodingKey {
        case id, jobs, counts, webhook
        case createdAt = "created_at", finishedAt = "finished_at", cancelledAt = "cancelled_at"
        case idempotencyKey = "idempotency_key"
    }
}

/// The answer to creating a batch: the batch, its job ids in input order, and whether an earlier request
/// with the same idempotency key and body had created it already.
public struct BatchCreated: Sendable, Equatable {
    public var batch: BatchInfo
    public var replayed: Bool
}

/// The same idempotency key came with another body: nothing was inserted.
public struct BatchKeyConflict: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var batchID: UUID
    public var description: String {
        "Idempotency-Key '\(key.prefix(80))' was used for batch \(batchID.text) with a different body; nothing inserted: use a new key"
    }
}

/// One line of `GET /api/batches/{id}/results`.
public struct BatchResultLine: Sendable, Codable, Equatable {
    public var customID: String?
    public var jobID: String
    public var label: String?
    public var state: JobState
    /// Forward passes the job took, and what plain next-token prediction needs (done jobs).
    public var passes: Int?
    public var ntpPasses: Int?
    /// Submit to result, and the decode alone (done jobs).
    public var seconds: Double?
    public var decodeSeconds: Double?
    /// Where the PNG is, relative to the server (done jobs).
    public var imageURL: String?
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case customID = "custom_id", jobID = "job_id", label, state, passes, ntpPasses = "ntp_passes", seconds
        case decodeSeconds = "decode_seconds", imageURL = "image_url", lastError = "last_error"
    }
}

/// A job reached a final state (a row of `job_events`; `id` is the SSE event id).
public struct JobEvent: Sendable, Codable, Equatable {
    public var id: Int64
    public var jobID: String
    public var batchID: String?
    public var queue: String
    public var label: String?
    public var customID: String?
    public var state: JobState
    public var at: Date
    /// Where the PNG is, relative to the server (done jobs).
    public var imageURL: String?

    enum CodingKeys: String, CodingKey {
        case id, jobID = "job_id", batchID = "batch_id", queue, label, customID = "custom_id", state, at
        case imageURL = "image_url"
    }
}

/// Which events a stream wants: any of the three may be nil (no filter).
public struct EventFilter: Sendable, Equatable {
    public var batch: UUID?
    public var queue: String?
    public var labelPrefix: String?
    public init(batch: UUID? = nil, queue: String? = nil, labelPrefix: String? = nil) {
        self.batch = batch; self.queue = queue; self.labelPrefix = labelPrefix
    }
}

/// A batch's webhook: tries so far, when it got through, the last failure, and whether a try is pending.
public struct WebhookState: Sendable, Codable, Equatable {
    public var url: String?
    public var attempts: Int
    public var deliveredAt: Date?
    public var lastError: String?
    public var pending: Bool

    enum CodingKeys: String, CodingKey {
        case url, attempts, deliveredAt = "delivered_at", lastError = "last_error", pending
    }
}

/// Where a job's image is served (`GET /api/jobs/{id}/image.png`).
public func imageURL(_ id: UUID) -> String { "/api/jobs/\(id.text)/image.png" }
