import Foundation
import HTTPAPI
import Hummingbird
import JobStore

/// The pages' mutations for programs: `Authorization: Bearer` with the admin token (never a session),
/// each recorded in the audit log as "admin token".
extension DashboardAPI {
    func pauseQueue(_ input: Operations.PauseQueue.Input) async throws -> Operations.PauseQueue.Output {
        .ok(.init(body: .json(.init(queue: input.path.name, paused: try await setPaused(input.path.name, true)))))
    }

    func resumeQueue(_ input: Operations.ResumeQueue.Input) async throws -> Operations.ResumeQueue.Output {
        .ok(.init(body: .json(.init(queue: input.path.name, paused: try await setPaused(input.path.name, false)))))
    }

    func retryJob(_ input: Operations.RetryJob.Input) async throws -> Operations.RetryJob.Output {
        .ok(.init(body: .json(try await change(job: input.path.id, verb: "retry"))))
    }

    func cancelJob(_ input: Operations.CancelJob.Input) async throws -> Operations.CancelJob.Output {
        .ok(.init(body: .json(try await change(job: input.path.id, verb: "cancel"))))
    }

    /// Pauses or resumes `queue` (an unknown queue is the store's refusal: a 404); returns `paused`.
    private func setPaused(_ queue: String, _ paused: Bool) async throws -> Bool {
        try requireToken(APIRequestScope.current.authorization, config: config)
        let verb = paused ? "pause" : "resume"
        let note = AuditNote(actor: "admin token", action: verb, target: "queue \(queue)")
        try await store.setPaused(queue: queue, paused, audit: note)
        logMutation(logger, note, count: 1)
        return paused
    }

    /// Retries or cancels one job; the outcome says whether it changed and why not.
    private func change(job idText: String, verb: String) async throws -> [IDOutcome] {
        let id = try pathUUID(idText)
        try requireToken(APIRequestScope.current.authorization, config: config)
        let note = AuditNote(actor: "admin token", action: verb, target: "job \(id.text)")
        let outcome = verb == "retry" ? try await store.retry(ids: [id], audit: note) : try await store.cancel(ids: [id], audit: note)
        logMutation(logger, note, count: outcome.filter(\.changed).count)
        return outcome
    }
}

/// Refuses an API request unless its `Authorization` header carries the admin token as `Bearer`: 403 when
/// the dashboard is read-only, 401 when the token is missing or wrong. Compared in constant time. (The
/// pages use sessions instead: `ConsoleAuth`.)
func requireToken(_ authorization: String?, config: DashboardConfig) throws {
    guard let expected = config.adminToken else {
        throw HTTPError(.forbidden, message: "read-only dashboard: start `zipar-admin serve` with an admin token to change anything")
    }
    var given: String?
    if let authorization, authorization.hasPrefix("Bearer ") {
        given = String(authorization.dropFirst("Bearer ".count))
    }
    guard let given, constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else {
        throw HTTPError(.unauthorized, message: "admin token missing or wrong")
    }
}
