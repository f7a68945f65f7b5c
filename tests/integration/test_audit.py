"""Audit: the Audit table, written by triggers in the request's transaction with the
authenticated login (NULL for anonymous), no password hashes, nothing left by a rolled back
request; and the worker's one log line per request, with the login and without credentials."""

import os
import subprocess
import unittest
import uuid

import harness
from authkit import AuthTest, audit_rows, form, max_aid, psql, sql_text, unique


def by_login(login):
    return f"tab = 'utilisateur' AND data->>'login' = {sql_text(login)}"


def by_stuff(name):
    return f"tab = 'stuff' AND (data->>'stuff' = {sql_text(name)} OR previous->>'stuff' = {sql_text(name)})"


def by_sid(sid):
    return f"tab = 'stuff' AND (data->>'sid')::bigint = {int(sid)}"


class TestAuditUsers(AuthTest):
    def test_users_mgt_records_the_admin_and_no_password(self):
        before = max_aid()
        login = unique("audited")
        uid = self.call("POST", "/users-mgt", 201, auth=("calvin", "hobbes"),
                        json_body={"u": {"login": login, "password": "audited-pw"}}).json
        rows = audit_rows(by_login(login))
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertGreater(row["aid"], before)
        self.assertEqual((row["login"], row["operation"], row["tab"], row["previous"]),
                         ("calvin", "INSERT", "utilisateur", None))
        self.assertNotIn("pword", row["data"])
        self.assertEqual(set(row["data"]), {"id", "login", "isadmin", "created"})
        self.assertEqual((row["data"]["id"], row["data"]["login"], row["data"]["isadmin"]), (uid, login, False))
        # nowhere in the trail: neither the password nor its hash
        pword = psql(f"SELECT pword FROM Utilisateur WHERE id = {uid}")
        self.assertTrue(pword.startswith("$2b$04$"), pword)
        self.assertEqual(psql(f"SELECT count(*) FROM Audit WHERE data::text LIKE {sql_text('%' + pword[7:] + '%')} "
                              "OR data::text LIKE '%audited-pw%' OR data ? 'pword' OR previous ? 'pword'"), "0")

    def test_users_mgt_by_token_and_by_a_new_admin(self):
        admin = unique("audit-admin")
        self.call("POST", "/users-mgt", 201, token=self.token("calvin"),
                  json_body={"u": {"login": admin, "password": "adminpw", "isAdmin": True}})
        [row] = audit_rows(by_login(admin))
        self.assertEqual((row["login"], row["data"]["isadmin"]), ("calvin", True))
        login = unique("by-admin")
        self.call("POST", "/users-mgt", 201, auth=(admin, "adminpw"), json_body={"u": {"login": login, "password": "abcd"}})
        [row] = audit_rows(by_login(login))
        self.assertEqual(row["login"], admin)

    def test_register_records_who_registered(self):
        for who, kwargs in ((None, {}), ("susie", {"auth": ("susie", "derkins")}), ("hobbes", {"token": self.token("hobbes")})):
            with self.subTest(who=who):
                login = unique("reg")
                uid = self.call("POST", "/register", 201, data=form(login=login, pword="abcd"), **kwargs).json
                [row] = audit_rows(by_login(login))
                self.assertEqual((row["login"], row["operation"], row["data"]["id"]), (who, "INSERT", uid))
                self.assertNotIn("pword", row["data"])

    def test_refused_requests_leave_no_trace(self):
        before = max_aid()
        login = unique("refused")
        u = {"login": login, "password": "abcd"}
        self.call("POST", "/users-mgt", 403, auth=("hobbes", "susie"), json_body={"u": u})
        self.call("POST", "/users-mgt", 401, json_body={"u": u})
        self.call("POST", "/users-mgt", 401, auth=("calvin", "wrong"), json_body={"u": u})
        self.call("POST", "/users-mgt", 400, auth=("calvin", "hobbes"), json_body={"u": {**u, "password": "abc"}})
        self.call("POST", "/register", 400, data=form(login=login, pword="abc"))
        self.call("POST", "/register", 401, auth=("susie", "x"), data=form(login=login, pword="abcd"))
        self.assertEqual(audit_rows(by_login(login)), [])
        self.assertEqual(max_aid(), before)

    def test_duplicate_user_rolls_back(self):
        login = unique("dup")
        self.call("POST", "/users-mgt", 201, auth=("calvin", "hobbes"), json_body={"u": {"login": login, "password": "abcd"}})
        after_first = max_aid()
        self.call("POST", "/users-mgt", 409, auth=("calvin", "hobbes"),
                  json_body={"u": {"login": login, "password": "efgh", "isAdmin": True}})
        self.call("POST", "/register", 409, data=form(login=login, pword="ijkl"))
        self.assertEqual(len(audit_rows(by_login(login))), 1)
        self.assertEqual(max_aid(), after_first)


