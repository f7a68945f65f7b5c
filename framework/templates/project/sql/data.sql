-- Demo rows for make run and the tests (make deploy-init DEMO_DATA=1 loads them too).
INSERT INTO Item(name) VALUES ('first item'), ('second item');
