-- The demo accounts, after create.sql and data.sql: psql -v users_csv=PATH (a CSV made by
-- kiva-pass2csv sql/users.in).
\if :{?users_csv}
\else
  \set users_csv users.csv
\endif
\set copy_users '\\copy Account(login, pword, is_admin) FROM ' :'users_csv' ' (FORMAT csv)'
:copy_users
