-- 0010: the audit log (issue 24): every change made through `zipar-admin serve` (its pages or its API) is
-- recorded with who made it, written in the same transaction as the change wherever the change is one.
-- `actor` names a credential, never holds one: `admin session 1a2b3c4d` (the first 8 hex digits of a
-- dashboard session's id), `admin token`, `submit token`.

CREATE TABLE audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL CHECK (char_length(actor) <= 200),
    action  text NOT NULL CHECK (char_length(action) <= 100),   -- pause, resume, retry, cancel, bulk-retry, ...
    target  text NOT NULL CHECK (char_length(target) <= 2000),  -- a queue, a job id, a filter, a batch id
    count   integer NOT NULL DEFAULT 0,                         -- jobs or queues changed
    detail  text CHECK (char_length(detail) <= 2000)
);
-- The Audit page reads the newest first, a page at a time.
CREATE INDEX audit_log_at ON audit_log (at DESC);
