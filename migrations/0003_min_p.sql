-- 0003: min-p sampling (JobParameters.sampling.minP): drop tokens less likely than min_p times the top one.

ALTER TABLE jobs ADD COLUMN min_p double precision NOT NULL DEFAULT 0 CHECK (min_p >= 0 AND min_p < 1);
