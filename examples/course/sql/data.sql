-- Initial data for the Stuff example. Usage: psql -1 -f data.sql "dbname=kiva"
-- Demo users and their objects are loaded by load-demo.sql (after users.in -> kiva-pass2csv).
INSERT INTO Stuff(stuff) VALUES ('Chair'), ('Desk');
