-- The framework's own named queries: its state in the database (throttling of password
-- checks, revoked tokens, credential changes), on the tables of framework/sql/migrations.
-- Typed at build time like an application's queries (build/kiva-gen/kiva/security/queries.hpp,
-- db::FrameworkQueries) and prepared on every connection before the application's. An
-- application's queries file must not reuse these names (the build says so).

-- ---------------------------------------------------------------- Throttling
-- Failed password checks per login and per client address (kiva/security/throttle).

-- name: auth_throttle^
-- Seconds until the login or the address is unlocked (null: neither is locked), the login's
-- failure count (null: none) and when its password last changed (microseconds since 1970,
-- null: never; a cached check made under another value is stale), before a password check.
SELECT ceil(extract(epoch FROM max(locked_until) FILTER (WHERE locked_until > now()) - now()))::integer
         AS retry_after,
       max(failures) FILTER (WHERE kind = 'login') AS login_failures,
       (SELECT (extract(epoch FROM changed_at) * 1000000)::bigint FROM CredentialChange
        WHERE login = :login) AS credentials_changed
FROM AuthFailure
WHERE (kind = 'login' AND key = :login) OR (kind = 'address' AND key = :address);

-- name: count_auth_failure
-- One more failure for the login and the address; a count whose last failure is older than
-- :window seconds starts again. The new counts, for the lockout decision.
INSERT INTO AuthFailure AS f(kind, key, failures, last_failure)
VALUES ('login', :login, 1, now()), ('address', :address, 1, now())
ON CONFLICT (kind, key) DO UPDATE SET
  failures = CASE WHEN f.last_failure < now() - :window::integer * interval '1 second'
                  THEN 1 ELSE f.failures + 1 END,
  last_failure = now()
RETURNING kind, failures;

-- name: lock_auth!
UPDATE AuthFailure SET locked_until = now() + :seconds::integer * interval '1 second'
WHERE kind = :kind AND key = :key;

-- name: reset_auth_failures!
DELETE FROM AuthFailure WHERE kind = 'login' AND key = :login;

-- ---------------------------------------------------------------- Revocation
-- Logout and password changes (kiva/security/revocation).

-- name: token_state^
-- Whether a token was revoked, and when its login's password last changed (microseconds
-- since 1970, null: never): one indexed read per Bearer request.
SELECT EXISTS (SELECT 1 FROM RevokedToken WHERE digest = :digest) AS revoked,
       (SELECT (extract(epoch FROM changed_at) * 1000000)::bigint FROM CredentialChange
        WHERE login = :login) AS changed_us;

-- name: credentials_generation$
-- When a login's password last changed (microseconds since 1970; no row: never), for the
-- shared cache's verdict when Redis has none.
SELECT (extract(epoch FROM changed_at) * 1000000)::bigint FROM CredentialChange
WHERE login = :login;

-- name: revoke_token!
-- pg_notify: every process's revocation cache forgets the token's verdict, on commit only
-- (kiva/security/revocation_cache.hpp).
WITH expired AS (DELETE FROM RevokedToken WHERE expires < now())
INSERT INTO RevokedToken(digest, expires)
SELECT :digest::text, to_timestamp(:expires::bigint)
FROM pg_notify('kiva_auth', 't:' || :digest::text)
ON CONFLICT (digest) DO NOTHING;

-- name: credentials_changed$
-- clock_timestamp, not now(): the change happens now, not when the transaction began. The
-- new generation (microseconds since 1970), for the shared cache.
-- pg_notify: every process's revocation cache forgets the login's generation, on commit
-- only ('*', all of them, for a login too long for a notification).
INSERT INTO CredentialChange(login, changed_at)
SELECT :login::text, clock_timestamp()
FROM pg_notify('kiva_auth', CASE WHEN octet_length(:login::text) <= 4000
                                 THEN 'c:' || :login::text ELSE '*' END)
ON CONFLICT (login) DO UPDATE SET changed_at = EXCLUDED.changed_at
RETURNING (extract(epoch FROM changed_at) * 1000000)::bigint;

-- ---------------------------------------------------------------- Idempotent POSTs
-- Answers of POSTs sent with an Idempotency-Key (kiva/app/idempotency).

