-- The demo accounts of sql/users.in for the in-process tests (public fixtures, not secrets):
-- admin/admin-password (ADMIN), alice/alice-password. Hashes by `kiva-pass2csv --cost 4`.
INSERT INTO Account(login, pword, is_admin) VALUES
  ('admin', '$2b$04$.z3603Qi8zN6maZQbvKPpOprFi8sVTRgGUlZ8XT92bkEIvRxAEy8y', TRUE),
  ('alice', '$2b$04$MUDjjEd9rZP0406IrF6CbOUWMgLgmAxDAofm/s6B/i1HtU9TL8eKq', FALSE);
