-- Test users (public fixtures, not secrets): calvin/hobbes (admin), hobbes/susie.
-- Hashes by `kiva-pass2csv --cost 4`, and one item.
INSERT INTO Person(login, pword, is_admin) VALUES
  ('calvin', '$2b$04$HpeXRT49fgwRB6YO20Kg8u1XGSIfMFkiesraVj.FqYqg595s9P9BW', TRUE),
  ('hobbes', '$2b$04$VnQKA1u4b1pdI23b/jGxEuhf6G6xFUOxS6DKFV3cCab6wmGc91..a', FALSE);
INSERT INTO Item(name, owner) VALUES ('tiger', 'calvin');
