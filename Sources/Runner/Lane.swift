import Foundation
import JobCore
import JobStore
import Logging

/// Claim -> decode -> render -> write for one model. `run` loops over five phases; each is a method below.
/// Finished token grids are rendered (VQ decode, PNG) on the executor's render queue while the next passes
/// run. The loop's own state (`decoding`, `toWrite`, ...) is touched only by the lane's task; what the
/// heartbeat and render queues share with it (`leases`, `stepStarted`, `rendering`, `rendered`, `lost`)
/// is behind locks.
final class Lane: @unchecked Sendable {
    let box: ExecutorBox
    let queue: any JobQueue
    let options: WorkerOptions
    let logger: Logger
    let counters: Locked<WorkerCounters>
    /// Jobs this lane holds a lease on: in the executor, or finished and waiting to be written.
    let leases = Locked(LeaseBook())
    /// When the pass in progress started (nil between passes).
    let stepStarted = Locked<Date?>(nil)
    /// Jobs handed to the render queue, with the time their render started (nil while waiting).
    let rendering = Locked([UUID: Date?]())
    /// Renders finished since the loop last looked.
    private let rendered = Locked([(UUID, Result<JobOutput, JobError>)]())
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
    /// Renders that failed in a row. A model that breaks after loading (a file changed under it) fails
    /// every image: after `brokenAfter` in a row the lane stops claiming, so it fails at most the jobs it
    /// already held instead of the whole queue.
    private var failedRenders = 0
    static let brokenAfter = 3

    init(box: ExecutorBox, queue: any JobQueue, options: WorkerOptions, counters: Locked<WorkerCounters>, logger: Logger) {
        self.box = box; self.queue = queue; self.options = options; self.counters = counters
        var l = logger
        l[metadataKey: "model"] = "\(box.model)"
        self.logger = l
    }

    func markLost(_ job: ClaimedJob) { lost.withLock { _ = $0.insert(job.leaseToken) } }

