import Foundation
import HTTPAPI
import Hummingbird
import JobCore
import JobStore

/// The console's bulk actions (BulkActions.swift) for programs: the GET is the confirmation page's count,
/// changing nothing; the POST sends that count back as `expected` with the admin token, and the store acts
/// only if the filter still matches exactly that many (the same store calls, the same audit row, as the
/// console's form, with "admin token" as the actor).
extension DashboardAPI {
    func countBulkAction(_ input: Operations.CountBulkAction.Input) async throws -> Operations.CountBulkAction.Output {
        let q = input.query
        let action = try storeAction(input.path.action)
        let fields = bulkFilterFields(queue: q.queue, state: q.state, label: q.label, policy: q.policy, className: q._class,
                                      model: q.model, text: q.q, since: q.since)
        let (filter, _) = try jobFilter(fields, pageSize: 1)
        let count = try await store.bulkCount(action, filter: filter)
        // The spec's action names are the store's (both enums spell cancel, retry, delete).
        let named = Components.Schemas.BulkCount.ActionPayload(rawValue: action.rawValue)!
        return .ok(.init(body: .json(.init(action: named, filter: filterText(fields), count: count))))
    }

    func runBulkAction(_ input: Operations.RunBulkAction.Input) async throws -> Operations.RunBulkAction.Output {
        // The token first: without it, not even the filter is looked at.
        try requireToken(APIRequestScope.current.authorization, config: config)
        let q = input.query
        let action = try storeAction(input.path.action)
        let expected = try bounded(q.expected, "expected", default: 0, range: 0...Int(Int32.max))
        let fields = bulkFilterFields(queue: q.queue, state: q.state, label: q.label, policy: q.policy, className: q._class,
                                      model: q.model, text: q.q, since: q.since)
        let (filter, _) = try jobFilter(fields, pageSize: 1)
        let note = AuditNote(actor: "admin token", action: "bulk-\(action.rawValue)", target: filterText(fields))
        let byQueue: [String: Int]
        do {
            byQueue = try await store.bulk(action, filter: filter, expected: expected, audit: note)
        } catch let e as BulkCountChanged {
            throw HTTPError(.conflict, message: "the jobs this filter matches for \(action.rawValue) changed since they were counted: "
                            + "\(e.confirmed) expected, \(e.found) now. Nothing was changed; count again (GET) and confirm that count.")
        }
        let changed = byQueue.values.reduce(0, +)
        logMutation(logger, note, count: changed)
        let named = Components.Schemas.BulkResult.ActionPayload(rawValue: action.rawValue)!
        return .ok(.init(body: .json(.init(action: named, filter: filterText(fields), changed: changed,
                                           byQueue: .init(additionalProperties: byQueue)))))
    }

    /// The generated path value as the store's action (both spell the same three names).
    private func storeAction(_ action: Components.Parameters.BulkAction) throws -> BulkAction {
        guard let known = BulkAction(rawValue: action.rawValue) else {
            throw HTTPError(.badRequest, message: "action must be one of \(BulkAction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return known
    }

    /// The filter under the jobs page's keys, empty values dropped, so `jobFilter` reads and bounds it as it
    /// does for the page, GET /api/jobs and the console's bulk form, and the audit row names it alike.
    private func bulkFilterFields(queue: String?, state: JobState?, label: String?, policy: String?, className: String?,
                                  model: String?, text: String?, since: String?) -> [String: String] {
        let fields: [String: String?] = [
            "queue": queue, "state": state?.rawValue, "label": label, "policy": policy, "class": className,
            "model": model, "q": text, "since": since,
        ]
        return fields.compactMapValues { nonEmpty($0) }
    }
}
