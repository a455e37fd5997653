import ArgumentParser
import CLISupport
import Foundation
import JobCore
import JobStore

struct Queues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists, creates and deletes queues (jobs go only into queues that exist).",
        subcommands: [ListQueues.self, CreateQueue.self, DeleteQueue.self], defaultSubcommand: ListQueues.self)
}

struct ListQueues: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Queues with their job counts and paused flag.")
    @OptionGroup var common: Common
    func run() async throws {
        let qs = try await withDatabase { try await $0.queues() }
        if common.json { try printJSON(qs); return }
        for q in qs {
            let counts = JobState.allCases.compactMap { s in q.counts[s].map { "\(s.rawValue) \($0)" } }
            print("\(q.name.terminalSafe)\(q.paused ? " (paused)" : "")  " + (counts.isEmpty ? "empty" : counts.joined(separator: "  ")))
        }
    }
}

struct CreateQueue: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Creates a queue (exit 0 also when it exists).")
    @Argument(help: "Queue name (1-100 characters).") var name: String
    @OptionGroup var common: Common
    func validate() throws {
        if let problem = QueueName.problem(name) { throw ValidationError(problem) }
    }
    func run() async throws {
        let name = self.name
        let created = try await withDatabase { try await $0.createQueue(name) }
        if common.json { try printJSON(QueueCreated(queue: name, created: created)); return }
        print(created ? "created queue \(name)" : "queue \(name) already exists")
    }
}

struct DeleteQueue: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Deletes an empty queue (or, with --with-jobs, the queue and all its jobs and results).")
    @Argument(help: "Queue name.") var name: String
    @Flag(name: .customLong("with-jobs"), help: "Also delete the queue's jobs and their results.") var withJobs = false
    @OptionGroup var common: Common
    func run() async throws {
        let (name, withJobs) = (self.name, self.withJobs)
        let jobs = try await withDatabase { try await $0.deleteQueue(name, withJobs: withJobs) }
        if common.json { try printJSON(QueueDeleted(queue: name, deletedJobs: jobs)); return }
        print("deleted queue \(name)" + (jobs > 0 ? " and its \(jobs) job(s)" : ""))
    }
}

struct Pause: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(abstract: "Pauses a queue: workers stop claiming its jobs (running ones finish).")
    @Argument(help: "Queue name.") var queue: String
    @OptionGroup var common: Common
    func run() async throws { try await setPaused(queue, true, json: common.json) }
}

struct Resume: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(abstract: "Resumes a paused queue.")
    @Argument(help: "Queue name.") var queue: String
    @OptionGroup var common: Common
    func run() async throws { try await setPaused(queue, false, json: common.json) }
}

/// Pause and resume differ only in the flag; an unknown queue is an error, never created.
func setPaused(_ queue: String, _ paused: Bool, json: Bool) async throws {
    try await withDatabase { try await $0.setPaused(queue: queue, paused) }
    if json { try printJSON(QueuePaused(queue: queue, paused: paused)); return }
    print("\(paused ? "paused" : "resumed") \(queue)")
}

// The --json answers of the queue commands: booleans and counts as JSON booleans and numbers (the
// dashboard API's pause answer has the same shape as QueuePaused).
struct QueueCreated: Encodable { var queue: String; var created: Bool }
struct QueueDeleted: Encodable { var queue: String; var deletedJobs: Int }
struct QueuePaused: Encodable { var queue: String; var paused: Bool }