class TestAuditStuff(AuthTest):
    def post(self, status=201, **kwargs):
        name = unique("audit-stuff")
        r = self.call("POST", "/stuff", status, data=form(stuff=name), **kwargs)
        return name, (r.json["sid"] if status == 201 else None)

    def test_login_of_each_scheme_on_an_open_route(self):
        fresh, password, _ = self.register()  # its first check misses the password cache
        cases = [(None, {}), ("hobbes", {"auth": ("hobbes", "susie")}), ("susie", {"token": self.token("susie")}),
                 (fresh, {"auth": (fresh, password)}), (fresh, {"auth": (fresh, password)}),
                 ("calvin", {"headers": {"Authorization": "basic " + "Y2FsdmluOmhvYmJlcw=="}})]
        for who, kwargs in cases:
            with self.subTest(who=who):
                name, sid = self.post(**kwargs)
                [row] = audit_rows(by_stuff(name))
                self.assertEqual((row["login"], row["operation"], row["tab"]), (who, "INSERT", "stuff"))
                self.assertEqual(row["data"], {"sid": sid, "stuff": name})
                self.assertIsNone(row["previous"])

    def test_update_and_delete(self):
        name, sid = self.post()
        renamed = unique("renamed")
        self.call("PUT", f"/stuff/{sid}", 204, data=form(stuff=renamed), auth=("calvin", "hobbes"))
        self.call("DELETE", f"/stuff/{sid}", 204, token=self.token("hobbes"))
        rows = audit_rows(by_sid(sid))
        self.assertEqual([(r["operation"], r["login"]) for r in rows],
                         [("INSERT", None), ("UPDATE", "calvin"), ("DELETE", "hobbes")])
        self.assertEqual(rows[1]["data"], {"sid": sid, "stuff": renamed})
        self.assertEqual(rows[1]["previous"], {"sid": sid, "stuff": name})
        self.assertEqual(rows[2]["data"], {"sid": sid, "stuff": renamed})
        self.assertIsNone(rows[2]["previous"])
        self.assertEqual(sorted(r["aid"] for r in rows), [r["aid"] for r in rows])

    def test_no_login_leaks_into_the_next_request(self):
        # worker threads and their connections serve many requests: an anonymous write after
        # an authenticated request (writing or not, succeeding or not) is still anonymous
        expected = []
        for i in range(6):
            expected.append((self.post(auth=("calvin", "hobbes"))[0], "calvin"))
            expected.append((self.post()[0], None))
            self.call("GET", "/hello", 200, token=self.token("susie"))      # no query at all
            expected.append((self.post()[0], None))
            self.call("GET", "/admin", 403, auth=("hobbes", "susie"))        # a query, then 403
            expected.append((self.post()[0], None))
            self.call("POST", "/stuff", 409, data=form(stuff="Chair"), auth=("susie", "derkins"))  # rolled back
            expected.append((self.post()[0], None))
            expected.append((self.post(token=self.token("hobbes"))[0], "hobbes"))
        for name, who in expected:
            with self.subTest(name=name):
                [row] = audit_rows(by_stuff(name))
                self.assertEqual(row["login"], who)

    def test_rolled_back_update_leaves_no_row(self):
        a, sid_a = self.post()
        b, _ = self.post()
        before = max_aid()
        self.call("PUT", f"/stuff/{sid_a}", 409, data=form(stuff=b), auth=("calvin", "hobbes"))
        self.call("PATCH", f"/stuff/{sid_a}", 409, data=form(stuff=b), token=self.token("hobbes"))
        self.call("POST", "/stuff", 409, data=form(stuff=a), auth=("calvin", "hobbes"))
        self.assertEqual([r["operation"] for r in audit_rows(by_sid(sid_a))], ["INSERT"])
        self.assertEqual(max_aid(), before)
        self.assertEqual(self.call("GET", f"/stuff/{sid_a}", 200).json["stuff"], a)

    def test_audit_rows_share_the_fate_of_their_transaction(self):
        # The property the HTTP tests above rely on, shown directly: the unique violations
        # they provoke fail before any row trigger fires, so they cannot tell "rolled back"
        # from "never written"; here a row is written, then rolled back.
        name = unique("rolled-back")
        psql(f"BEGIN; INSERT INTO Stuff(stuff) VALUES ({sql_text(name)}); ROLLBACK;")
        self.assertEqual(audit_rows(by_stuff(name)), [])
        psql(f"BEGIN; SELECT set_config('kiva.login', 'someone', true); "
             f"INSERT INTO Stuff(stuff) VALUES ({sql_text(name)}); COMMIT;")
        [row] = audit_rows(by_stuff(name))
        self.assertEqual(row["login"], "someone")
        # the setting is the transaction's only
        psql(f"UPDATE Stuff SET stuff = {sql_text(name + '-2')} WHERE stuff = {sql_text(name)}")
        rows = audit_rows(by_stuff(name))
        self.assertEqual([(r["operation"], r["login"]) for r in rows], [("INSERT", "someone"), ("UPDATE", None)])


