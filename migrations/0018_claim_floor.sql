-- 0018: a claim no longer walks the jobs claimed before it (issue 24: claim p99 < 10 ms with 16 claimers).
--
-- A claim reads the runnable jobs in order (priority, then submission) and takes the first it may. Every
-- job claimed before it left its entry in that index, dead (the claim changed its state), until a vacuum
-- of jobs removes it; and claims take jobs from the front, so the dead entries pile up exactly where each
-- claim starts reading. In the store benchmark (a million jobs, 16 claimers, 2-core Zen 3) the walk over
-- them was a quarter of all the CPU of a claim run that started from a vacuumed table, and far more in a
-- run after others (tools/bench/store_bench.py; docs/service.md, "The store at a million jobs").
--
-- The fix keeps a floor: a key (-priority, seq) at or below the key of every queued job, in a one-row
-- table, and claims start reading at it, past the dead. Keeping it sound takes two rules:
--
-- * Lowered by whoever queues a job (insert, retry, rescue, release, a changed priority): a trigger moves
--   the floor down to the job's key when the job sorts before it. The trigger also takes a KEY SHARE lock
--   on the floor row until its transaction ends, which only an advance conflicts with.
-- * Advanced by claims, now and then (one claim in 20): with the floor row locked FOR UPDATE SKIP LOCKED
--   (so never while a transaction that queued a job is still open, and never waiting), the claim reads
--   the first queued job at or after the floor, in any queue, for any model, due or not, and moves the
--   floor up to it, or past the end when there is none. A job queued by a transaction that was open then
--   is either visible to that read (it committed first) or its trigger runs after the advance and lowers
--   the floor again (its lock waits for the advance to commit; its update then sees the new floor).
--
-- Jobs of paused queues, jobs not yet due and jobs other workers' models are queued jobs like any other,
-- so the floor stays at or below them and a claim still finds them when they become claimable.
--
-- The index the claims read is new: its key is (-priority, seq), both ascending, so that a comparison
-- with the floor's (-priority, seq) is where the index scan starts (jobs_runnable, priority DESC then seq,
-- stays for the other queries). The priority is negated as a bigint: an integer priority of -2^31 has no
-- integer negation.
CREATE INDEX jobs_claim ON jobs ((-(priority::bigint)), seq) WHERE state = 'queued';

CREATE TABLE claim_floor (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),   -- exactly one row
    neg_priority bigint NOT NULL,
    seq bigint NOT NULL
);
INSERT INTO claim_floor (neg_priority, seq)
SELECT coalesce(min(-(priority::bigint)), 9223372036854775807), 0 FROM jobs WHERE state = 'queued';

-- The one way down, for both triggers: the lock an advance waits out, then the floor lowered to the key.
CREATE FUNCTION zipar_claim_floor_lower_to(key_np bigint, key_seq bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM claim_floor FOR KEY SHARE;
    UPDATE claim_floor SET neg_priority = key_np, seq = key_seq WHERE (neg_priority, seq) > (key_np, key_seq);
END
$$;

-- Requeues and priority changes, one row at a time.
CREATE FUNCTION zipar_claim_floor_lower() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM zipar_claim_floor_lower_to(-(NEW.priority::bigint), NEW.seq);
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_claim_floor_update AFTER UPDATE OF state, priority, seq ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION zipar_claim_floor_lower();

-- Submissions, once per statement with the first of its queued jobs: a trigger per row made inserting
-- 100,000 jobs take 3.2 s instead of 2.1 s; this one costs nothing measurable.
CREATE FUNCTION zipar_claim_floor_lower_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    first_np bigint;
    first_seq bigint;
BEGIN
    SELECT -(n.priority::bigint), n.seq INTO first_np, first_seq FROM inserted n WHERE n.state = 'queued'
    ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        PERFORM zipar_claim_floor_lower_to(first_np, first_seq);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_claim_floor_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION zipar_claim_floor_lower_inserted();

-- Moves the floor up to the first queued job (zipar_claim calls it now and then; tests call it directly).
-- Returns whether it moved.
CREATE FUNCTION zipar_claim_floor_advance() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    floor_np bigint;
    floor_seq bigint;
    next_np bigint;
    next_seq bigint;
BEGIN
    SELECT f.neg_priority, f.seq INTO floor_np, floor_seq FROM claim_floor f FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;   -- a transaction that queued jobs is open, or another claim is advancing
    END IF;
    SELECT -(r.priority::bigint), r.seq INTO next_np, next_seq FROM jobs r
    WHERE r.state = 'queued' AND (-(r.priority::bigint), r.seq) >= (floor_np, floor_seq)
    ORDER BY -(r.priority::bigint), r.seq
    LIMIT 1;
    IF NOT FOUND THEN   -- nothing queued: past the end, the next queued job lowers it
        next_np := 9223372036854775807;
        next_seq := 0;
    END IF;
    IF (next_np, next_seq) <= (floor_np, floor_seq) THEN
        RETURN false;
    END IF;
    UPDATE claim_floor SET neg_priority = next_np, seq = next_seq;
    RETURN true;
END
$$;

-- The claim of 0016, reading from the floor, and one claim in 20 advancing it (in the claim's own
-- transaction, after its update: the jobs it just claimed are no longer queued to that read).
CREATE OR REPLACE FUNCTION zipar_claim(claim_limit integer, claim_queues text[], claim_models text[], claim_owner text,
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
        WHERE r.state = 'queued' AND (-(r.priority::bigint), r.seq) >= (SELECT f.neg_priority, f.seq FROM claim_floor f)
          AND r.run_after <= now() AND NOT q.paused
          AND r.queue = ANY(claim_queues) AND r.model = ANY(claim_models)
        ORDER BY -(r.priority::bigint), r.seq
        LIMIT claim_limit
        FOR UPDATE OF r SKIP LOCKED))
    RETURNING j.*;
    IF random() < 0.05 THEN
        PERFORM zipar_claim_floor_advance();
    END IF;
END
$$;