-- name: idempotency_lock$
-- kiva: transaction (BEGIN first: held until the request's COMMIT or ROLLBACK). A second
-- request of the same client and key meanwhile gets false (409), whichever host it reached.
SELECT pg_try_advisory_xact_lock(hashtextextended(:client || E'\n' || :key, 2021));

-- name: idempotency_answer^
-- The recorded answer of this client's key, if it has not expired (body: hex).
SELECT fingerprint, status, content_type, location, encode(body, 'hex') AS body_hex
FROM IdempotencyKey
WHERE client = :client AND key = :key AND expires > now();

-- name: record_idempotency!
-- Records an answer in the request's transaction (an expired row of the same key is
-- replaced), and deletes at most 100 other expired rows (skipping rows others hold).
WITH expired AS (
  DELETE FROM IdempotencyKey WHERE ctid IN (
    SELECT ctid FROM IdempotencyKey WHERE expires < now() LIMIT 100 FOR UPDATE SKIP LOCKED))
INSERT INTO IdempotencyKey AS i(client, key, fingerprint, status, content_type, location, body,
                                expires)
VALUES (:client, :key, :fingerprint, :status::integer, :content_type, :location,
        decode(:body_hex, 'hex'), now() + :ttl::integer * interval '1 second')
ON CONFLICT (client, key) DO UPDATE SET
  fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status,
  content_type = EXCLUDED.content_type, location = EXCLUDED.location, body = EXCLUDED.body,
  expires = EXCLUDED.expires;

-- ---------------------------------------------------------------- Jobs
-- The job queue (kiva/jobs, docs/jobs.md), on kiva_jobs (migrations/0003-jobs.sql).

-- name: enqueue_job$
-- In the request's transaction; no row when unique_key is taken by a pending job.
INSERT INTO kiva_jobs(name, payload, priority, run_at, max_attempts, unique_key, enqueued_by,
                      request_id)
VALUES (:name, :payload::jsonb, :priority::integer,
        coalesce(to_timestamp(:run_at::double precision), now()), :max_attempts::integer,
        :unique_key::text, :enqueued_by::text, :request_id::text)
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('queued', 'running')
DO NOTHING
RETURNING id;

-- name: schedule_periodic_job$
-- A periodic job's run for one period, once across every host (no row: already scheduled);
-- a cron job's for one instant (:period, seconds since the epoch), to run at :run_at.
WITH period AS (
  INSERT INTO kiva_job_periods(name, period) VALUES (:name, :period::bigint)
  ON CONFLICT DO NOTHING RETURNING name)
INSERT INTO kiva_jobs(name, payload, max_attempts, unique_key, run_at)
SELECT name, 'null'::jsonb, :max_attempts::integer, name || '@' || :period::bigint,
       coalesce(to_timestamp(:run_at::double precision), now()) FROM period
RETURNING id;

-- name: claim_job^
-- The next due job among names (or one whose worker's lease ran out), claimed for :lease
-- seconds. SKIP LOCKED: workers never wait for each other, and a job whose worker still
-- holds its row (running it) is never taken.
-- kiva: autocommit (one round trip: no BEGIN, no COMMIT), and a claim does not wait for its
-- WAL to reach the disk (synchronous_commit off, for its own transaction only). That is safe:
-- a claim lost in a crash of the server leaves the job queued with its attempts as before,
-- to be claimed again; and nothing of the job commits before its claim is durable, since the
-- job's transaction, which comes after it and commits synchronously, flushes the WAL (and
-- waits for a synchronous standby) up to its own commit, the claim's included.
UPDATE kiva_jobs SET state = 'running', attempts = attempts + 1, worker = :worker,
  lease_until = now() + :lease::integer * interval '1 second', started_at = now()
