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
