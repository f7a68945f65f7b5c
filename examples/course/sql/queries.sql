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

-- name: get_stuff_page
-- A page of GET /stuff?limit=N (keyset pagination): the things after the key :after (NULL:
-- from the first), filtered when :filter is not NULL, in sid order, at most :n of them.
SELECT sid, stuff FROM Stuff
WHERE (:after::bigint IS NULL OR sid > :after::bigint)
  AND (:filter::text IS NULL OR stuff LIKE :filter::text)
ORDER BY sid LIMIT :n::bigint;

-- name: lock_stuff_sid^
-- The thing as GET /stuff/<sid> shows it, locked until the request's transaction ends: what
-- If-Match is checked against before PUT, PATCH or DELETE, with no write in between.
SELECT sid, stuff FROM Stuff WHERE sid = :sid FOR UPDATE;

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

-- name: count_stuff_named$
-- How many of these names are taken already (POST /stuff/import refuses them at once).
SELECT count(*) FROM Stuff WHERE stuff = ANY(:names);
