import Foundation
import Hummingbird
import JobStore

/// Bulk actions by filter (issue 24): cancel, retry or delete every job the jobs page's filter matches.
/// `GET /jobs/bulk?action=A&FILTER` changes nothing: it counts what the action would change and asks for a
/// confirmation; its form POSTs the same filter, the count shown and the CSRF token, and the store makes the
/// change in one statement, rolled back if the count is no longer the one confirmed.
func addBulkActions(to router: Router<BasicRequestContext>, store: JobStore, auth: ConsoleAuth,
                    pages: @escaping @Sendable (Request) throws -> Pages) {
    router.get("/jobs/bulk") { request, _ in
        let q = try query(request)
        let action = try bulkAction(q)
        let pages = try pages(request)
        guard pages.viewer.session != nil else {
            throw HTTPError(.unauthorized, message: "Sign in first: bulk actions change jobs. Nothing was changed.")
        }
        let (filter, _) = try jobFilter(q, pageSize: 1)
        let count = try await store.bulkCount(action, filter: filter)
        return html(pages.bulkConfirm(action, count: count, query: filterFields(q)))
    }
    router.post("/jobs/bulk") { request, context in
        let (session, form) = try await auth.requireSession(request)
        let action = try bulkAction(form)
        let expected = try QueryValues.int(form, "expected", default: -1, range: 0...Int(Int32.max))
        guard expected >= 0 else { throw HTTPError(.badRequest, message: "The confirmation's count is missing. Nothing was changed.") }
        let fields = filterFields(form)
        let (filter, _) = try jobFilter(fields, pageSize: 1)
        let note = AuditNote(actor: session.actor, action: "bulk-\(action.rawValue)", target: filterText(fields))
        let changed: Int
        do {
            changed = try await store.bulk(action, filter: filter, expected: expected, audit: note).values.reduce(0, +)
        } catch let e as BulkCountChanged {
            throw HTTPError(.conflict, message: "The jobs matching this filter changed since you confirmed: \(e.confirmed) then, \(e.found) now. "
                            + "Nothing was changed; go back to the jobs page and confirm again.")
        }
        logMutation(context.logger, note, count: changed)
        var back = fields
        back["done"] = "bulk-\(action.rawValue)"
        back["n"] = "\(changed)"
        return Response(status: .seeOther, headers: [.location: "/jobs?" + queryString(back)])
    }
}

func bulkAction(_ q: [String: String]) throws -> BulkAction {
    guard let name = q["action"], let action = BulkAction(rawValue: name) else {
        throw HTTPError(.badRequest, message: "action must be one of \(BulkAction.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return action
}

/// The filter fields of the jobs page among `q` (paging and the rest dropped).
func filterFields(_ q: [String: String]) -> [String: String] {
    q.filter { Pages.jobFilterFields.contains($0.key) }
}

/// "queue=demo state=failed", or "all jobs": what the audit log records as the target.
func filterText(_ fields: [String: String]) -> String {
    fields.isEmpty ? "all jobs" : fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
}

func queryString(_ q: [String: String]) -> String {
    q.sorted { $0.key < $1.key }.map { "\($0.key)=\(HTML.query($0.value))" }.joined(separator: "&")
}
