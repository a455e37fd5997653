-- 0013: what the operator's views need at a million jobs (tools/bench/store_bench.py), so none of them reads
-- every row:
-- queue counts and /metrics split queued jobs into scheduled and due and find each queue's oldest due job
-- from the queued jobs' index entries alone (the other states are counted on jobs_queue_state, 0001);
CREATE INDEX jobs_queued_due ON jobs (queue, run_after, created_at) WHERE state = 'queued';
-- `zipar-admin export --only-new` finds the results never exported without reading the others.
CREATE INDEX results_unexported ON results (job_id) WHERE exported_at IS NULL;
