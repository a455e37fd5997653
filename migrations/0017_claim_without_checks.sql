-- 0017: a claim costs less CPU (issue 24: claim p99 < 10 ms with 16 claimers at a million jobs; with 16
-- claimers on 2 cores the p99 is queueing for the cores, so what counts is the work per claim).
--
-- A claim updates one row, but PostgreSQL did more for that update than for finding the job: on every
-- UPDATE of jobs, whatever columns it sets, it evaluates every CHECK constraint of the table, and first
-- rebuilds each one from its stored text (parsed and planned again for each statement), and it sets up
-- the WHEN condition of every row trigger on a column the update sets. Measured in one backend, 20,000
-- claims in a row on the benchmark's million jobs (tools/bench/store_bench.py), CPU per claim:
-- 120-170 us before, 55-90 us after both changes below (the checks ~50 us of it, the trigger ~13 us).
--
-- 1. The checks on values a job is submitted with (and attempts_before_retry, which retries set) become
--    checks on the columns' types: a domain per column, its constraint named as the table's was, so a
--    bad value fails with the same SQLSTATE (23514) and constraint name. A domain's check runs when a
--    value is written to the column (insert, or an update that sets it), never for an update of other
--    columns. The claim sets none of them. Left on the table: the check on state (claims set state) and
--    jobs_negative_prompt_needs_prompt (two columns).
--    The columns change type without rewriting the table (a domain over the same type, created with no
--    constraint; of the indexes only jobs_queue_label is rebuilt: 1.1 s at a million jobs), and the
--    constraints are added NOT VALID: every row already passed the same check as a table constraint,
--    dropped in this same transaction, and every value written from now on is checked.
--    Clients see the base types (PostgreSQL describes a domain column by its base type).
ALTER TABLE jobs DROP CONSTRAINT jobs_class_label_check, DROP CONSTRAINT jobs_temperature_check,
    DROP CONSTRAINT jobs_top_k_check, DROP CONSTRAINT jobs_top_p_check, DROP CONSTRAINT jobs_cfg_scale_check,
    DROP CONSTRAINT jobs_max_attempts_check, DROP CONSTRAINT jobs_cfg_interval_check, DROP CONSTRAINT jobs_min_p_check,
    DROP CONSTRAINT jobs_label_check, DROP CONSTRAINT jobs_text_prompt_check, DROP CONSTRAINT jobs_negative_prompt_check,
    DROP CONSTRAINT jobs_image_size_check, DROP CONSTRAINT jobs_custom_id_check,
    DROP CONSTRAINT jobs_attempts_before_retry_check;

CREATE DOMAIN jobs_class_label AS integer;
CREATE DOMAIN jobs_temperature AS double precision;
CREATE DOMAIN jobs_top_k AS integer;
CREATE DOMAIN jobs_top_p AS double precision;
CREATE DOMAIN jobs_cfg_scale AS double precision;
CREATE DOMAIN jobs_max_attempts AS integer;
CREATE DOMAIN jobs_cfg_interval AS integer;
CREATE DOMAIN jobs_min_p AS double precision;
CREATE DOMAIN jobs_label AS text;
CREATE DOMAIN jobs_text_prompt AS text;
CREATE DOMAIN jobs_negative_prompt AS text;
CREATE DOMAIN jobs_image_size AS text;
CREATE DOMAIN jobs_custom_id AS text;
CREATE DOMAIN jobs_attempts_before_retry AS integer;

ALTER TABLE jobs ALTER COLUMN class_label TYPE jobs_class_label, ALTER COLUMN temperature TYPE jobs_temperature,
    ALTER COLUMN top_k TYPE jobs_top_k, ALTER COLUMN top_p TYPE jobs_top_p, ALTER COLUMN cfg_scale TYPE jobs_cfg_scale,
    ALTER COLUMN max_attempts TYPE jobs_max_attempts, ALTER COLUMN cfg_interval TYPE jobs_cfg_interval,
    ALTER COLUMN min_p TYPE jobs_min_p, ALTER COLUMN label TYPE jobs_label, ALTER COLUMN text_prompt TYPE jobs_text_prompt,
    ALTER COLUMN negative_prompt TYPE jobs_negative_prompt, ALTER COLUMN image_size TYPE jobs_image_size,
    ALTER COLUMN custom_id TYPE jobs_custom_id, ALTER COLUMN attempts_before_retry TYPE jobs_attempts_before_retry;

-- The same conditions as 0001-0014 wrote them on the table.
ALTER DOMAIN jobs_class_label ADD CONSTRAINT jobs_class_label_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN jobs_temperature ADD CONSTRAINT jobs_temperature_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN jobs_top_k ADD CONSTRAINT jobs_top_k_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN jobs_top_p ADD CONSTRAINT jobs_top_p_check CHECK (VALUE > 0 AND VALUE <= 1) NOT VALID;
ALTER DOMAIN jobs_cfg_scale ADD CONSTRAINT jobs_cfg_scale_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN jobs_max_attempts ADD CONSTRAINT jobs_max_attempts_check CHECK (VALUE >= 1) NOT VALID;
ALTER DOMAIN jobs_cfg_interval ADD CONSTRAINT jobs_cfg_interval_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN jobs_min_p ADD CONSTRAINT jobs_min_p_check CHECK (VALUE >= 0 AND VALUE < 1) NOT VALID;
ALTER DOMAIN jobs_label ADD CONSTRAINT jobs_label_check CHECK (VALUE ~ '^[A-Za-z0-9._-]{1,100}$') NOT VALID;
ALTER DOMAIN jobs_text_prompt ADD CONSTRAINT jobs_text_prompt_check
    CHECK (char_length(VALUE) BETWEEN 1 AND 2000 AND VALUE !~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]') NOT VALID;
ALTER DOMAIN jobs_negative_prompt ADD CONSTRAINT jobs_negative_prompt_check
    CHECK (char_length(VALUE) BETWEEN 1 AND 2000 AND VALUE !~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]') NOT VALID;
ALTER DOMAIN jobs_image_size ADD CONSTRAINT jobs_image_size_check CHECK (VALUE ~
    '^([1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-6])(x([1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-6]))?$') NOT VALID;
ALTER DOMAIN jobs_custom_id ADD CONSTRAINT jobs_custom_id_check
    CHECK (char_length(VALUE) BETWEEN 1 AND 200 AND VALUE !~ '[\x01-\x1f\x7f-\x9f]') NOT VALID;
ALTER DOMAIN jobs_attempts_before_retry ADD CONSTRAINT jobs_attempts_before_retry_check CHECK (VALUE >= 0) NOT VALID;

-- 2. The final-event trigger (0008) fires on updates that set finished_at instead of state. Every statement
--    that moves a job to done, failed or cancelled sets finished_at with it (SQL.markDone, fail, rescue,
--    cancel, and the console's and batches' cancels), and its WHEN is unchanged, so the same updates
--    write the same events; a claim, which sets state but not finished_at, no longer sets up the WHEN.
DROP TRIGGER jobs_final_event ON jobs;
CREATE CONSTRAINT TRIGGER jobs_final_event AFTER UPDATE OF finished_at ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state IN ('done', 'failed', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION zipar_job_final_event();
