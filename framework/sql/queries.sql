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
WITH expired AS (DELETE FROM RevokedToken WHERE expires < now())
INSERT INTO RevokedToken(digest, expires) VALUES (:digest, to_timestamp(:expires::bigint))
ON CONFLICT (digest) DO NOTHING;

-- name: credentials_changed$
-- clock_timestamp, not now(): the change happens now, not when the transaction began. The
-- new generation (microseconds since 1970), for the shared cache.
INSERT INTO CredentialChange(login, changed_at) VALUES (:login, clock_timestamp())
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
