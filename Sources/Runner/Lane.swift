import Foundation
import JobStore
import Logging

/// Claim -> decode -> write for one model. `run` loops over five phases; each is a method below. The
/// loop's own state (`decoding`, `toWrite`, ...) is touched only by the lane's task; what the heartbeat
/// task shares with it (`leases`, `stepStarted`, `lost`) is behind locks.
final class Lane: @unchecked Sendable {
    let box: ExecutorBox
    let queue: any JobQueue
    let options: WorkerOptions
    let logger: Logger
    let counters: Locked<WorkerCounters>
    /// Jobs this lane holds a lease on: in the executor, or finished and waiting to be written.
    let leases = Locked([UUID: ClaimedJob]())
    /// When the pass in progress started (nil between passes).
    let stepStarted = Locked<Date?>(nil)
    /// Lease tokens the heartbeat found gone.
    private let lost = Locked(Set<UUID>())

    /// Jobs in the executor.
    private var decoding = Set<UUID>()
    /// Finished jobs kept until the database takes their result or refuses the lease.
    private var toWrite: [(ClaimedJob, Result<JobOutput, JobError>)] = []
    /// After a database error: no reads or writes before this.
    private var dbRetryAt = Date.distantPast
    /// Set when a stop was asked for: jobs still in flight then are handed back.
    private var deadline: Date?

    init(box: ExecutorBox, queue: any JobQueue, options: WorkerOptions, counters: Locked<WorkerCounters>, logger: Logger) {
        self.box = box; self.queue = queue; self.options = options; self.counters = counters
        var l = logger
        l[metadataKey: "model"] = "\(box.model)"
        self.logger = l
    }

    func markLost(_ job: ClaimedJob) { lost.withLock { _ = $0.insert(job.leaseToken) } }

    func run(stop: StopSignal, doorbell: Doorbell) async {
        while true {
            await writeFinished()
            await dropLostJobs()
            if stop.isSet, await windDown() { return }
            let claimed = stop.isSet ? 0 : await claimJobs()
            if !decoding.isEmpty {
                await decodePass()
            } else if !toWrite.isEmpty {
                try? await Task.sleep(nanoseconds: 200_000_000)
            } else if claimed == 0 {
                if options.drain && !stop.isSet, await isDrained() { return }
                await doorbell.wait(seconds: options.pollSeconds, stop: stop)
            }
        }
    }

    // MARK: 1. write results

    /// Writes finished jobs; keeps those the database could not take, for a later try.
    private func writeFinished() async {
        guard !toWrite.isEmpty && Date() >= dbRetryAt else { return }
        var keep: [(ClaimedJob, Result<JobOutput, JobError>)] = []
        for (job, result) in toWrite {
            do {
                switch result {
                case .success(let output):
                    try await queue.complete(job, output: output, worker: options.id)
                    counters.withLock { $0.completed += 1 }
                    logger.info("job done", metadata: ["job": "\(job.id.text)", "passes": "\(output.passes)",
                                                       "ntp_passes": "\(output.ntpPasses)",
                                                       "decode_ms": "\(Int(output.decodeSeconds * 1000))"])
                case .failure(let error):
                    let outcome = try await queue.fail(job, error: error.message, permanent: error.permanent,
                                                       worker: options.id, backoff: nil)
                    counters.withLock { $0.failed += 1 }
                    logger.error("job failed", metadata: ["job": "\(job.id.text)", "error": "\(error.message)",
                                                          "outcome": "\(outcome)"])
                }
                dropLease(job)
            } catch let e as LeaseLost {
                counters.withLock { $0.leaseLost += 1 }
                logger.warning("lease lost, result discarded", metadata: ["job": "\(e.jobID.text)"])
                dropLease(job)
            } catch {
                logger.warning("cannot write result, will retry", metadata: ["job": "\(job.id.text)",
                                                                            "error": "\(describeError(error))"])
                keep.append((job, result))
                dbRetryAt = Date().addingTimeInterval(1)
            }
        }
        toWrite = keep
    }

    // MARK: 2. drop lost leases

