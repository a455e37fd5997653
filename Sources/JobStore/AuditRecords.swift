import Foundation

/// Who changes what, for the audit log: the store writes it in the same transaction as the change and
/// fills in how many rows changed.
public struct AuditNote: Sendable, Equatable {
    /// A credential's name, never the credential: `admin session 1a2b3c4d`, `admin token`, `submit token`.
    public var actor: String
    /// pause, resume, retry, cancel, bulk-cancel, bulk-retry, bulk-delete, batch-create, batch-cancel.
    public var action: String
    /// A queue name, a job id, a filter (`queue=demo state=failed`), a batch id.
    public var target: String
    public var detail: String?

    public init(actor: String, action: String, target: String, detail: String? = nil) {
        // Cut to what the table's checks allow, so a long filter never turns a change into an error.
        self.actor = String(actor.prefix(200)); self.action = String(action.prefix(100))
        self.target = String(target.prefix(2000)); self.detail = detail.map { String($0.prefix(2000)) }
    }

    /// A batch created through the API (its id is known only once inserted: `JobStore.createBatch` writes it).
    public static func batchCreated(actor: String, batch: String) -> AuditNote {
        AuditNote(actor: actor, action: "batch-create", target: "batch \(batch)")
    }
}

/// One row of the audit log.
public struct AuditEntry: Sendable, Codable, Equatable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var action: String
    public var target: String
    public var count: Int
    public var detail: String?
}

/// What a bulk action (the dashboard's "all jobs matching this filter") does, and to which stored states.
public enum BulkAction: String, Sendable, CaseIterable, Codable {
    /// Queued (scheduled too) or running jobs to cancelled.
    case cancel
    /// Failed or cancelled jobs back to queued with fresh attempts.
    case retry
    /// Finished jobs (done, failed, cancelled) and their results deleted; live jobs must be cancelled first.
    case delete

    /// The stored states a job must be in for the action to change it.
    public var fromStates: [String] {
        switch self {
        case .cancel: ["queued", "running"]
        case .retry: ["failed", "cancelled"]
        case .delete: ["done", "failed", "cancelled"]
        }
    }

    /// "queued, scheduled or running", for the confirmation page.
    public var fromStatesText: String {
        switch self {
        case .cancel: "queued, scheduled or running"
        case .retry: "failed or cancelled"
        case .delete: "done, failed or cancelled"
        }
    }
}

/// A bulk action whose matching set changed between the confirmation and the change: nothing was changed.
public struct BulkCountChanged: Error, Sendable, CustomStringConvertible {
    public var confirmed: Int
    public var found: Int
    public var description: String {
        "the filter matched \(confirmed) job(s) when confirmed and \(found) now; nothing was changed"
    }
}
