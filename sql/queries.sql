-- The named queries of kiva, loaded by the worker at start and prepared once per
-- connection. Suffixes: none = list of rows, ^ = one row or none, $ = one value or none,
-- ! = row count. Parameters are :named; handlers call queries by name.

-- name: now$
-- The database's clock, for /version.
SELECT CURRENT_TIMESTAMP;

-- ---------------------------------------------------------------- Stuff

-- name: get_stuff_all
SELECT sid, stuff FROM Stuff ORDER BY sid;

-- name: get_stuff_like
SELECT sid, stuff FROM Stuff WHERE stuff LIKE :filter ORDER BY sid;

-- name: get_stuff_ids
-- The things of a list of ids (GET /stuff?ids=1&ids=3): one parameter, an array.
SELECT sid, stuff FROM Stuff WHERE sid = ANY(:ids) ORDER BY sid;

-- name: get_stuff_sid^
SELECT sid, stuff FROM Stuff WHERE sid = :sid;

-- name: add_stuff$
INSERT INTO Stuff(stuff) VALUES (:stuff) RETURNING sid;

-- name: upd_stuff_sid!
-- The row count says whether the thing existed: no separate check, no race, one round trip.
UPDATE Stuff SET stuff = :stuff WHERE sid = :sid;

-- name: del_stuff_sid!
DELETE FROM Stuff WHERE sid = :sid;

-- name: count_stuff$
-- How many things there are, for GET /stats: a count a dashboard polls, which may lag the
-- primary by the standby's replay delay, so a standby may answer it (db_replica).
-- kiva: replica
SELECT count(*) FROM Stuff;

-- ---------------------------------------------------------------- Users

-- name: user_perms^
-- The password hash and admin flag of a login (authentication and group callbacks).
SELECT pword, isAdmin AS isadmin FROM Utilisateur WHERE login = :login;

-- name: add_user$
INSERT INTO Utilisateur(login, pword, isAdmin) VALUES (:login, :pword, :admin) RETURNING id;

-- name: set_password!
UPDATE Utilisateur SET pword = :pword WHERE login = :login;

-- name: set_password_uid$
-- The login whose password was set; none when there is no such user.
UPDATE Utilisateur SET pword = :pword WHERE id = :uid RETURNING login;

-- ---------------------------------------------------------------- Owned objects

-- name: get_owned
SELECT oid, object, owner FROM Owned ORDER BY oid;

-- name: can_access_owned^
-- Whether login owns object oid; no row when there is no such object.
SELECT u.login = :login AS owned
FROM Owned AS o JOIN Utilisateur AS u ON (o.owner = u.id)
WHERE o.oid = :oid;

-- name: get_object_oid^
SELECT oid, object FROM Owned WHERE oid = :oid;

-- name: can_access_user^
-- Whether login is user uid; no row when there is no such user.
SELECT u.login = :login AS self FROM Utilisateur AS u WHERE u.id = :uid;

-- name: get_owned_uid
SELECT oid, object, owner FROM Owned WHERE owner = :uid ORDER BY oid;

-- ---------------------------------------------------------------- Throttling (framework)
-- Failed password checks per login and per client address (framework/security/throttle).

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

-- ---------------------------------------------------------------- Revocation (framework)
-- Logout and password changes (framework/security/revocation).

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
