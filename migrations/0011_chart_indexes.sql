-- 0011: indexes for the dashboard's charts (issue 24), so a chart reads only the jobs of its window (an
-- hour or a day) however many jobs the store holds. Queue depth over time is rebuilt from the jobs that
-- arrived (created_at) and left the queue (started_at) since the window began; throughput and latency read
-- the jobs finished in it (jobs_finished, 0001).

CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_started ON jobs (started_at) WHERE started_at IS NOT NULL;
