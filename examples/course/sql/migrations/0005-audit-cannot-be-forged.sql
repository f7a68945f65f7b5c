-- Audit rows cannot be forged: only the trigger function writes them, with its owner's
-- rights (SECURITY DEFINER, fixed search_path); the runtime role keeps SELECT only.
-- Compatible with the previous release: its worker writes Audit through the same triggers.
ALTER FUNCTION kiva_audit() SECURITY DEFINER SET search_path = pg_catalog, public;
-- Where one role owns the tables and runs the worker (make run's dev database), revoking
-- from it would stop the trigger function itself: the owner keeps its rights there.
SELECT :'runtime' <> current_user AS kiva_separate_runtime \gset
\if :kiva_separate_runtime
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON Audit FROM :"runtime";
\endif
