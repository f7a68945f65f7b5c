-- The roles and the database of one kiva instance, with least privilege:
--   owner role    owns the database, the schema and every table; runs the migrations
--                 (make deploy) and the initial load (make deploy-init); few connections.
--   runtime role  what the worker connects as: reads and writes rows (SELECT, INSERT,
--                 UPDATE, DELETE), uses sequences, runs the audit trigger; cannot create,
--                 alter, drop or truncate anything, and has a connection limit.
-- Default privileges give the runtime role the same rights on what later migrations create.
-- Idempotent: run it again to change limits or passwords, or after a manual change.
--
-- Run by a superuser (or a role with CREATEROLE and CREATEDB), e.g. on the database host:
--   runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -v database=kiva_prod \
--     -v owner=kiva_prod_owner -v runtime=kiva_prod -f sql/roles.sql
-- Optional variables: owner_password, runtime_password (set or change the passwords; stored
-- as SCRAM verifiers; deploy/prepare-db.sh passes them from files, never on a command line),
-- runtime_connections (default 30), owner_connections (default 3).
-- The runtime role's limit must cover every worker connection at once: the systemd worker's
-- threads x processes, plus twice Apache's FcgidMaxProcessesPerClass (after a deploy the old
-- binary's processes idle out while the new ones start), plus a margin.

\set ON_ERROR_STOP on
\if :{?database}
\else
  \warn 'roles.sql: set -v database=NAME -v owner=ROLE -v runtime=ROLE'
  SELECT 1/0 AS missing_variable_database;
\endif
\if :{?owner}
\else
  SELECT 1/0 AS missing_variable_owner;
\endif
\if :{?runtime}
\else
  SELECT 1/0 AS missing_variable_runtime;
\endif
\if :{?runtime_connections}
\else
  \set runtime_connections 30
\endif
\if :{?owner_connections}
\else
  \set owner_connections 3
\endif

-- Passwords are not written to the server log, whatever log_statement says.
SELECT rolsuper AS is_superuser FROM pg_roles WHERE rolname = current_user \gset
\if :is_superuser
  SET log_statement = 'none';
  SET log_min_duration_statement = -1;
\endif
SET password_encryption = 'scram-sha-256';

-- ---------------------------------------------------------------- roles
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') AS create_owner,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'runtime') AS create_runtime \gset
\if :create_owner
  \echo roles.sql: creating the owner role :owner
  CREATE ROLE :"owner" LOGIN;
\endif
\if :create_runtime
  \echo roles.sql: creating the runtime role :runtime
  CREATE ROLE :"runtime" LOGIN;
\endif
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  INHERIT CONNECTION LIMIT :owner_connections;
-- NOINHERIT and no membership: the runtime role can never act as the owner.
ALTER ROLE :"runtime" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  NOINHERIT CONNECTION LIMIT :runtime_connections;
\if :{?owner_password}
  ALTER ROLE :"owner" PASSWORD :'owner_password';
\endif
\if :{?runtime_password}
  ALTER ROLE :"runtime" PASSWORD :'runtime_password';
\endif

-- ---------------------------------------------------------------- database
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') AS create_database \gset
\if :create_database
  \echo roles.sql: creating the database :database
  CREATE DATABASE :"database" OWNER :"owner" ENCODING 'UTF8' TEMPLATE template0;
\else
  ALTER DATABASE :"database" OWNER TO :"owner";
\endif
-- Only the two roles connect; nobody gets temporary tables by default.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"runtime";

\connect :"database"
SET password_encryption = 'scram-sha-256';

-- ---------------------------------------------------------------- schema and privileges
-- The public schema belongs to the owner; others may only use what is in it.
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"runtime";

-- What exists already (roles.sql run again after migrations)...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"runtime";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"runtime";
-- ... except that the audit trail is written by its trigger function only (migrations 0002
-- and 0005): the runtime role reads it.
SELECT to_regclass('public.audit') IS NOT NULL AS has_audit \gset
\if :has_audit
  REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON Audit FROM :"runtime";
\endif
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO :"runtime";
-- ... and what the owner creates later (migrations run as the owner).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT EXECUTE ON FUNCTIONS TO :"runtime";
-- Functions are executable by PUBLIC unless said otherwise: only the runtime role may.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

\echo roles.sql: database :database, owner :owner, runtime :runtime (connection limit :runtime_connections) ready
