-- The test client's own application (tests/testclient): people who log in, and items.
CREATE TABLE Person(login TEXT PRIMARY KEY, pword TEXT NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE Item(iid SERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL,
                  owner TEXT NOT NULL REFERENCES Person(login));
GRANT SELECT, INSERT, UPDATE, DELETE ON Person, Item TO :"runtime";
GRANT USAGE ON SEQUENCE item_iid_seq TO :"runtime";
