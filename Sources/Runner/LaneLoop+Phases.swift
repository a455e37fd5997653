import Foundation
import JobCore
import JobStore
import Logging

/// The steps of a lane's turn (`LaneLoop.run`), and what it does with each pass's and render's result.
extension LaneLoop {
    // MARK: write results

    /// Writes finished jobs; keeps those the database could not take, for a later try.
    mutating func writeFinished() async {
        guard !toWrite.isEmpty && Date() >= dbRetryAt else { return }
        let (options, model) = (lane.options, self.model)
        var keep: [(ClaimedJob, Result<JobOutput, JobError>)] = []
        for (n, (job, result)) in toWrite.enumerated() {
            do {
                switch result {
                case .success(let output):
                    try await lane.database { try await $0.complete(job, output: output, worker: options.id) }
                    lane.counters.withLock { $0.completed += 1 }
                    options.observer?.jobCompleted(model: model, output: output)
                    logger.info("job done", metadata: job.logMetadata.merging([
                        "passes": .stringConvertible(output.passes), "ntp_passes": .stringConvertible(output.ntpPasses),
                        "decode_ms": .stringConvertible(Int(output.decodeSeconds * 1000))]) { $1 })
                case .failure(let error):
                    let outcome = try await lane.database {
                        try await $0.fail(job, error: error.message, permanent: error.permanent, worker: options.id, backoff: nil)
                    }
                    lane.counters.withLock { $0.failed += 1 }
                    options.observer?.jobFailed(model: model, permanent: error.permanent)
                    logger.error("job failed", metadata: job.logMetadata.merging([
                        "error": "\(error.message)", "permanent": .stringConvertible(error.permanent)]
                        .merging(outcome.logMetadata) { $1 }) { $1 })
                }
                lane.dropLease(job)
            } catch is CancellationError {
                keep += toWrite[n...]                          // the lane is being left: stop writing
                break
            } catch let e as LeaseLost {
                lane.counters.withLock { $0.leaseLost += 1 }
                logger.warning("lease lost, result discarded", metadata: ["job": "\(e.jobID.text)"])
                lane.dropLease(job)
            } catch {
                logger.warning("cannot write result, will retry", metadata: ["job": "\(job.id.text)",
                                                                            "error": "\(describeError(error))"])
                keep.append((job, result))
                dbRetryAt = Date().addingTimeInterval(1)
            }
        }
        toWrite = keep
    }

    // MARK: drop lost leases

    /// Stops decoding jobs whose lease the heartbeat found gone (rescued, cancelled, finished elsewhere).
    /// Between passes only: the executor is busy during one.
    mutating func dropLostJobs() async {
        guard !lostTokens.isEmpty else { return }
        let gone = lostTokens
        lostTokens.removeAll()
        for job in lane.leases.current.held.values where gone.contains(job.leaseToken) && decoding.contains(job.id) {
            let id = job.id
            decoding.remove(id)
            lane.dropLease(job)
            await lane.engine.run { $0.cancel(id) }
            lane.counters.withLock { $0.leaseLost += 1 }
            logger.warning("lease lost, job dropped", metadata: ["job": "\(id.text)"])
        }
    }

    // MARK: claim

    /// Fills free places (continuous batching: a finished job's place goes to a new one). Returns how many
    /// jobs were claimed. Between passes only.
    mutating func claimJobs() async -> Int {
        // Images waiting to be rendered count against the batch too, so a slow decoder holds at most
        // `capacity` finished grids and the lane does not claim work it cannot finish.
        let free = lane.engine.capacity - decoding.count - renders.count
        guard free > 0 && Date() >= dbRetryAt && failedRenders < Self.brokenAfter else { return 0 }
        let (options, models) = (lane.options, [model])
        let jobs: [ClaimedJob]
        do {
            jobs = try await lane.database {
                try await $0.claim(limit: free, queues: options.queues, models: models, owner: options.id,
                                   leaseSeconds: options.leaseSeconds)
            }
        } catch is CancellationError {
            return 0
        } catch {
            logger.warning("claim failed, database unavailable?", metadata: ["error": "\(describeError(error))"])
            dbRetryAt = Date().addingTimeInterval(1)
            return 0
        }
        // Every lease goes into the book before the first job starts, so a hand-back taken while the
        // jobs are still being started (a busy executor) finds all of them, not just those started.
        let accepted = lane.leases.withLock { book -> Bool in
            guard !book.closed else { return false }
            for job in jobs { book.held[job.id] = job }
            return true
        }
        guard accepted else {
            if !jobs.isEmpty { _ = try? await lane.database { try await $0.release(jobs) } }
            return 0
        }
        lane.counters.withLock { $0.claimed += jobs.count }
        for job in jobs { await start(job) }
        return jobs.count
    }

