-- name: get_items
SELECT iid, name FROM Item ORDER BY iid;

-- name: add_item$
INSERT INTO Item(name) VALUES (:name) RETURNING iid;
