import Foundation
import JobCore
import JobStore
import PostgresNIO
import Testing
import TestSupport

/// Text-to-image jobs through real PostgreSQL: the prompt, negative prompt and size go in with the job,
/// come back with a claim, `show` (and so export) and the job list, and the columns refuse what
/// `JobParameters.validate` refuses.
@Suite(.enabled(if: PG.enabled, "ZIPAR_SKIP_PG=1")) struct TextJobTests {
    /// A job of the text model `t`, as zipar-submit builds it from `"PROMPT" negative_prompt="..." label=...`.
    func textJob(_ prompt: String, negative: String? = nil, size: ImageSize? = nil, label: String? = nil) -> JobSpec {
        var p = JobParameters(policy: .zipar(window: 4), seed: 3)
        p.prompt = prompt; p.negativePrompt = negative; p.size = size
        return JobSpec(model: "t", parameters: p, label: label, prompt: "\"\(prompt)\" policy=zipar:4 seed=3")
    }

    @Test func roundTripThroughInsertClaimShowAndList() async throws {
        try await PG.withDatabase { _, store in
            let prompt = #"a dark "ankle" boot, large \ # not a comment\#t(tab) ünïcødé"#
            let spec = textJob(prompt, negative: "blurry", size: 16, label: "boot")
            let id = try await store.submit([spec, job(2)]).ids[0]

            let claimed = try await store.claim(limit: 2, queues: ["default"], models: ["t"], owner: "w", leaseSeconds: 30)
            #expect(claimed.count == 1)
            let back = try #require(try claimed.first?.parameters.get())
            #expect(back == spec.parameters && back.prompt == prompt && back.negativePrompt == "blurry" && back.size == 16)

            let d = try #require(try await store.job(id: id))
            #expect(d.parameters == spec.parameters && d.prompt == spec.prompt && d.label == "boot" && d.className == nil)

            // `show --json` and the JSON beside an exported PNG: the parameters under their prompt keys.
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(d)) as? [String: Any]
            let params = try #require(json?["parameters"] as? [String: Any])
            #expect(params["prompt"] as? String == prompt && params["negative_prompt"] as? String == "blurry")
            #expect(params["size"] as? Int == 16 && params["class"] == nil)
            #expect(try JSONDecoder().decode(JobDetail.self, from: JSONEncoder().encode(d)) == d)

            let list = try await store.jobs(JobFilter())
            #expect(list.first { $0.id == id.text }?.textPrompt == prompt)
            #expect(list.first { $0.id != id.text }?.textPrompt == nil)
            #expect(try await store.jobs(JobFilter(text: "ANKLE")).map(\.id) == [id.text])
        }
    }

    /// A `size=HxW` job (migration 0012: the column holds the size's text) comes back as it went in; a square
    /// size still reads and exports as the integer it always was.
    @Test func nonSquareSizeRoundTrips() async throws {
        try await PG.withDatabase { _, store in
            let spec = textJob("a wide boot", size: ImageSize(rows: 12, columns: 20))
            let id = try await store.submit([spec]).ids[0]
            let claimed = try await store.claim(limit: 1, queues: ["default"], models: ["t"], owner: "w", leaseSeconds: 30)
            #expect(try claimed.first?.parameters.get().size == ImageSize(rows: 12, columns: 20))
            let d = try #require(try await store.job(id: id))
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(d)) as? [String: Any]
            #expect((json?["parameters"] as? [String: Any])?["size"] as? String == "12x20")
            #expect(try JSONDecoder().decode(JobDetail.self, from: JSONEncoder().encode(d)) == d)
            // What SQL can check of a row written past validate: each side 1...256.
            for bad in [ImageSize(rows: 12, columns: 0), ImageSize(rows: 12, columns: 257), ImageSize(rows: 0, columns: 20)] {
                await #expect(throws: PSQLError.self, "\(bad)") { try await store.submit([textJob("a boot", size: bad)]) }
            }
        }
    }

    @Test func classJobsReadBackWithoutText() async throws {
        try await PG.withDatabase { _, store in
            let id = try await store.submit([job(4)]).ids[0]
            let d = try #require(try await store.job(id: id))
            #expect(d.parameters == job(4).parameters && d.parameters?.prompt == nil && d.parameters?.size == nil)
            let params = try JSONSerialization.jsonObject(with: JSONEncoder().encode(d)) as? [String: Any]
            #expect((params?["parameters"] as? [String: Any])?["prompt"] is NSNull)
        }
    }

    /// The resubmission check compares the whole parameters: the same key with another prompt is refused.
    @Test func idempotencyKeyCoversThePrompt() async throws {
        try await PG.withDatabase { _, store in
            let first = try await store.submit([textJob("a bag")], idempotencyKey: "k")
            #expect(try await store.submit([textJob("a bag")], idempotencyKey: "k").ids == first.ids)
            await #expect(throws: SubmitError.self) { try await store.submit([textJob("a coat")], idempotencyKey: "k") }
        }
    }

    /// A row written past `validate` (by hand, by an older client) still cannot hold what the rules refuse.
    @Test(arguments: [("two\nlines", nil as String?, nil as Int?), ("", nil, nil),
                      (String(repeating: "x", count: 2001), nil, nil), ("ok", "bell\u{7}", nil), ("ok", nil, 0), ("ok", nil, 257)])
    func columnsCheckWhatSQLCan(prompt: String, negative: String?, size: Int?) async throws {
        try await PG.withDatabase { _, store in
            await #expect(throws: PSQLError.self) {
                try await store.submit([textJob(prompt, negative: negative, size: size.map { ImageSize(side: $0) })])
            }
            var orphan = textJob("ok")
            orphan.parameters.prompt = nil; orphan.parameters.negativePrompt = "blurry"
            await #expect(throws: PSQLError.self) { try await store.submit([orphan]) }
            let rows = try await store.count("jobs")
            #expect(rows == 0)
        }
    }
}
