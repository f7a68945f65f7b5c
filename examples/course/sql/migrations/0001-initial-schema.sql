-- The schema of the first release, written out here (a migration never changes once
-- applied). Until this file held it, it read `\ir ../create.sql`: instances initialized then
-- recorded that file's checksum, which checksums.former accepts for version 1.
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

-- Audit: who created, changed or deleted which row, written by triggers in the same
-- transaction as the change (a rolled back change leaves no audit row). The worker sets
-- kiva.login for the transaction of an authenticated request; NULL means anonymous.
CREATE TABLE IF NOT EXISTS Audit(
  aid BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
  login TEXT,
  operation TEXT NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
  tab TEXT NOT NULL,
  data JSONB NOT NULL,        -- the row after INSERT/UPDATE, before DELETE
  previous JSONB              -- the row before an UPDATE
);
CREATE INDEX IF NOT EXISTS audit_tab ON Audit(tab, at);

CREATE OR REPLACE FUNCTION kiva_audit() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  who TEXT := NULLIF(current_setting('kiva.login', TRUE), '');
BEGIN
  -- Password hashes are not copied into the audit trail.
  IF TG_OP = 'DELETE' THEN
    INSERT INTO Audit(login, operation, tab, data)
      VALUES (who, TG_OP, TG_TABLE_NAME, to_jsonb(OLD) - 'pword');
    RETURN OLD;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO Audit(login, operation, tab, data, previous)
      VALUES (who, TG_OP, TG_TABLE_NAME, to_jsonb(NEW) - 'pword', to_jsonb(OLD) - 'pword');
  ELSE
    INSERT INTO Audit(login, operation, tab, data)
      VALUES (who, TG_OP, TG_TABLE_NAME, to_jsonb(NEW) - 'pword');
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
