-- 0015: the models a worker could not load (issue 24). Such a worker still lists the model (it claims the
-- model's jobs and fails them with the load error, so they are retried elsewhere), but the workers page must
-- not show it as served before any job failed: load_failures maps each such model to {error, at}, written
-- when the worker registers (a restart that loads the model clears it).
ALTER TABLE workers ADD COLUMN load_failures jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(load_failures) = 'object');
