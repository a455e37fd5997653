import Foundation
import JobCore
import JobStore
import PostgresNIO
import Testing
import TestSupport

/// Issue 24: a batch and its audit row commit together. The row is written inside the batch's transaction,
/// so a batch never exists without it, and an audit row that cannot be written takes the batch with it.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct BatchAuditTests {
    @Test func theBatchAndItsAuditRowCommitTogether() async throws {
        try await PG.withDatabase { _, store in
            let created = try await store.createBatch([job(1), job(2)], requestSHA256: "a", idempotencyKey: "k", auditActor: "submit token")
            let rows = try await store.auditLog()
            let row = try #require(rows.first)
            #expect(rows.count == 1 && row.actor == "submit token" && row.action == "batch-create")
            #expect(row.target == "batch \(created.batch.id)" && row.count == 2)

            // A replay inserts nothing and records nothing; a refused batch neither.
            #expect(try await store.createBatch([job(1), job(2)], requestSHA256: "a", idempotencyKey: "k", auditActor: "submit token").replayed)
            var elsewhere = job(3); elsewhere.queue = "no-such-queue"
            await #expect(throws: SubmitError.self) {
                try await store.createBatch([elsewhere], requestSHA256: "b", idempotencyKey: nil, auditActor: "submit token")
            }
            #expect(try await store.auditLog().count == 1)

            // An audit row that cannot be written rolls the batch back: they are one transaction.
            try await store.client.query("ALTER TABLE audit_log ADD CONSTRAINT refuse_new_rows CHECK (false) NOT VALID", logger: PG.quiet)
            await #expect(throws: (any Error).self) {
                try await store.createBatch([job(4)], requestSHA256: "c", idempotencyKey: nil, auditActor: "submit token")
            }
            #expect(try await store.count("batches") == 1)
            #expect(try await store.count("jobs") == 2)

            // Cancelling writes its row in its own transaction the same way.
            try await store.client.query("ALTER TABLE audit_log DROP CONSTRAINT refuse_new_rows", logger: PG.quiet)
            let id = try #require(UUID(uuidString: created.batch.id))
            let note = AuditNote(actor: "submit token", action: "batch-cancel", target: "batch \(created.batch.id)")
            #expect(try await store.cancelBatch(id: id, audit: note) == 2)
            let cancelRow = try #require(try await store.auditLog().first)
            #expect(cancelRow.action == "batch-cancel" && cancelRow.count == 2)
        }
    }
}
