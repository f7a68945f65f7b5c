-- The framework's schema, for development (make run) and plain psql: every migration of
-- framework/sql/migrations in order (make deploy applies them as migrations, before the
-- application's). Loaded before the application's create.sql, as the same role.
\if :{?runtime}
\else
  \set runtime :USER
\endif
\ir migrations/0001-auth-state.sql
\ir migrations/0002-idempotency.sql
\ir migrations/0003-jobs.sql
