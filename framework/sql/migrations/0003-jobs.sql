-- The job queue (docs/jobs.md): a job exists if and only if the transaction that enqueued it
-- committed, and a job's database effects commit together with its completion.
-- state: queued (waiting, maybe until run_at: a retry's backoff too), running (claimed by
-- worker until lease_until), done, failed (dead: max_attempts reached or a permanent error),
-- cancelled (kiva-admin jobs cancel).
CREATE TABLE IF NOT EXISTS kiva_jobs(
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  payload JSONB NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  priority INTEGER NOT NULL DEFAULT 0,          -- higher runs first
  run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
  unique_key TEXT,                              -- refuses a duplicate while one is pending
  lease_until TIMESTAMPTZ,
  worker TEXT,
  enqueued_by TEXT,                             -- the login of the enqueuing request
  request_id TEXT,                              -- the enqueuing request's X-Request-ID
  result JSONB,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX IF NOT EXISTS kiva_jobs_pending_key ON kiva_jobs(unique_key)
  WHERE unique_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS kiva_jobs_due ON kiva_jobs(priority DESC, run_at, id)
  WHERE state IN ('queued', 'running');
-- The purge of finished jobs older than jobs_keep (purge_jobs).
CREATE INDEX IF NOT EXISTS kiva_jobs_finished ON kiva_jobs(finished_at)
  WHERE state IN ('done', 'failed', 'cancelled');

-- Periodic jobs: one row per (job, period) ever scheduled, so that a period runs once across
-- every host whatever the timing of their schedulers.
CREATE TABLE IF NOT EXISTS kiva_job_periods(
  name TEXT NOT NULL,
  period BIGINT NOT NULL,
  PRIMARY KEY (name, period)
);

-- Workers LISTEN on kiva_jobs: a NOTIFY per enqueuing transaction, delivered at its commit.
CREATE OR REPLACE FUNCTION kiva_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kiva_jobs', '');
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS kiva_jobs_notify ON kiva_jobs;
CREATE TRIGGER kiva_jobs_notify AFTER INSERT ON kiva_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION kiva_jobs_notify();
GRANT SELECT, INSERT, UPDATE, DELETE ON kiva_jobs, kiva_job_periods TO :"runtime";
