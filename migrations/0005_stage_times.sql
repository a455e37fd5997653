-- 0005: where a job's time went, per stage (NULL for results written before this migration).

ALTER TABLE results ADD COLUMN queue_ms double precision;  -- submit to first claim
ALTER TABLE results ADD COLUMN gpt_ms double precision;    -- GPT passes: joining the batch to the last token
ALTER TABLE results ADD COLUMN vq_ms double precision;     -- VQ decode of the token grid
ALTER TABLE results ADD COLUMN png_ms double precision;    -- PNG encode