WHERE id = (
  SELECT id FROM kiva_jobs
  WHERE name = ANY(:names::text[])
    AND ((state = 'queued' AND run_at <= now()) OR (state = 'running' AND lease_until < now()))
  ORDER BY priority DESC, run_at, id
  LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, name, payload::text AS payload, attempts, max_attempts, enqueued_by, request_id,
  set_config('synchronous_commit', 'off', true) AS async_commit;

-- name: lock_job^
-- First statement of a job's transaction: its row, locked until the commit that marks it
-- done (a reclaim after the lease skips it); no row when the claim was lost. It also sets
-- the audit context of the job's writes for this transaction, the enqueuing request's login
-- and id (as the request's own BEGIN does: kiva.login, kiva.request_id), in the same statement.
SELECT attempts, set_config('kiva.login', coalesce(enqueued_by, ''), true) AS login,
       set_config('kiva.request_id', coalesce(request_id, ''), true) AS request_id
FROM kiva_jobs
WHERE id = :id AND state = 'running' AND attempts = :attempt::integer
FOR UPDATE;

-- name: complete_job!
UPDATE kiva_jobs SET state = 'done', result = :result::jsonb, finished_at = now(),
  lease_until = NULL
WHERE id = :id AND state = 'running' AND attempts = :attempt::integer;

-- name: fail_job$
-- After a failed attempt (its transaction rolled back): queued again after :delay_ms, or
-- failed for good when attempts are spent or the error is final. The new state.
UPDATE kiva_jobs SET
  state = CASE WHEN :final::boolean OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
  run_at = now() + :delay_ms::bigint * interval '1 millisecond',
  finished_at = CASE WHEN :final::boolean OR attempts >= max_attempts THEN now() END,
  last_error = :error::text, lease_until = NULL
WHERE id = :id AND state = 'running' AND attempts = :attempt::integer
RETURNING state;

-- name: get_job^
SELECT id, name, state, attempts, max_attempts, priority, payload::text AS payload,
       result::text AS result, last_error, enqueued_by, request_id, unique_key,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
       to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS run_at,
       to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS finished_at
FROM kiva_jobs WHERE id = :id;

-- name: list_jobs
SELECT id, name, state, attempts, max_attempts, enqueued_by,
       to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS run_at, last_error
FROM kiva_jobs WHERE :state::text IS NULL OR state = :state::text
ORDER BY id DESC LIMIT :limit::integer;

-- name: retry_job!
-- A failed or cancelled job queued again, with its attempts anew.
UPDATE kiva_jobs SET state = 'queued', run_at = now(), attempts = 0, finished_at = NULL
WHERE id = :id AND state IN ('failed', 'cancelled');

-- name: cancel_job!
UPDATE kiva_jobs SET state = 'cancelled', finished_at = now()
WHERE id = :id AND state = 'queued';

-- name: undeclared_jobs
-- Pending jobs whose name this binary does not declare: reported at start, never run.
SELECT name, count(*) AS pending FROM kiva_jobs
WHERE state IN ('queued', 'running') AND NOT (name = ANY(:names::text[]))
GROUP BY name ORDER BY name;

-- name: purge_jobs!
-- At most :batch finished jobs older than :keep_seconds deleted (jobs workers, docs/jobs.md
-- "Purge"): a short transaction each; SKIP LOCKED, so workers of several hosts never wait.
DELETE FROM kiva_jobs WHERE id IN (
  SELECT id FROM kiva_jobs
  WHERE state IN ('done', 'failed', 'cancelled')
    AND finished_at < now() - :keep_seconds::bigint * interval '1 second'
  ORDER BY finished_at LIMIT :batch::integer FOR UPDATE SKIP LOCKED);

-- name: purge_job_periods!
-- A periodic job's periods before :before, long done (kiva_job_periods).
DELETE FROM kiva_job_periods WHERE name = :name AND period < :before::bigint;

-- name: job_queue_stats
-- The pending jobs by name (GET /metrics): due, scheduled for later, running (workers busy),
-- and the age of the oldest due one. Pending rows only: the partial index kiva_jobs_due.
SELECT name,
       count(*) FILTER (WHERE state = 'queued' AND run_at <= now()) AS due,
       count(*) FILTER (WHERE state = 'queued' AND run_at > now()) AS scheduled,
       count(*) FILTER (WHERE state = 'running') AS running,
       coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'queued' AND run_at <= now())),
                0)::double precision AS oldest_due_seconds
FROM kiva_jobs WHERE state IN ('queued', 'running')
GROUP BY name ORDER BY name;
