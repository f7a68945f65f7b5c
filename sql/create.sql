-- kiva schema: the Stuff example, users and owned objects, and the audit trail.
-- Usage: psql -1 -f create.sql "dbname=kiva"   (idempotent: IF NOT EXISTS / OR REPLACE)
-- Ids are BIGINT so that every id the router accepts (a 64-bit integer) is a valid key.

CREATE TABLE IF NOT EXISTS Stuff(
  sid BIGSERIAL PRIMARY KEY,
  stuff TEXT UNIQUE NOT NULL
);

CREATE TABLE IF NOT EXISTS Utilisateur(
  id BIGSERIAL PRIMARY KEY,
  login TEXT UNIQUE NOT NULL,                     -- authentication
  pword TEXT NOT NULL,                            -- bcrypt hash, never the password
  isAdmin BOOLEAN NOT NULL DEFAULT FALSE,         -- authorization: group ADMIN
  created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS Owned(
  oid BIGSERIAL PRIMARY KEY,
  object TEXT NOT NULL,
  owner BIGINT NOT NULL REFERENCES Utilisateur,
  UNIQUE(object, owner)
);
CREATE INDEX IF NOT EXISTS owned_owner ON Owned(owner);

-- Failed password checks, per login and per client address (kind 'login' or 'address'),
-- shared by every process and host of the instance: the worker refuses a key whose
-- locked_until is in the future (429), counts each failure, and a success deletes the
-- login's row. A count restarts when its last failure is old (see the auth_* options).
CREATE TABLE IF NOT EXISTS AuthFailure(
  kind TEXT NOT NULL CHECK (kind IN ('login', 'address')),
  key TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failure TIMESTAMPTZ NOT NULL,
  locked_until TIMESTAMPTZ,
  PRIMARY KEY (kind, key)
);

-- Logout: tokens refused until they expire (digest: SHA-256 of the token, hex). Rows past
-- their expiry mean nothing and are deleted by the next logout.
CREATE TABLE IF NOT EXISTS RevokedToken(
  digest TEXT PRIMARY KEY,
  expires TIMESTAMPTZ NOT NULL
);

-- Password changes: tokens issued before changed_at are refused, and a worker's cached
-- password check made under another changed_at is not trusted.
CREATE TABLE IF NOT EXISTS CredentialChange(
  login TEXT PRIMARY KEY,
  changed_at TIMESTAMPTZ NOT NULL
);

-- Audit: who created, changed or deleted which row, written by triggers in the same
-- transaction as the change (a rolled back change leaves no audit row). The worker sets
-- kiva.login for the transaction of an authenticated request (NULL means anonymous), and
-- kiva.request_id for every transaction: the X-Request-ID the request was answered with.
CREATE TABLE IF NOT EXISTS Audit(
  aid BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
  login TEXT,
  operation TEXT NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
  tab TEXT NOT NULL,
  data JSONB NOT NULL,        -- the row after INSERT/UPDATE, before DELETE
  previous JSONB,             -- the row before an UPDATE
  request_id TEXT             -- the request that made the change (X-Request-ID)
);
ALTER TABLE Audit ADD COLUMN IF NOT EXISTS request_id TEXT;  -- clusters made before it
CREATE INDEX IF NOT EXISTS audit_tab ON Audit(tab, at);

-- SECURITY DEFINER: the function writes Audit with its owner's rights, so that the runtime
-- role needs (and has, migration 0005) no INSERT, UPDATE or DELETE on Audit: rows cannot be
-- forged. A fixed search_path, as every definer function must have.
CREATE OR REPLACE FUNCTION kiva_audit() RETURNS TRIGGER LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  who TEXT := NULLIF(current_setting('kiva.login', TRUE), '');
  rid TEXT := NULLIF(current_setting('kiva.request_id', TRUE), '');
BEGIN
  -- Password hashes are not copied into the audit trail.
  IF TG_OP = 'DELETE' THEN
    INSERT INTO Audit(login, operation, tab, data, request_id)
      VALUES (who, TG_OP, TG_TABLE_NAME, to_jsonb(OLD) - 'pword', rid);
    RETURN OLD;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO Audit(login, operation, tab, data, previous, request_id)
      VALUES (who, TG_OP, TG_TABLE_NAME, to_jsonb(NEW) - 'pword', to_jsonb(OLD) - 'pword', rid);
  ELSE
    INSERT INTO Audit(login, operation, tab, data, request_id)
      VALUES (who, TG_OP, TG_TABLE_NAME, to_jsonb(NEW) - 'pword', rid);
  END IF;
  RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER stuff_audit AFTER INSERT OR UPDATE OR DELETE ON Stuff
  FOR EACH ROW EXECUTE FUNCTION kiva_audit();
CREATE OR REPLACE TRIGGER utilisateur_audit AFTER INSERT OR UPDATE OR DELETE ON Utilisateur
  FOR EACH ROW EXECUTE FUNCTION kiva_audit();
CREATE OR REPLACE TRIGGER owned_audit AFTER INSERT OR UPDATE OR DELETE ON Owned
  FOR EACH ROW EXECUTE FUNCTION kiva_audit();
