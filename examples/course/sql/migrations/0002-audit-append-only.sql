-- The audit trail is append-only for the worker: its triggers insert rows (as the runtime
-- role, the function is SECURITY INVOKER), nothing in the worker changes or deletes them.
REVOKE UPDATE, DELETE, TRUNCATE ON Audit FROM :"runtime";
