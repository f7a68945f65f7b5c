-- Idempotent POSTs (kiva/app/idempotency): the answer of a POST that carried an
-- Idempotency-Key, per client (login, or address) and key, written in the same transaction
-- as the request's own writes, so that a retry on any host gets it again instead of running
-- the request twice. fingerprint: SHA-256 (hex) of the method, path, query and body; body:
-- the answer's bytes. Rows past expires mean nothing: lookups skip them, and each new row
-- deletes a bounded batch of them.
CREATE TABLE IF NOT EXISTS IdempotencyKey(
  client TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  location TEXT,
  body BYTEA NOT NULL,
  expires TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (client, key)
);
CREATE INDEX IF NOT EXISTS IdempotencyKey_expires ON IdempotencyKey(expires);
GRANT SELECT, INSERT, UPDATE, DELETE ON IdempotencyKey TO :"runtime";
