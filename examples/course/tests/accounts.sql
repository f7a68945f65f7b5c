-- The demo users of sql/users.in and their objects (sql/load-demo.sql's), for the in-process
-- tests (public fixtures, not secrets): calvin/hobbes (ADMIN), hobbes/susie, susie/derkins.
-- Hashes by `kiva-pass2csv --cost 4`.
INSERT INTO Utilisateur(login, pword, isAdmin) VALUES
  ('calvin', '$2b$04$JVyxcD8hBi2B3pgW9IiAD.7nIjaqiv33rFM2qbqJy5NTwMDIBdjiK', TRUE),
  ('hobbes', '$2b$04$TXzqQufy3yoS92fcyPC0HeCMLqtFyOBnCQzCqL.sB8FXt3kg.I.FK', FALSE),
  ('susie', '$2b$04$6/a5.mMB3KVgbW1ml6nfG.6doZZIzF.rff0yDnImLBVyytnJnmmUS', FALSE);
INSERT INTO Owned(object, owner)
  SELECT o.object, u.id
  FROM (VALUES (1, 'Box', 'calvin'), (2, 'Box', 'hobbes'), (3, 'Box', 'susie'),
               (4, 'Tiger', 'calvin'), (5, 'Pen', 'calvin'), (6, 'Cushion', 'hobbes'))
       AS o(rank, object, login)
  JOIN Utilisateur AS u USING (login)
  ORDER BY o.rank;
