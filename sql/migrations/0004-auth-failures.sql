-- Brute-force throttling: failed password checks per login and per client address, in the
-- database so that every process and host of the instance counts the same failures.
-- Compatible with the previous release: its worker never reads the table.
CREATE TABLE IF NOT EXISTS AuthFailure(
  kind TEXT NOT NULL CHECK (kind IN ('login', 'address')),
  key TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failure TIMESTAMPTZ NOT NULL,
  locked_until TIMESTAMPTZ,
  PRIMARY KEY (kind, key)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON AuthFailure TO :"runtime";
