import Decoding
import Foundation
import JobStore
import Logging
import Testing

/// Tests run against a real PostgreSQL named by DATABASE_URL or PGHOST & co (start one with
/// `eval "$(scripts/pg-start.sh)"`). Each test gets a fresh database. Without a server they fail,
/// unless ZIPAR_SKIP_PG=1.
enum PG {
    static let env = ProcessInfo.processInfo.environment
    static var enabled: Bool { env["ZIPAR_SKIP_PG"] != "1" }
    static var configured: Bool { (env["DATABASE_URL"] ?? "") != "" || (env["PGHOST"] ?? "") != "" }

    static let migrationsDir: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations").path

    struct NotConfigured: Error, CustomStringConvertible {
        var description: String {
            "no PostgreSQL configured: run `eval \"$(scripts/pg-start.sh)\"` (or set DATABASE_URL / PGHOST), or set ZIPAR_SKIP_PG=1 to skip"
        }
    }

    static func baseConfig() throws -> DatabaseConfig {
        guard configured else { throw NotConfigured() }
        return try DatabaseConfig.fromEnvironment()
    }

    /// A fresh, migrated (unless `migrate: false`) database for one test; dropped afterwards.
    static func withDatabase<R: Sendable>(migrate: Bool = true, _ body: @Sendable (DatabaseConfig, JobStore) async throws -> R) async throws -> R {
        let base = try baseConfig()
        let name = "zt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await JobStore.withStore(base) { try await $0.createDatabase(name) }
        let config = base.with(database: name)
        do {
            let r = try await JobStore.withStore(config, logger: quiet) { store in
                if migrate { try await store.migrate(try Migration.load(directory: migrationsDir)) }
                return try await body(config, store)
            }
            try? await JobStore.withStore(base) { try await $0.dropDatabase(name) }
            return r
        } catch {
            try? await JobStore.withStore(base) { try await $0.dropDatabase(name) }
            throw error
        }
    }

    static let quiet: Logger = {
        var l = Logger(label: "test")
        l.logLevel = .critical
        return l
    }()
}

func job(_ cls: Int = 0, queue: String = "default", model: String = "m", priority: Int = 0, maxAttempts: Int = 5,
         policy: String = "ntp") -> JobSpec {
    JobSpec(queue: queue, model: model, classLabel: cls, policy: policy, seed: 1, priority: priority, maxAttempts: maxAttempts)
}

let tinyOutput = JobOutput(png: [0x89, 0x50, 0x4e, 0x47], width: 1, height: 1, passes: 3, ntpPasses: 16, tokens: 16,
                           queries: 16, decodeSeconds: 0.01, passSeconds: [0.001, 0.002, 0.003])

@Sendable func checkPolicy(_ text: String, _ grid: Int) throws -> String {
    let p = try WindowPolicy(parsing: text)
    try p.validate(grid: grid)
    return p.description
}

let fashion = ModelSpec(name: "fashion-16", grid: 16, numClasses: 10,
                        classNames: ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"])

/// A fake decoder: each job takes `passes` steps and yields a tiny output. Not a database mock:
/// it stands in for the network so the worker's job-store logic runs against the real database.
final class FakeExecutor: JobExecutor {
    let model: String
    let capacity: Int
    let passes: Int
    let stepSleep: Double
    private var left: [UUID: Int] = [:]
    init(model: String, capacity: Int = 4, passes: Int = 3, stepSleep: Double = 0.002) {
        self.model = model; self.capacity = capacity; self.passes = passes; self.stepSleep = stepSleep
    }
    func start(_ job: ClaimedJob) throws {
        if job.classLabel >= 10 { throw JobError("unknown class \(job.classLabel)", permanent: true) }
        if left[job.id] != nil { throw JobError("already in flight", permanent: true) }   // as BatchScheduler
        left[job.id] = passes
    }
    func step() -> [(UUID, Result<JobOutput, JobError>)] {
        Thread.sleep(forTimeInterval: stepSleep)
        var out: [(UUID, Result<JobOutput, JobError>)] = []
        for (id, n) in left {
            if n <= 1 { left[id] = nil; out.append((id, .success(tinyOutput))) } else { left[id] = n - 1 }
        }
        return out
    }
    func cancel(_ id: UUID) { left[id] = nil }
}

/// A model that did not load.
final class BrokenFake: JobExecutor {
    let model: String
    let capacity = 2
    init(model: String) { self.model = model }
    func start(_ job: ClaimedJob) throws { throw JobError("model \(model) failed to load: missing gpt.safetensors", permanent: false) }
    func step() -> [(UUID, Result<JobOutput, JobError>)] { [] }
    func cancel(_ id: UUID) {}
}