class TestRequestLog(AuthTest):
    def logged(self, method, path, status, fragment, **kwargs):
        """Makes a request and returns its log line, the next line holding fragment."""
        before = len(harness.STACK.log_lines(fragment))
        self.call(method, path, status, **kwargs)
        return harness.STACK.next_log_line(fragment, before)

    def test_login_is_logged_credentials_are_not(self):
        login, password, _ = self.register(password="pw-" + unique("secret"))
        line = self.logged("GET", f"/whoami?USER={login}&PASS={password}", 200, " GET /whoami ")
        self.assertRegex(line, rf" {login} GET /whoami 200 \d+\.\d{{3}}ms$")
        tok = self.call("GET", "/login", 200, auth=(login, password)).json
        self.assertRegex(self.logged("GET", "/qui-suis-je", 200, " GET /qui-suis-je ", token=tok),
                         rf" {login} GET /qui-suis-je 200 ")
        self.assertRegex(self.logged("GET", "/admin", 403, " GET /admin ", auth=(login, password)),
                         rf" {login} GET /admin 403 ")
        wrong = "pw-" + unique("wrong")
        self.assertRegex(self.logged("GET", f"/whoami?USER={login}&PASS={wrong}", 401, " GET /whoami "),
                         r" - GET /whoami 401 ")
        self.assertRegex(self.logged("GET", "/hello", 401, " GET /hello ", auth=(login, wrong)),
                         r" - GET /hello 401 ")
        output = harness.STACK.output()
        for secret in (password, wrong, tok.rsplit(":", 1)[1]):
            self.assertNotIn(secret, output)


class TestAuditCannotBeForged(unittest.TestCase):
    """The runtime role as production has it (roles.sql's grants, then the migrations): the
    dev stack's single role owns everything, so a role like the runtime one is made here."""

    def admin(self, *args, sql=None, check=True):
        stack = harness.STACK
        cmd = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(stack.state, "pg"),
               "-p", str(stack.pgport), "-U", "postgres", "-d", "kiva", *args]
        if sql:
            cmd += ["-c", sql]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def setUp(self):
        self.role = "rt_" + uuid.uuid4().hex[:8]
        self.admin(sql=f'CREATE ROLE {self.role}; GRANT USAGE ON SCHEMA public TO {self.role}; '
                       f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {self.role}; '
                       f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {self.role}')
        migration = os.path.join(harness.ROOT, "examples/course/sql/migrations/0005-audit-cannot-be-forged.sql")
        self.admin("-v", f"runtime={self.role}", "-c", "SET ROLE kiva", "-f", migration)

    def tearDown(self):
        self.admin(sql=f"DROP OWNED BY {self.role}; DROP ROLE {self.role}")

    def as_runtime(self, sql):
        return self.admin(sql=f"SET ROLE {self.role}; SET kiva.login = 'forger'; {sql}", check=False)

    def test_a_direct_insert_update_or_delete_fails_but_the_triggers_still_write(self):
        for sql in ("INSERT INTO Audit(login, operation, tab, data) VALUES ('calvin', 'DELETE', 'stuff', '{}')",
                    "UPDATE Audit SET login = 'susie'", "DELETE FROM Audit", "TRUNCATE Audit"):
            r = self.as_runtime(sql)
            self.assertNotEqual(r.returncode, 0, sql)
            self.assertIn("permission denied for table audit", r.stderr, sql)
        name = "forge-" + uuid.uuid4().hex[:8]
        r = self.as_runtime(f"INSERT INTO Stuff(stuff) VALUES ('{name}')")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = audit_rows(f"tab = 'stuff' AND data->>'stuff' = {sql_text(name)}")
        self.assertEqual([(row["login"], row["operation"]) for row in rows], [("forger", "INSERT")])


if __name__ == "__main__":
    unittest.main()
