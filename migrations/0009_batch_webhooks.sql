-- 0009: a batch may name a webhook: `zipar-admin serve` POSTs the finished batch there (HMAC-SHA256
-- signed), retrying with backoff. `webhook_next_at` is when the next try is due once every job of the batch
-- is final; NULL when there is nothing left to send (no webhook, delivered, or given up).

ALTER TABLE batches ADD COLUMN webhook_url text
    CHECK (char_length(webhook_url) <= 2000 AND webhook_url ~ '^https?://');
ALTER TABLE batches ADD COLUMN webhook_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN webhook_next_at timestamptz;
ALTER TABLE batches ADD COLUMN webhook_delivered_at timestamptz;
ALTER TABLE batches ADD COLUMN webhook_last_error text;
CREATE INDEX batches_webhook_due ON batches (webhook_next_at) WHERE webhook_next_at IS NOT NULL;
