-- Demo users and owned objects, after create.sql and data.sql. The CSV is made by
--   kiva-pass2csv sql/users.in > users.csv
-- and this file is run from the directory holding users.csv, or with -v users_csv=PATH:
--   psql -1 -v ON_ERROR_STOP=1 -v users_csv=var/users.csv -f sql/load-demo.sql "dbname=kiva"
\if :{?users_csv}
\else
  \set users_csv users.csv
\endif
\set copy_users '\\copy Utilisateur(login, pword, isAdmin) FROM ' :'users_csv' ' (FORMAT csv)'
:copy_users

INSERT INTO Owned(object, owner)
  SELECT o.object, u.id
  FROM (VALUES (1, 'Box', 'calvin'), (2, 'Box', 'hobbes'), (3, 'Box', 'susie'),
               (4, 'Tiger', 'calvin'), (5, 'Pen', 'calvin'), (6, 'Cushion', 'hobbes'))
       AS o(rank, object, login)
  JOIN Utilisateur AS u USING (login)
  ORDER BY o.rank;
