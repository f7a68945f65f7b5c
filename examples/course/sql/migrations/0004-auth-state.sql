-- Shared authentication state, in the database so that every process and host of the
-- instance sees it: failed password checks per login and per client address (throttling),
-- revoked tokens (logout) and password changes (older tokens and cached checks refused).
-- Compatible with the previous release: its worker never reads these tables.
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
GRANT SELECT, INSERT, UPDATE, DELETE ON AuthFailure, RevokedToken, CredentialChange TO :"runtime";
