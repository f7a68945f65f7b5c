-- Empties every table and restarts ids. Usage: psql -1 -f truncate.sql "dbname=kiva"
TRUNCATE AuthFailure, RevokedToken, CredentialChange, Audit, Owned, Utilisateur, Stuff RESTART IDENTITY;
