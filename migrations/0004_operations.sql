-- 0004: what operators look jobs up by, and what purge must not lose.

-- A caller's own name for a job (prompt key label= or id=): unique per queue, safe in file names.
ALTER TABLE jobs ADD COLUMN label text CHECK (label ~ '^[A-Za-z0-9._-]{1,100}$');
CREATE UNIQUE INDEX jobs_queue_label ON jobs (queue, label) WHERE label IS NOT NULL;
-- The prompt line as submitted, and the class name from the model's config (shown and exported).
ALTER TABLE jobs ADD COLUMN prompt text;
ALTER TABLE jobs ADD COLUMN class_name text;

-- When `zipar-admin export` last wrote the result: purge keeps results never exported.
ALTER TABLE results ADD COLUMN exported_at timestamptz;

-- A worker is live while its last heartbeat is younger than its own lease.
ALTER TABLE workers ADD COLUMN lease_seconds double precision NOT NULL DEFAULT 30;
