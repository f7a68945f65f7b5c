-- Drops the schema. Usage: psql -1 -f drop.sql "dbname=kiva"
DROP TABLE IF EXISTS AuthFailure, RevokedToken, CredentialChange, Audit, Owned, Utilisateur, Stuff;
DROP FUNCTION IF EXISTS kiva_audit();