    func run(stop: StopSignal, doorbell: Doorbell) async {
        while true {
            options.observer?.inFlight(model: box.model, count: leases.current.held.count)
            collectRendered()
            await writeFinished()
            await dropLostJobs()
            if let stoppedAt = stop.setAt, await windDown(stoppedAt: stoppedAt) { return }
            if failedRenders >= Self.brokenAfter && decoding.isEmpty && toWrite.isEmpty && rendering.current.isEmpty {
                counters.withLock { $0.brokenModels += 1 }
                return
            }
            let claimed = stop.isSet ? 0 : await claimJobs()
            if !decoding.isEmpty {
                await decodePass()
            } else if !toWrite.isEmpty || !rendering.current.isEmpty {
                try? await Task.sleep(nanoseconds: 20_000_000)
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
                    options.observer?.jobCompleted(model: box.model, output: output)
                    logger.info("job done", metadata: ["job": "\(job.id.text)", "passes": "\(output.passes)",
                                                       "ntp_passes": "\(output.ntpPasses)",
                                                       "decode_ms": "\(Int(output.decodeSeconds * 1000))"])
                case .failure(let error):
                    let outcome = try await queue.fail(job, error: error.message, permanent: error.permanent,
                                                       worker: options.id, backoff: nil)
                    counters.withLock { $0.failed += 1 }
                    options.observer?.jobFailed(model: box.model, permanent: error.permanent)
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
        for job in leases.current.held.values where gone.contains(job.leaseToken) && decoding.contains(job.id) {
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
    private func windDown(stoppedAt: Date) async -> Bool {
        if deadline == nil {
            deadline = stoppedAt.addingTimeInterval(options.graceSeconds)
            logger.info("stopping: finishing jobs in flight", metadata: ["in_flight": "\(decoding.count)",
                                                                        "grace_s": "\(options.graceSeconds)"])
        }
        if decoding.isEmpty && toWrite.isEmpty && rendering.current.isEmpty { return true }
        guard let deadline, Date() >= deadline else { return false }
        // The leases stay for the worker's hand-back (`Worker.handBack`), which is bounded in time; the
        // cancels are not awaited, since the executor may still be inside a long pass.
        let ids = decoding
        decoding.removeAll()
        let box = self.box
        Task { for id in ids { await box.run { $0.cancel(id) } } }
        logger.warning("grace period over: leaving jobs in flight to the hand-back", metadata: ["in_flight": "\(ids.count)",
                                                                                            "unwritten": "\(toWrite.count)"])
        return true
    }

    /// Takes every lease this lane still holds, for the worker to hand back. A render or write still running
    /// finds its lease gone (the token no longer matches once released).
    /// The book is closed from then on: a claim that returns later hands its jobs straight back.
    func takeLeases() -> [ClaimedJob] {
        leases.withLock { l in let held = Array(l.held.values); l.held.removeAll(); l.closed = true; return held }
    }

    // MARK: 4. claim

    /// Fills free places (continuous batching: a finished job's place goes to a new one). Returns how many
    /// jobs were claimed.
    private func claimJobs() async -> Int {
        // Images waiting to be rendered count against the batch too, so a slow decoder holds at most
        // `capacity` finished grids and the lane does not claim work it cannot finish.
        let free = box.capacity - decoding.count - rendering.current.count
        guard free > 0 && Date() >= dbRetryAt && failedRenders < Self.brokenAfter else { return 0 }
        let jobs: [ClaimedJob]
        do {
            jobs = try await queue.claim(limit: free, queues: options.queues, models: [box.model],
                                         owner: options.id, leaseSeconds: options.leaseSeconds)
        } catch {
            logger.warning("claim failed, database unavailable?", metadata: ["error": "\(describeError(error))"])
            dbRetryAt = Date().addingTimeInterval(1)
            return 0
        }
        // Every lease goes into the book before the first job starts, so a hand-back taken while the
        // jobs are still being started (a busy executor) finds all of them, not just those started.
        let accepted = leases.withLock { book -> Bool in
            guard !book.closed else { return false }
            for job in jobs { book.held[job.id] = job }
            return true
        }
        guard accepted else {
            if !jobs.isEmpty { _ = try? await queue.release(jobs) }
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
        // Handed back while the jobs before it were starting: the worker released it already.
        guard leases.current.held[job.id]?.leaseToken == job.leaseToken else { return }
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

    /// One forward pass over the jobs in flight; finished ones go to the render queue (errors straight
    /// to `toWrite`).
    private func decodePass() async {
        stepStarted.withLock { $0 = Date() }
        let finished = await box.run { $0.step() }
        stepStarted.withLock { $0 = nil }
        for (id, result) in finished where decoding.contains(id) {
            decoding.remove(id)
            guard let job = leases.current.held[id] else { continue }
            switch result {
            case .failure(let e): toWrite.append((job, .failure(e)))
            case .success(let work): startRender(id, work)
            }
        }
    }

    private func startRender(_ id: UUID, _ work: ImageWork) {
        rendering.withLock { $0[id] = .some(nil) }
        box.render { [rendering, rendered] in
            rendering.withLock { $0[id] = Date() }
            let result = work.render()
            rendered.withLock { $0.append((id, result)) }
            rendering.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    /// Moves finished renders to `toWrite` (a job whose lease went meanwhile is dropped).
    private func collectRendered() {
        let done = rendered.withLock { r -> [(UUID, Result<JobOutput, JobError>)] in let v = r; r.removeAll(); return v }
        for (id, result) in done {
            if case .failure = result { failedRenders += 1 } else { failedRenders = 0 }
            if failedRenders == Self.brokenAfter {
                logger.critical("model looks broken: \(Self.brokenAfter) images in a row failed; no longer claiming its jobs")
            }
            if let job = leases.current.held[id] { toWrite.append((job, result)) }
        }
    }

    /// Draining: true when no runnable or running job is left for this lane's model and queues. Jobs
    /// that wait in a paused queue are not "drained": the count goes into `pausedQueued` and the log.
    private func isDrained() async -> Bool {
        guard Date() >= dbRetryAt else { return false }
        do {
            if try await queue.pendingCount(queues: options.queues, models: [box.model]) == 0 {
                let paused = try await queue.pausedQueuedCount(queues: options.queues, models: [box.model])
                if paused > 0 {
                    counters.withLock { $0.pausedQueued += paused }
                    logger.warning("queue paused with \(paused) queued: nothing runnable left, stopping")
                } else {
                    logger.info("queue drained")
                }
                return true
            }
        } catch {
            dbRetryAt = Date().addingTimeInterval(1)
        }
        return false
    }

    /// Forgets a lease, unless the job was claimed again since (a newer token).
    private func dropLease(_ job: ClaimedJob) {
        leases.withLock { if $0.held[job.id]?.leaseToken == job.leaseToken { $0.held.removeValue(forKey: job.id) } }
    }
}

/// The leases a lane holds. `closed` once the worker took them for its hand-back.
struct LeaseBook {
    var held: [UUID: ClaimedJob] = [:]
    var closed = false
}
