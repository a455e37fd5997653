-- 0008: the batch API of `zipar-admin serve` (POST /api/batches) and completion events (GET /api/events,
-- `zipar-submit --wait`).

-- One POST /api/batches: its jobs point here. The idempotency key names one request body (its SHA-256):
-- the same key with the same body answers the same batch, with another body it is refused.
CREATE TABLE batches (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key text UNIQUE CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
    request_sha256  text NOT NULL,
    jobs            integer NOT NULL CHECK (jobs >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    cancelled_at    timestamptz
);

-- A purged job leaves its batch (the batch row only counts what is left).
ALTER TABLE jobs ADD COLUMN batch_id uuid REFERENCES batches (id) ON DELETE SET NULL;
-- The caller's name for the request a job came from (JSONL `custom_id`): echoed in results and events.
ALTER TABLE jobs ADD COLUMN custom_id text
    CHECK (char_length(custom_id) BETWEEN 1 AND 200 AND custom_id !~ '[\x01-\x1f\x7f-\x9f]');
CREATE INDEX jobs_batch ON jobs (batch_id, seq) WHERE batch_id IS NOT NULL;

-- One row each time a job reaches a final state (done, failed, cancelled). `id` is the SSE event id that
-- clients resume from with Last-Event-ID, so it must grow in commit order: the row is written by a
-- deferred trigger (at commit) under a transaction-scoped advisory lock, so no transaction can commit a
-- smaller id after a reader saw a larger one. No foreign key: events outlive purged jobs.
CREATE TABLE job_events (
    id         bigserial PRIMARY KEY,
    job_id     uuid NOT NULL,
    batch_id   uuid,
    queue      text NOT NULL,
    label      text,
    custom_id  text,
    state      text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_batch ON job_events (batch_id, id) WHERE batch_id IS NOT NULL;

CREATE FUNCTION zipar_job_final_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    j jobs%ROWTYPE;
    event_id bigint;
BEGIN
    -- The row as it is at commit: a job finished and requeued in one transaction is no event.
    SELECT * INTO j FROM jobs WHERE id = NEW.id;
    IF NOT FOUND OR j.state NOT IN ('done', 'failed', 'cancelled') THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7320514211);
    INSERT INTO job_events (job_id, batch_id, queue, label, custom_id, state)
    VALUES (j.id, j.batch_id, j.queue, j.label, j.custom_id, j.state)
    RETURNING id INTO event_id;
    -- Listeners (SSE streams, zipar-submit --wait) wake up and read job_events after their last id.
    PERFORM pg_notify('zipar_job_events', event_id::text);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER jobs_final_event AFTER UPDATE OF state ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state IN ('done', 'failed', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION zipar_job_final_event();
