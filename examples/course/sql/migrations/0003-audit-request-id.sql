-- The request id (X-Request-ID) in each audit row: the worker sets kiva.request_id for every
-- transaction, as it sets kiva.login; the trigger copies it. Rows written before have none.
-- Compatible with the previous release: its worker never sets kiva.request_id (NULL here).
ALTER TABLE Audit ADD COLUMN IF NOT EXISTS request_id TEXT;

CREATE OR REPLACE FUNCTION kiva_audit() RETURNS TRIGGER LANGUAGE plpgsql AS $$
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
