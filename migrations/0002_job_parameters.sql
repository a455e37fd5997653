-- 0002: every field of JobParameters has its column, and the column rules match JobParameters.validate
-- (the one set of rules): cfg_interval is new; temperature 0 means greedy sampling.

ALTER TABLE jobs ADD COLUMN cfg_interval integer CHECK (cfg_interval >= 0);  -- guide the first N tokens; NULL = all

ALTER TABLE jobs DROP CONSTRAINT jobs_temperature_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_temperature_check CHECK (temperature >= 0);
