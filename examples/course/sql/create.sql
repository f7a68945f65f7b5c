-- kiva schema, for development (make run) and plain psql: every migration in order, so that
-- sql/migrations is the one source of truth (the deployment test fails if a migration is
-- missing here). Usage, as the role that will own the tables:
--   psql -1 -v ON_ERROR_STOP=1 [-v runtime=ROLE] -f sql/create.sql "dbname=kiva"
-- runtime: the worker's role (default: the connected one, as make run's single role).
\if :{?runtime}
\else
  \set runtime :USER
\endif
\ir migrations/0001-initial-schema.sql
\ir migrations/0002-audit-append-only.sql
\ir migrations/0003-audit-request-id.sql
\ir migrations/0004-auth-state.sql
\ir migrations/0005-audit-cannot-be-forged.sql