    /// Stops decoding jobs whose lease the heartbeat found gone (rescued, cancelled, finished elsewhere).
    private func dropLostJobs() async {
        let gone = lost.withLock { s -> Set<UUID> in let v = s; s.removeAll(); return v }
        guard !gone.isEmpty else { return }
        for job in leases.current.values where gone.contains(job.leaseToken) && decoding.contains(job.id) {
            let id = job.id
            decoding.remove(id)
            dropLease(job)
            await box.run { $0.cancel(id) }
            counters.withLock { $0.leaseLost += 1 }
            logger.warning("lease lost, job dropped", metadata: ["job": "\(id.text)"])
        }
    }

    // MARK: 3. stopping

    /// After a stop request: finish what is in flight within the grace period, then hand the rest back.
    /// Returns true when the lane is done.
    private func windDown() async -> Bool {
        if deadline == nil {
            deadline = Date().addingTimeInterval(options.graceSeconds)
            logger.info("stopping: finishing jobs in flight", metadata: ["in_flight": "\(decoding.count)",
                                                                        "grace_s": "\(options.graceSeconds)"])
        }
        if decoding.isEmpty && toWrite.isEmpty { return true }
        guard let deadline, Date() >= deadline else { return false }
        let held = leases.current.values.filter { decoding.contains($0.id) }
        for job in held { await box.run { $0.cancel(job.id) } }
        decoding.removeAll()
        let n = (try? await queue.release(Array(held))) ?? 0
        counters.withLock { $0.released += n }
        logger.warning("grace period over: released jobs", metadata: ["released": "\(n)", "unwritten": "\(toWrite.count)"])
        return true
    }

    // MARK: 4. claim

    /// Fills free places (continuous batching: a finished job's place goes to a new one). Returns how many
    /// jobs were claimed.
    private func claimJobs() async -> Int {
        let free = box.capacity - decoding.count
        guard free > 0 && Date() >= dbRetryAt else { return 0 }
        let jobs: [ClaimedJob]
        do {
            jobs = try await queue.claim(limit: free, queues: options.queues, models: [box.model],
                                         owner: options.id, leaseSeconds: options.leaseSeconds)
        } catch {
            logger.warning("claim failed, database unavailable?", metadata: ["error": "\(describeError(error))"])
            dbRetryAt = Date().addingTimeInterval(1)
            return 0
        }
        counters.withLock { $0.claimed += jobs.count }
        for job in jobs { await start(job) }
        return jobs.count
    }

    private func start(_ job: ClaimedJob) async {
        if decoding.contains(job.id) {
            // Our old lease ran out (a database outage) and we won the job back: the old decode is
            // void, start over under the new lease.
            decoding.remove(job.id)
            await box.run { $0.cancel(job.id) }
            logger.warning("re-claimed a job whose lease had expired; restarting it", metadata: ["job": "\(job.id.text)"])
        }
        toWrite.removeAll { $0.0.id == job.id }
        leases.withLock { $0[job.id] = job }
        let refused: JobError? = await box.run { ex in
            do { try ex.start(job); return nil } catch let e as JobError { return e } catch {
                return JobError("\(error)", permanent: true)
            }
        }
        if let refused {
            toWrite.append((job, .failure(refused)))
            return
        }
        decoding.insert(job.id)
        let policy = (try? job.parameters.get().policyText) ?? "?"
        logger.info("job started", metadata: ["job": "\(job.id.text)", "policy": "\(policy)", "attempt": "\(job.attempt)"])
    }

    // MARK: 5. decode

    /// One forward pass over the jobs in flight; finished ones move to `toWrite`.
    private func decodePass() async {
        stepStarted.withLock { $0 = Date() }
        let finished = await box.run { $0.step() }
        stepStarted.withLock { $0 = nil }
        for (id, result) in finished where decoding.contains(id) {
            decoding.remove(id)
            if let job = leases.current[id] { toWrite.append((job, result)) }
        }
    }

    /// Draining: true when no queued or running job is left for this lane's model and queues.
    private func isDrained() async -> Bool {
        guard Date() >= dbRetryAt else { return false }
        do {
            if try await queue.pendingCount(queues: options.queues, models: [box.model]) == 0 {
                logger.info("queue drained")
                return true
            }
        } catch {
            dbRetryAt = Date().addingTimeInterval(1)
        }
        return false
    }

    /// Forgets a lease, unless the job was claimed again since (a newer token).
    private func dropLease(_ job: ClaimedJob) {
        leases.withLock { if $0[job.id]?.leaseToken == job.leaseToken { $0.removeValue(forKey: job.id) } }
    }
}
