-- name: get_items
SELECT iid, name, owner FROM Item ORDER BY iid;

-- name: get_item^
SELECT iid, name, owner FROM Item WHERE iid = :iid;

-- name: add_item$
INSERT INTO Item(name, owner) VALUES (:name, :owner) RETURNING iid;

-- name: password_of$
SELECT pword FROM Person WHERE login = :login;

-- name: is_admin$
SELECT is_admin FROM Person WHERE login = :login;
