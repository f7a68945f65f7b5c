"""The authentication state shared through PostgreSQL, through nginx on a stack of two
worker processes (each check below is answered by both processes, which proves it shared).

Throttling: a login locked after auth_max_failures, whatever the password and the scheme,
429 with a Retry-After that doubles, a success resetting the count, unknown logins counted
like known ones, a client address locked after its own threshold, X-Forwarded-For trusted
only from a configured proxy, no bcrypt for a locked login, and the throttled metric.

Revocation: POST /logout refuses the token on every process; POST /password and the
admin's PUT /users/<uid>/password refuse the old password in every process's cache and the
tokens issued before, and the new password works at once.

Passwords: this stack hashes with argon2id; the demo users' bcrypt hashes still verify and
are rehashed to argon2id at their next good check, which is no password change."""

import base64
import json
import time
import unittest
import uuid
from urllib.parse import urlencode

import harness
from harness import Stack
from authkit import fresh_request, pids_of as authkit_pids_of

STACK = None
DELAY, CAP, MAX_ADDRESS = 2, 8, 12
LOCKED = {"error": "too many failed attempts, retry later"}


def setUpModule():
    global STACK
    STACK = Stack(harness.STACK.build, PROCESSES="2", THREADS="2",
                  KIVA_EXTRA="log_format = json\npassword_scheme = argon2id\npassword_cost = 10\n"
                             "password_cache_ttl = 60s\n"
                             f"auth_lockout_delay = {DELAY}s\nauth_lockout_max = {CAP}s\n"
                             f"auth_max_address_failures = {MAX_ADDRESS}\n"
                             "trusted_proxies = 127.0.0.9\n").start()


def tearDownModule():
    if STACK:
        STACK.stop()
        STACK.cleanup()


SOURCES = iter(f"127.0.1.{n}" for n in range(1, 250))
SOURCE = "127.0.0.1"  # each test its own client address, so that no address lock leaks


def request(method, path, *, source=None, auth=None, token=None, headers=None, body=None):
    """One request on a new connection (so that both worker processes get some)."""
    return fresh_request(STACK, method, path, source=source or SOURCE, auth=auth, token=token,
                         headers=headers, body=body)


def register():
    login, password = "thr-" + uuid.uuid4().hex[:10], "pw-" + uuid.uuid4().hex[:8]
    status, _, body, _ = request("POST", "/register", body=urlencode({"login": login, "pword": password}))
    assert status == 201, (status, body)
    return login, password


def pids_of(request_ids):
    return authkit_pids_of(STACK, request_ids)


