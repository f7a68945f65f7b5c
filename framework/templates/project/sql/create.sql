-- @NAME@'s schema for development (make run) and plain psql: every migration in order (add
-- the \ir line of each new migration here too).
\if :{?runtime}
\else
  \set runtime :USER
\endif
\ir migrations/0001-initial-schema.sql
