-- @NAME@'s first schema. Migrations run as the owner role with psql variables :"owner" and
-- :"runtime" (make deploy); never edit one once deployed: write the next (0002-...).
CREATE TABLE Account(
  login TEXT PRIMARY KEY,
  pword TEXT NOT NULL,               -- a password hash (kiva-pass2csv, kiva-admin)
  is_admin BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE Item(
  iid SERIAL PRIMARY KEY,
  name TEXT UNIQUE NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON Account, Item TO :"runtime";
GRANT USAGE ON SEQUENCE item_iid_seq TO :"runtime";