class TestThrottle(unittest.TestCase):
    def setUp(self):
        global SOURCE
        SOURCE = next(SOURCES)

    def assertLocked(self, reply, longest=DELAY):
        status, headers, body, _ = reply
        self.assertEqual(status, 429, body)
        self.assertEqual(json.loads(body), LOCKED)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        self.assertIn(int(headers["retry-after"]), range(1, longest + 1), headers)

    def fail(self, login, times, source=None):
        ids = []
        for _ in range(times):
            status, _, body, rid = request("GET", "/whoami", auth=(login, "wrong"), source=source)
            self.assertEqual(status, 401, body)
            ids.append(rid)
        return ids

    def test_a_login_is_locked_after_five_failures_counted_by_both_processes(self):
        login, password = register()
        ids = self.fail(login, 5)
        # Whatever the password, whatever the scheme, whichever process.
        self.assertLocked(request("GET", "/whoami", auth=(login, password)))
        self.assertLocked(request("GET", "/whoami?" + urlencode({"USER": login, "PASS": password})))
        self.assertLocked(request("GET", "/login", auth=(login, "wrong")))
        # Five failures were enough although two processes answered them: the count is shared.
        self.assertEqual(len(pids_of(ids)), 2, "one process answered every failure: rerun")
        self.assertEqual(STACK.psql(f"SELECT failures FROM AuthFailure WHERE kind = 'login' AND key = '{login}'"), "5")

    def test_the_lockout_doubles_and_a_success_resets_the_count(self):
        login, password = register()
        self.fail(login, 5)
        self.assertLocked(request("GET", "/whoami", auth=(login, password)), DELAY)
        time.sleep(DELAY + 0.2)
        self.fail(login, 1)  # the sixth failure: locked twice as long
        status, headers, _, _ = request("GET", "/whoami", auth=(login, "wrong"))
        self.assertEqual(status, 429)
        self.assertGreater(int(headers["retry-after"]), DELAY)
        self.assertLessEqual(int(headers["retry-after"]), 2 * DELAY)
        time.sleep(2 * DELAY + 0.2)
        status, _, body, _ = request("GET", "/whoami", auth=(login, password))
        self.assertEqual((status, json.loads(body)), (200, login))
        self.assertEqual(STACK.psql(f"SELECT count(*) FROM AuthFailure WHERE kind = 'login' AND key = '{login}'"), "0")
        self.fail(login, 4)  # the count started again: four more are not a lockout
        status, _, _, _ = request("GET", "/whoami", auth=(login, password))
        self.assertEqual(status, 200)

    def test_unknown_logins_are_counted_and_answered_like_known_ones(self):
        login = "nobody-" + uuid.uuid4().hex[:10]
        known, _ = register()
        for who in (login, known):
            for _ in range(5):
                status, headers, _, _ = request("GET", "/whoami", auth=(who, "wrong"))
                self.assertEqual(status, 401)
                self.assertIn("www-authenticate", headers)
            self.assertLocked(request("GET", "/whoami", auth=(who, "wrong")))

    def test_an_unknown_login_costs_a_bcrypt_and_a_locked_one_none(self):
        def took(login, password="wrong"):
            start = time.perf_counter()
            status = request("GET", "/whoami", auth=(login, password))[0]
            return status, time.perf_counter() - start
        known, password = register()
        bcrypt = sorted(took(known)[1] for _ in range(3))[1]
        unknown = sorted(took("nobody-" + uuid.uuid4().hex[:10])[1] for _ in range(3))[1]
        self.assertGreater(unknown, bcrypt / 2, "an unknown login answers faster: it can be told apart")
        self.fail(known, 2)
        locked = [took(known, password) for _ in range(5)]
        self.assertEqual({s for s, _ in locked}, {429})
        self.assertLess(max(t for _, t in locked), bcrypt / 2, (locked, bcrypt))

    def test_a_client_address_is_locked_after_its_own_threshold(self):
        source = "127.0.0.5"
        for _ in range(MAX_ADDRESS):
            self.fail("spray-" + uuid.uuid4().hex[:10], 1, source)
        known, password = register()
        # Not the login's fault: the address is locked, for any login.
        self.assertLocked(request("GET", "/whoami", auth=(known, password), source=source))
        status, _, _, _ = request("GET", "/whoami", auth=(known, password), source="127.0.0.6")
        self.assertEqual(status, 200)

    def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(self):
        login = "xff-" + uuid.uuid4().hex[:10]
        xff = {"X-Forwarded-For": "198.51.100.7"}
        request("GET", "/whoami", auth=(login, "wrong"), source="127.0.0.9", headers=xff)
        request("GET", "/whoami", auth=(login + "b", "wrong"), source="127.0.0.8", headers=xff)
        rows = STACK.psql("SELECT key, failures FROM AuthFailure WHERE kind = 'address' "
                          "AND key IN ('198.51.100.7', '127.0.0.8', '127.0.0.9') ORDER BY key")
        self.assertEqual(rows.splitlines(), ["127.0.0.8|1", "198.51.100.7|1"])

    def test_throttled_attempts_are_counted_in_the_metrics(self):
        login, _ = register()
        self.fail(login, 5)
        for _ in range(2):
            request("GET", "/whoami", auth=(login, "wrong"))
        status, _, body, _ = request("GET", "/metrics", source="127.0.0.1")
        self.assertEqual(status, 200)
        line = [l for l in body.decode().splitlines()
                if l.startswith('kiva_auth_failures_total{scheme="basic",reason="throttled"}')]
        self.assertTrue(line and float(line[0].rsplit(" ", 1)[1]) >= 2, line)