    private mutating func start(_ job: ClaimedJob) async {
        if decoding.contains(job.id) {
            // Our old lease ran out (a database outage) and we won the job back: the old decode is
            // void, start over under the new lease.
            decoding.remove(job.id)
            await lane.engine.run { $0.cancel(job.id) }
            logger.warning("re-claimed a job whose lease had expired; restarting it", metadata: ["job": "\(job.id.text)"])
        }
        toWrite.removeAll { $0.0.id == job.id }
        // Handed back while the jobs before it were starting: the worker released it already.
        guard lane.leases.current.held[job.id]?.leaseToken == job.leaseToken else { return }
        let refused: JobError? = await lane.engine.run { ex in
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
        logger.info("job started", metadata: job.logMetadata.merging([
            "policy": "\(policy)", "attempt": .stringConvertible(job.attempt)]) { $1 })
    }

    // MARK: decode

    /// Queues one forward pass over the jobs in flight; its result comes back as `.passFinished`.
    mutating func startPass() {
        passRunning = true
        let (stepStarted, inbox) = (lane.stepStarted, lane.inbox)
        lane.engine.enqueue { executor in
            stepStarted.withLock { $0 = Date() }
            let finished = executor.step()
            stepStarted.withLock { $0 = nil }
            inbox.yield(.passFinished(finished))
        }
    }

    /// Finished jobs go to the render queue (errors straight to `toWrite`).
    mutating func passEnded(_ finished: [(UUID, Result<ImageWork, JobError>)]) {
        let held = lane.leases.current.held
        for (id, result) in finished where decoding.contains(id) {
            decoding.remove(id)
            guard let job = held[id] else { continue }
            switch result {
            case .failure(let e): toWrite.append((job, .failure(e)))
            case .success(let work): startRender(id, work)
            }
        }
    }

    // MARK: render

    private mutating func startRender(_ id: UUID, _ work: ImageWork) {
        renders.insert(id)
        let (rendering, inbox) = (lane.rendering, lane.inbox)
        rendering.withLock { $0[id] = .some(nil) }
        lane.engine.render {
            rendering.withLock { $0[id] = Date() }
            let result = work.render()
            rendering.withLock { _ = $0.removeValue(forKey: id) }
            inbox.yield(.rendered(id, result))
        }
    }

    /// A render's result goes to `toWrite` (a job whose lease went meanwhile is dropped).
    mutating func renderEnded(_ id: UUID, _ result: Result<JobOutput, JobError>) {
        if case .failure = result { failedRenders += 1 } else { failedRenders = 0 }
        if failedRenders == Self.brokenAfter {
            logger.critical("model looks broken: \(Self.brokenAfter) images in a row failed; no longer claiming its jobs")
        }
        if let job = lane.leases.current.held[id] { toWrite.append((job, result)) }
    }

    // MARK: drain

    /// Draining: true when no runnable or running job is left for this lane's model and queues. Jobs
    /// that wait in a paused queue are not "drained": the count goes into `pausedQueued` and the log.
    mutating func isDrained() async -> Bool {
        guard Date() >= dbRetryAt else { return false }
        let (queues, models) = (lane.options.queues, [model])
        do {
            if try await lane.database({ try await $0.pendingCount(queues: queues, models: models) }) == 0 {
                let paused = try await lane.database { try await $0.pausedQueuedCount(queues: queues, models: models) }
                if paused > 0 {
                    lane.counters.withLock { $0.pausedQueued += paused }
                    logger.warning("queue paused with \(paused) queued: nothing runnable left, stopping")
                } else {
                    logger.info("queue drained")
                }
                return true
            }
        } catch is CancellationError {
            return false
        } catch {
            dbRetryAt = Date().addingTimeInterval(1)
        }
        return false
    }
}
