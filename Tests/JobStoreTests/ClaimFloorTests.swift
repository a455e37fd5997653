import Foundation
import JobCore
import JobStore
import PostgresNIO
import Testing
import TestSupport

/// Issue 24 (claim p99): claims start reading the runnable jobs at a floor (migration 0018) instead of
/// walking the dead entries of every job claimed before. The floor may only ever be at or below a queued
/// job, whatever queued it and whether or not it is claimable yet; these tests move it up by hand (claims
/// do it one time in 20) and check that every way a job becomes queued below it is still claimed, in order.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct ClaimFloorTests {
    static func advance(_ store: JobStore) async throws -> Bool {
        for try await moved in try await store.client.query("SELECT zipar_claim_floor_advance()", logger: PG.quiet)
            .decode(Bool.self) { return moved }
        return false
    }

    /// Advances the floor and checks it now sits at job `id` (claims also advance it, one in 20, so whether
    /// this call is the one that moved it is left open).
    static func advance(_ store: JobStore, to id: UUID) async throws {
        _ = try await advance(store)
        let at = try await store.client.query("""
            SELECT f.neg_priority = -(j.priority::bigint) AND f.seq = j.seq FROM claim_floor f, jobs j WHERE j.id = \(id)
            """, logger: PG.quiet).decode(Bool.self)
        for try await here in at { #expect(here, "the floor is at the job \(id)"); return }
        Issue.record("no job \(id)")
    }

    static func claimOne(_ store: JobStore, queue: String = "default") async throws -> ClaimedJob? {
        try await store.claim(limit: 1, queues: [queue], models: ["m"], owner: "w", leaseSeconds: 30).first
    }

    @Test func aJobRequeuedBehindTheFloorIsClaimedFirst() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2), job(3)]).ids
            let first = try #require(try await Self.claimOne(store))
            #expect(first.id == ids[0])
            try await Self.advance(store, to: ids[1])
            // Released (a worker shutting down) and rescued (a lease that ran out) jobs go back with their
            // old place in line, behind the floor.
            #expect(try await store.release([first]) == 1)
            #expect(try await Self.claimOne(store)?.id == ids[0])
            let second = try #require(try await Self.claimOne(store))
            #expect(second.id == ids[1])
            try await Self.advance(store, to: ids[2])
            try await store.client.query("UPDATE jobs SET lease_expires_at = now() - interval '1 hour' WHERE id = \(second.id)",
                                         logger: PG.quiet)
            #expect(try await store.rescueExpired(graceSeconds: 0).map(\.0) == [second.id])
            #expect(try await Self.claimOne(store)?.id == ids[1])
            #expect(try await Self.claimOne(store)?.id == ids[2])
            #expect(try await Self.claimOne(store) == nil)
        }
    }

    @Test func aHigherPrioritySubmittedAfterAnAdvanceRunsFirst() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2), job(3)]).ids
            _ = try await Self.claimOne(store)
            try await Self.advance(store, to: ids[1])
            let urgent = try await store.submit([job(4, priority: 5)]).ids[0]
            let lowest = try await store.submit([job(5, priority: Int(Int32.min))]).ids[0]
            #expect(try await Self.claimOne(store)?.id == urgent)
            #expect(try await Self.claimOne(store)?.id == ids[1])
            #expect(try await Self.claimOne(store)?.id == ids[2])
            #expect(try await Self.claimOne(store)?.id == lowest)
        }
    }

    /// A job not yet due, a job of a paused queue and a job of another model are queued, not claimable: an
    /// advance stops at them, so they are claimed once they become claimable.
    @Test func theFloorStopsAtJobsThatAreNotClaimableYet() async throws {
        try await PG.withDatabase { _, store in
            var later = job(1)
            later.runAfter = Date().addingTimeInterval(7200)
            let laterID = try await store.submit([later]).ids[0]
            let pausedID = try await store.submit([job(2, queue: "slow")], createQueues: true).ids[0]
            try await store.setPaused(queue: "slow", true)
            let otherModel = try await store.submit([job(3, model: "other")]).ids[0]
            let now = try await store.submit([job(4)]).ids[0]
            #expect(try await Self.claimOne(store)?.id == now)
            try await Self.advance(store, to: laterID)
            try await store.client.query("UPDATE jobs SET run_after = now() WHERE id = \(laterID)", logger: PG.quiet)
            #expect(try await Self.claimOne(store)?.id == laterID)
            try await Self.advance(store, to: pausedID)
            try await store.setPaused(queue: "slow", false)
            #expect(try await Self.claimOne(store, queue: "slow")?.id == pausedID)
            let other = try await store.claim(limit: 1, queues: ["default"], models: ["other"], owner: "w", leaseSeconds: 30)
            #expect(other.map(\.id) == [otherModel])
        }
    }

    /// With nothing queued the floor goes past the end; the next submission brings it back.
    @Test func anEmptyQueueMovesTheFloorPastTheEndAndASubmissionBringsItBack() async throws {
        try await PG.withDatabase { _, store in
            _ = try await store.submit([job(1)])
            _ = try await Self.claimOne(store)
            _ = try await Self.advance(store)
            let past = try await store.client.query("SELECT neg_priority FROM claim_floor", logger: PG.quiet).decode(Int64.self)
            for try await np in past { #expect(np == Int64.max, "past the end") }
            #expect(try await Self.claimOne(store) == nil)
            let id = try await store.submit([job(2)]).ids[0]
            #expect(try await Self.claimOne(store)?.id == id)
        }
    }

    /// An advance never waits, and never moves while a transaction that queued a job is open: that job is
    /// not visible to the advance yet, and if it sits at the floor its trigger had nothing to lower.
    @Test func noAdvanceWhileAJobIsBeingQueued() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2), job(3)]).ids
            _ = try await Self.claimOne(store)
            _ = try await Self.claimOne(store)
            try await Self.advance(store, to: ids[2])
            let third = try #require(try await Self.claimOne(store))
            #expect(third.id == ids[2])
            try await store.client.withConnection { conn in
                try await conn.query("BEGIN", logger: PG.quiet)
                try await conn.query("""
                    UPDATE jobs SET state = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = \(third.id)
                    """, logger: PG.quiet)
                #expect(try await Self.advance(store) == false, "past the end would lose the job being requeued")
                try await conn.query("COMMIT", logger: PG.quiet)
            }
            #expect(try await Self.claimOne(store)?.id == ids[2])
        }
    }

    /// The same for a submission still open: its jobs are past the floor (nothing to lower), but an advance
    /// that ran now would see no queued job and go past them.
    @Test func noAdvanceWhileASubmissionIsOpen() async throws {
        try await PG.withDatabase { _, store in
            let ids = try await store.submit([job(1), job(2)]).ids
            _ = try await Self.claimOne(store)
            try await Self.advance(store, to: ids[1])
            try await store.client.withConnection { conn in
                try await conn.query("BEGIN", logger: PG.quiet)
                try await conn.query("""
                    INSERT INTO jobs (queue, model, class_label, policy, seed) VALUES ('default', 'm', 3, 'ntp', 1)
                    """, logger: PG.quiet)
                #expect(try await Self.claimOne(store)?.id == ids[1])
                #expect(try await Self.advance(store) == false, "past the end would lose the job being submitted")
                try await conn.query("COMMIT", logger: PG.quiet)
            }
            let last = try await Self.claimOne(store)
            #expect(last != nil && last?.id != ids[0] && last?.id != ids[1])
        }
    }
}
