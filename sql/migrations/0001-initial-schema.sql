-- The schema of the first release: sql/create.sql (idempotent), included rather than copied.
\ir ../create.sql
