-- @NAME@'s named queries, typed against the schema at build time (generated/queries.hpp).
-- Suffixes: none = list of rows, ^ = one row or none, $ = one value or none, ! = row count.

-- ---------------------------------------------------------------- Accounts

-- name: account_password$
SELECT pword FROM Account WHERE login = :login;

-- name: account_is_admin$
SELECT is_admin FROM Account WHERE login = :login;

-- name: set_account_password!
UPDATE Account SET pword = :pword WHERE login = :login;

-- ---------------------------------------------------------------- Items

-- name: get_items
SELECT iid, name FROM Item ORDER BY iid;

-- name: get_item^
SELECT iid, name FROM Item WHERE iid = :iid;

-- name: add_item$
INSERT INTO Item(name) VALUES (:name) RETURNING iid;

-- name: rename_item!
UPDATE Item SET name = :name WHERE iid = :iid;

-- name: delete_item!
DELETE FROM Item WHERE iid = :iid;
