-- 0016: a claim costs less (issue 24: claim p99 < 10 ms with 16 claimers at a million jobs;
-- tools/bench/store_bench.py measures it).
--
-- The claim becomes a function, zipar_claim, that workers call (SQL.claim) and the store benchmark calls
-- too, so the benchmark always times the statement workers run. Being a function buys two things a
-- statement sent by the client cannot have:
--
-- * It is planned once per connection, not once per claim. Planning the claim cost about as much as
--   running it. A client-side prepared statement does not help: its LIMIT is a parameter, which a generic
--   plan estimates at a tenth of the queued jobs, so PostgreSQL keeps re-planning (and a forced generic plan
--   of the old statement joined the picked ids by a hash over every job). Here the update finds the picked
--   ids through the primary key (`id = ANY(ARRAY(...))`), whatever the LIMIT is estimated at, and the
--   generic plan is forced for this function only.
-- * Its commit does not wait for the WAL flush (synchronous_commit off for the claim's own transaction;
--   a flush took ~4 ms on a VM disk, longer than the claim). Losing a claim in a server crash is the same
--   as a lease running out: the job is still queued, and the worker that claimed it finds its lease gone
--   at its next heartbeat or when it completes (LeaseLost), so nothing is done twice. Anything the worker
--   writes afterwards commits synchronously and so flushes the claim with it. A caller inside a larger
--   transaction would make all of it asynchronous: JobStore.claim runs the function alone.
--
-- Same semantics as the statement it replaces: runnable jobs of unpaused queues for the models, priority
-- then submission order, skipping rows other claimers hold; a fresh lease token each; attempts counted
-- when claimed, started_at the first claim, claimed_at this one (0014).
CREATE FUNCTION zipar_claim(claim_limit integer, claim_queues text[], claim_models text[], claim_owner text,
                            claim_lease_seconds double precision)
RETURNS SETOF jobs LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = claim_owner,
           lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => claim_lease_seconds),
           started_at = coalesce(j.started_at, now()), claimed_at = now(), updated_at = now()
    WHERE j.id = ANY(ARRAY(
        SELECT r.id FROM jobs r JOIN queues q ON q.name = r.queue
        WHERE r.state = 'queued' AND r.run_after <= now() AND NOT q.paused
          AND r.queue = ANY(claim_queues) AND r.model = ANY(claim_models)
        ORDER BY r.priority DESC, r.seq
        LIMIT claim_limit
        FOR UPDATE OF r SKIP LOCKED))
    RETURNING j.*;
END
$$;

-- Every claim is an update that moves the job between indexes (its state changes), so it adds an entry to
-- each index whose condition the running job meets. The submission key's uniqueness only matters for jobs
-- that have a key: the unique constraint (0001) indexed every job, keyed or not; this index holds only the
-- keyed ones, so claiming, finishing or retrying an unkeyed job does one index insertion (and uniqueness
-- check) fewer. Submissions name it with `ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL`.
CREATE UNIQUE INDEX jobs_queue_key ON jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE jobs DROP CONSTRAINT jobs_queue_idempotency_key_key;
