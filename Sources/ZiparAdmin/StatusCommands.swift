import ArgumentParser
import CLISupport
import Foundation
import JobCore
import JobStore

struct Stats: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(abstract: "Jobs per queue and state, throughput, latency percentiles, passes saved against NTP, live workers.")
    @Option(help: "Throughput window in minutes (at least 1).")
    var window = 10
    @Option(name: .customLong("results-window"), help: "Latencies, stages and passes over the jobs finished in the last this many minutes (default a day; 0 = all history, which reads every result).")
    var resultsWindow = 1440
    @Option(name: .customLong("live-seconds"), help: .hidden)
    var deprecatedLiveSeconds: Double?
    @OptionGroup var common: Common

    func validate() throws {
        if window < 1 { throw ValidationError("--window must be at least 1 (minutes)") }
        if resultsWindow < 0 { throw ValidationError("--results-window must be 0 (all history) or more minutes") }
    }

    func run() async throws {
        if deprecatedLiveSeconds != nil {
            say("\(toolName): warning: --live-seconds is deprecated and ignored: a worker is live while its heartbeat is younger than its lease")
        }
        let (window, resultsWindow) = (self.window, self.resultsWindow > 0 ? self.resultsWindow : nil)
        let r = try await withDatabase { try await $0.stats(windowMinutes: window, resultsWindowMinutes: resultsWindow) }
        if common.json { try printJSON(r); return }
        let states = JobState.allCases
        print("queue".padding(toLength: 16, withPad: " ", startingAt: 0) + states.map { $0.rawValue.leftPad(10) }.joined() + "  paused")
        for q in r.queues {
            print(q.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + states.map { String(q.counts[$0] ?? 0).leftPad(10) }.joined() + "  " + (q.paused ? "yes" : "no"))
        }
        print(String(format: "throughput: %.0f jobs finished in the last %d min (%.1f/min); %.1f jobs/min from first start to last finish",
                     r.jobsPerMinuteRecent * Double(r.windowMinutes), r.windowMinutes, r.jobsPerMinuteRecent, r.jobsPerMinuteOverall))
        if let l = r.latencyMs, let d = r.decodeMs {
            print(String(format: "latency (submit to result): p50 %.0f ms  p95 %.0f ms  max %.0f ms", l.p50, l.p95, l.max))
            print(String(format: "decode time:                p50 %.0f ms  p95 %.0f ms  max %.0f ms", d.p50, d.p95, d.max))
        }
        for (name, key) in [("queue wait", "queue"), ("GPT passes", "gpt"), ("VQ decode", "vq"), ("PNG encode", "png")] {
            guard let l = r.stageMs?[key] else { continue }
            print(String(format: "  %@ p50 %.0f ms  p95 %.0f ms  max %.0f ms", name.padding(toLength: 25, withPad: " ", startingAt: 0),
                         l.p50, l.p95, l.max))
        }
        let over = r.resultsWindowMinutes.map { "finished in the last \($0) min" } ?? "all history"
        print(String(format: "results %d (%@): %d forward passes vs %d for NTP (%.1f%% saved)", r.results, over, r.passes, r.ntpPasses,
                     100 * r.passesSaved))
        for u in r.unserved {
            print("warning: \(u.queued) queued job(s) of model \(u.model) in queue \(u.queue): no live worker serves them")
        }
        print("live workers: \(r.liveWorkers.count)")
        for w in r.liveWorkers {
            print("  \(w.id)  running \(w.running)  done \(w.jobsDone)  last heartbeat " + String(format: "%.1fs ago", w.heartbeatAge))
        }
    }
}

struct Workers: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists workers: live (heartbeat younger than its lease), silent (crashed or hung) or stopped.")
    @OptionGroup var common: Common
    func run() async throws {
        let ws = try await withDatabase { try await $0.workers() }
        if common.json { try printJSON(ws); return }
        for w in ws {
            print("\(w.id)  \(w.liveness.rawValue)  models \(w.models.joined(separator: ","))  queues \(w.queues.joined(separator: ","))  "
                  + "running \(w.running)  done \(w.jobsDone)  heartbeat " + String(format: "%.1fs ago (lease %.0fs)", w.heartbeatAge, w.leaseSeconds))
        }
        if ws.isEmpty { say("no workers registered") }
    }
}
