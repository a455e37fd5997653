-- 0001: the job store. Applied by `zipar-admin migrate` (in one transaction, under an advisory lock).

CREATE TABLE queues (
    name        text PRIMARY KEY,
    paused      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- submission order (ties on created_at)
    queue            text NOT NULL REFERENCES queues (name),
    model            text NOT NULL,               -- config.json "name" of the model
    class_label      integer NOT NULL CHECK (class_label >= 0),
    policy           text NOT NULL,               -- ntp | zipar:S | adaptive:SMIN
    temperature      double precision NOT NULL DEFAULT 1 CHECK (temperature > 0),
    top_k            integer NOT NULL DEFAULT 0 CHECK (top_k >= 0),
    top_p            double precision NOT NULL DEFAULT 1 CHECK (top_p > 0 AND top_p <= 1),
    cfg_scale        double precision NOT NULL DEFAULT 1 CHECK (cfg_scale >= 0),
    seed             bigint NOT NULL,
    priority         integer NOT NULL DEFAULT 0,  -- higher runs first
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,  -- claims so far (counted when claimed)
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,                        -- worker id holding (or last holding) the job
    lease_token      uuid,                        -- fresh per claim; required to write the result
    lease_expires_at timestamptz,
    errors           jsonb NOT NULL DEFAULT '[]', -- [{at, attempt, worker, error}], oldest first
    idempotency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,                 -- first claim
    finished_at      timestamptz,                 -- done, failed or cancelled
    UNIQUE (queue, idempotency_key)
);

-- The claim scan: runnable jobs by priority then age.
CREATE INDEX jobs_runnable ON jobs (priority DESC, seq) WHERE state = 'queued';
-- The rescuer: running jobs by lease expiry.
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_queue_state ON jobs (queue, state);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE results (
    job_id      uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,  -- at most one result per job
    png         bytea NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    passes      integer NOT NULL,           -- forward passes the job took part in
    ntp_passes  integer NOT NULL,           -- grid * grid: what plain next-token prediction needs
    tokens      integer NOT NULL,
    queries     integer NOT NULL,
    decode_ms   double precision NOT NULL,  -- from joining the batch to the last token
    latency_ms  double precision NOT NULL,  -- from submit to result
    pass_ms     double precision[] NOT NULL,
    worker      text NOT NULL,
    attempt     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workers (
    id            text PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    models        text[] NOT NULL,
    queues        text[] NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    jobs_done     bigint NOT NULL DEFAULT 0
);

INSERT INTO queues (name) VALUES ('default');