class TestPasswordSchemes(unittest.TestCase):
    def setUp(self):
        global SOURCE
        SOURCE = next(SOURCES)

    def test_new_hashes_are_argon2id(self):
        login, password = register()
        self.assertTrue(STACK.psql(f"SELECT pword FROM Utilisateur WHERE login = '{login}'").startswith(
            "$argon2id$v=19$m=19456,t=2,p=1$"))
        self.assertEqual(request("GET", "/whoami", auth=(login, password))[0], 200)
        self.assertEqual(request("GET", "/whoami", auth=(login, "wrong"))[0], 401)

    def test_a_bcrypt_hash_is_rehashed_at_the_next_good_check_and_nothing_else_changes(self):
        pword = lambda: STACK.psql("SELECT pword FROM Utilisateur WHERE login = 'susie'")
        self.assertTrue(pword().startswith("$2b$04$"))
        self.assertEqual(request("GET", "/whoami", auth=("susie", "wrong"))[0], 401)
        self.assertTrue(pword().startswith("$2b$04$"))  # not on a failure
        token = json.loads(request("GET", "/login", auth=("susie", "derkins"))[2])
        rehashed = pword()
        self.assertTrue(rehashed.startswith("$argon2id$"), rehashed)
        status, _, body, _ = request("GET", "/whoami", auth=("susie", "derkins"), source="127.0.0.1")
        self.assertEqual((status, json.loads(body)), (200, "susie"))
        self.assertEqual(request("GET", "/whoami", token=token)[0], 200)  # no password change
        self.assertEqual(STACK.psql("SELECT count(*) FROM CredentialChange WHERE login = 'susie'"), "0")
        self.assertEqual(pword(), rehashed)  # once

    def test_every_route_that_sets_a_password_follows_the_rules(self):
        login, password = register()
        short = urlencode({"password": "short"})
        uid = int(STACK.psql(f"SELECT id FROM Utilisateur WHERE login = '{login}'"))
        for method, path, auth, body in (
                ("POST", "/register", None, urlencode({"login": login + "x", "pword": "short"})),
                ("POST", "/password", (login, password), short),
                ("PUT", f"/users/{uid}/password", ("calvin", "hobbes"), short)):
            status, _, reply, _ = request(method, path, auth=auth, body=body)
            self.assertEqual((status, json.loads(reply)), (400, {"error": "password must have at least 8 characters"}), path)
        status, _, reply, _ = request("POST", "/users-mgt", auth=("calvin", "hobbes"),
                                      body=urlencode({"u": json.dumps({"login": login + "y", "password": "short"})}))
        self.assertEqual((status, json.loads(reply)), (400, {"error": "password must have at least 8 characters"}))


