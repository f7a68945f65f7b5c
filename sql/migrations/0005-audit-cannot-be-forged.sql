-- Audit rows cannot be forged: only the trigger function writes them, with its owner's
-- rights (SECURITY DEFINER, fixed search_path); the runtime role keeps SELECT only.
-- Compatible with the previous release: its worker writes Audit through the same triggers.
ALTER FUNCTION kiva_audit() SECURITY DEFINER SET search_path = pg_catalog, public;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON Audit FROM :"runtime";
