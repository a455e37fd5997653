-- 0014: a retried job keeps one attempt history (issue 24). A retry gives the job a fresh attempt budget
-- (`attempts` back to 0, what max_attempts counts), so the attempts spent before it are kept here: an
-- attempt's number is attempts_before_retry + attempts, never reused, in errors and results alike.
ALTER TABLE jobs ADD COLUMN attempts_before_retry integer NOT NULL DEFAULT 0 CHECK (attempts_before_retry >= 0);
-- When the current attempt's claim took the job. started_at stays the first claim: the charts rebuild the
-- queue's depth from it (0011) and results.queue_ms measures submit to first claim.
ALTER TABLE jobs ADD COLUMN claimed_at timestamptz;