class TestRevocation(unittest.TestCase):
    def setUp(self):
        global SOURCE
        SOURCE = next(SOURCES)

    def answers(self, times, **kwargs):
        """(status, body) of `times` GET /whoami on new connections, and the processes."""
        replies = [request("GET", "/whoami", **kwargs) for _ in range(times)]
        return {(s, b) for s, _, b, _ in replies}, pids_of([r[3] for r in replies])

    def token(self, login, password):
        status, _, body, _ = request("GET", "/login", auth=(login, password))
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_logout_refuses_the_token_on_every_process(self):
        login, password = register()
        other, other_password = register()
        token, kept = self.token(login, password), self.token(other, other_password)
        self.assertEqual(self.answers(2, token=token)[0], {(200, json.dumps(login).encode())})
        status, _, body, _ = request("POST", "/logout", token=token)
        self.assertEqual((status, body), (204, b""))
        answers, pids = self.answers(8, token=token)
        self.assertEqual(answers, {(401, b'{"error":"invalid token"}')})
        self.assertEqual(len(pids), 2, "one process answered every request: rerun")
        self.assertEqual(request("GET", "/whoami", token=kept)[0], 200)  # only that token
        self.assertEqual(request("GET", "/whoami", auth=(login, password))[0], 200)
        expires = STACK.psql("SELECT count(*) FROM RevokedToken WHERE expires > now() + interval '50 minutes'")
        self.assertGreaterEqual(int(expires), 1)

    def test_token_cookies_are_off_by_default(self):
        login, password = register()
        status, _, body, _ = request("GET", "/login?cookie=true", auth=(login, password))
        self.assertEqual((status, body), (400, b'{"error":"token cookies are off (token_carrier)"}'))
        token = self.token(login, password)
        cookie = "__Host-kiva-token=" + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
        status, _, body, _ = request("GET", "/qui-suis-je", headers={"Cookie": cookie})
        self.assertEqual((status, body), (401, b'{"error":"missing token"}'))

    def test_a_login_right_after_a_logout_gets_a_token_that_works(self):
        # The course's tokens carry their expiry to the second: a login in the second of the
        # logged-out token's login got that revoked token back (seen in the cluster test).
        login, password = register()
        while time.time() % 1 > 0.5:  # the three requests within one second, unless the fix waits
            time.sleep(0.05)
        token = self.token(login, password)
        self.assertEqual(request("POST", "/logout", token=token)[0], 204)
        again = self.token(login, password)
        self.assertNotEqual(again, token)
        self.assertEqual(request("GET", "/whoami", token=again)[:3:2], (200, json.dumps(login).encode()))
        self.assertEqual(request("GET", "/whoami", token=token)[0], 401)

    def test_logout_needs_a_token(self):
        login, password = register()
        self.assertEqual(request("POST", "/logout", auth=(login, password))[0], 401)
        self.assertEqual(request("POST", "/logout")[0], 401)

    def test_a_password_change_refuses_the_old_password_everywhere_and_older_tokens(self):
        login, old = register()
        token = self.token(login, old)
        answers, pids = self.answers(8, auth=(login, old))  # both processes cache the old one
        self.assertEqual((answers, len(pids)), ({(200, json.dumps(login).encode())}, 2))
        status, _, body, _ = request("POST", "/password", auth=(login, old), body=urlencode({"password": "new-" + old}))
        self.assertEqual((status, body), (204, b""))
        # Four failures at a time, each series reset by a success: the fifth would be a 429.
        answers, pids = self.answers(4, auth=(login, old))
        self.assertEqual(self.answers(4, auth=(login, "new-" + old))[0], {(200, json.dumps(login).encode())})
        more, more_pids = self.answers(4, auth=(login, old))
        self.assertEqual({s for s, _ in answers | more}, {401})
        self.assertEqual(len(pids | more_pids), 2, "one process answered every request: rerun")
        self.assertEqual(self.answers(4, token=token)[0], {(401, b'{"error":"invalid token"}')})
        fresh = self.token(login, "new-" + old)  # at once: the change's second is over
        self.assertEqual(self.answers(4, token=fresh)[0], {(200, json.dumps(login).encode())})

    def test_a_password_change_needs_basic_and_follows_the_rules(self):
        login, password = register()
        token = self.token(login, password)
        status, _, body, _ = request("POST", "/password", auth=(login, password), body=urlencode({"password": "abc"}))
        self.assertEqual((status, json.loads(body)), (400, {"error": "password must have at least 8 characters"}))
        status, _, _, _ = request("POST", "/password", token=token, body=urlencode({"password": "good-one"}))
        self.assertEqual(status, 401)
        self.assertEqual(request("GET", "/whoami", auth=(login, password))[0], 200)  # unchanged

    def test_an_admin_resets_a_password_with_the_same_effects(self):
        login, old = register()
        uid = int(STACK.psql(f"SELECT id FROM Utilisateur WHERE login = '{login}'"))
        token = self.token(login, old)
        self.answers(4, auth=(login, old))
        status, _, body, _ = request("PUT", f"/users/{uid}/password", auth=("calvin", "hobbes"),
                                     body=urlencode({"password": "reset-pw"}))
        self.assertEqual((status, body), (204, b""))
        self.assertEqual({s for s, _ in self.answers(4, auth=(login, old))[0]}, {401})
        self.assertEqual({s for s, _ in self.answers(2, token=token)[0]}, {401})
        self.assertEqual(self.answers(2, auth=(login, "reset-pw"))[0], {(200, json.dumps(login).encode())})
        self.assertEqual(request("PUT", f"/users/{uid}/password", auth=("hobbes", "susie"),
                                 body=urlencode({"password": "mine-now"}))[0], 403)
        status, _, body, _ = request("PUT", "/users/987654321987/password", auth=("calvin", "hobbes"),
                                     body=urlencode({"password": "reset-pw"}))
        self.assertEqual((status, json.loads(body)), (404, {"error": "no such user"}))


if __name__ == "__main__":
    unittest.main()
