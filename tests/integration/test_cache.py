"""The shared cache (option cache = redis://...), through nginx on a stack of two worker
processes against PostgreSQL and a redis-server of the test's own (with a password).

Shared: a good password check made by one process answers the other from Redis (proved by
breaking the hash in the database), a logout on one process is refused by the other, a
password change invalidates the cache everywhere, throttling is counted in Redis across
processes. Failures: Redis frozen (SIGSTOP), killed (SIGKILL) and restarted empty during a
bounded request loop: no 5xx, revoked tokens and old passwords stay refused, logouts made
while Redis is down are honoured once it is back, and the metrics count the fallbacks."""

import json
import os
import subprocess
import threading
import time
import unittest
import uuid
from urllib.parse import urlencode

import authkit
import harness
from harness import Stack, Redis
from authkit import fresh_request, pids_of as authkit_pids_of

STACK = None
REDIS = None
PASSWORD = "redis-" + uuid.uuid4().hex
DELAY, CAP = 2, 8


def setUpModule():
    global STACK, REDIS
    REDIS = Redis(password=PASSWORD).start()
    secret = os.path.join(REDIS.dir, "redis.password")
    with open(secret, "w") as f:
        f.write(PASSWORD + "\n")
    STACK = Stack(harness.STACK.build, PROCESSES="2", THREADS="2",
                  KIVA_EXTRA="log_format = json\npassword_cost = 8\npassword_cache_ttl = 60s\n"
                             f"auth_lockout_delay = {DELAY}s\nauth_lockout_max = {CAP}s\n"
                             f"cache = {REDIS.url}\ncache_password_file = {secret}\n"
                             # Above the default: this machine may be busy with other builds.
                             "cache_timeout = 200ms\n"
                             # Token verdicts from Redis: with the in-process revocation cache
                             # on, its misses read PostgreSQL (test_revocation_cache.py).
                             "revocation_cache = 0\n").start()


def tearDownModule():
    if STACK:
        STACK.stop()
        if not os.environ.get("KEEP_CACHE_STACK"):
            STACK.cleanup()
    if REDIS:
        REDIS.cleanup()


SOURCES = iter(f"127.0.2.{n}" for n in range(1, 250))
SOURCE = "127.0.0.1"


def request(method, path, *, auth=None, token=None, body=None, source=None):
    """One request on a new connection (so that both worker processes get some)."""
    return fresh_request(STACK, method, path, source=source or SOURCE, auth=auth, token=token, body=body)


def register():
    return authkit.register_user(request)


def token_of(login, password):
    return authkit.token_for(request, login, password)


def pids_of(request_ids):
    return authkit_pids_of(STACK, request_ids)


def metric(name):
    """The sum of a family's samples in GET /metrics."""
    status, _, body, _ = request("GET", "/metrics", source="127.0.0.1")
    assert status == 200
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines()
               if l.startswith(name) and l[len(name)] in '{ ' or "{" in name and l.startswith(name))


def answers(times, **kwargs):
    """The distinct (status, body) of `times` GET /whoami on new connections, and the processes."""
    replies = [request("GET", "/whoami", **kwargs) for _ in range(times)]
    return {(s, b) for s, _, b, _ in replies}, pids_of([r[3] for r in replies])


class TestShared(unittest.TestCase):
    def setUp(self):
        global SOURCE
        SOURCE = next(SOURCES)

    def test_a_good_check_is_answered_from_redis_by_both_processes(self):
        login, password = register()
        self.assertEqual(request("GET", "/whoami", auth=(login, password))[0], 200)
        # Redis holds a keyed hash, never the password; the database's hash is now broken, so
        # only the shared cache can say yes, and both processes do.
        keys = REDIS.keys("kiva:kiva:pw:*")
        self.assertTrue(keys)
        self.assertFalse([k for k in REDIS.keys("*") if password in k or login in k and ":pw:" in k])
        self.assertFalse([k for k in keys if password in (REDIS.command("GET", k) or "")])
        STACK.psql(f"UPDATE Utilisateur SET pword = 'not a hash' WHERE login = '{login}'")
        hits = metric("kiva_password_cache_total{result=\"hit\"")
        seen, pids = answers(8, auth=(login, password))
        self.assertEqual(seen, {(200, json.dumps(login).encode())})
        self.assertEqual(len(pids), 2, "one process answered every request: rerun")
        self.assertGreaterEqual(metric("kiva_password_cache_total{result=\"hit\"") - hits, 8)
        # A wrong password is not in the cache: the broken hash refuses it.
        self.assertEqual(request("GET", "/whoami", auth=(login, "wrong"))[0], 401)

    def test_a_logout_on_one_process_is_refused_by_the_other(self):
        login, password = register()
        token = token_of(login, password)
        seen, pids = answers(6, token=token)  # verdicts now in Redis
        self.assertEqual(seen, {(200, json.dumps(login).encode())})
        self.assertEqual(request("POST", "/logout", token=token)[0], 204)
        seen, pids = answers(8, token=token)
        self.assertEqual(seen, {(401, b'{"error":"invalid token"}')})
        self.assertEqual(len(pids), 2, "one process answered every request: rerun")

    def test_a_password_change_invalidates_the_cache_everywhere(self):
        login, password = register()
        token = token_of(login, password)
        self.assertEqual(answers(6, auth=(login, password))[0], {(200, json.dumps(login).encode())})
        new = "new-" + uuid.uuid4().hex[:8]
        status, _, body, _ = request("POST", "/password", auth=(login, password),
                                     body=urlencode({"password": new}))
        self.assertEqual(status, 204, body)
        seen, pids = answers(4, auth=(login, password))  # 5 would lock the login
        self.assertEqual({s for s, _ in seen}, {401})
        self.assertEqual(len(pids), 2, "one process answered every request: rerun")
        self.assertEqual(answers(4, token=token)[0], {(401, b'{"error":"invalid token"}')})
        self.assertEqual(answers(4, auth=(login, new))[0], {(200, json.dumps(login).encode())})

    def test_an_admin_reset_invalidates_the_cache_everywhere(self):
        login, password = register()
        self.assertEqual(answers(4, auth=(login, password))[0], {(200, json.dumps(login).encode())})
        uid = int(STACK.psql(f"SELECT id FROM Utilisateur WHERE login = '{login}'"))
        status, _, body, _ = request("PUT", f"/users/{uid}/password", auth=("calvin", "hobbes"),
                                     body=urlencode({"password": "reset-" + uuid.uuid4().hex[:8]}))
        self.assertEqual(status, 204, body)
        self.assertEqual({s for s, _ in answers(4, auth=(login, password))[0]}, {401})

    def test_throttling_is_counted_in_redis_across_processes(self):
        login, password = register()
        ids = [request("GET", "/whoami", auth=(login, "wrong"))[3] for _ in range(5)]
        self.assertEqual(len(pids_of(ids)), 2, "one process answered every failure: rerun")
        status, headers, body, _ = request("GET", "/whoami", auth=(login, password))
        self.assertEqual((status, json.loads(body)), (429, {"error": "too many failed attempts, retry later"}))
        self.assertIn(int(headers["retry-after"]), range(1, DELAY + 1))
        self.assertEqual(REDIS.command("GET", f"kiva:kiva:fail:login:{login}"), "5")
        self.assertEqual(STACK.psql(f"SELECT count(*) FROM AuthFailure WHERE key = '{login}'"), "0")
        time.sleep(DELAY + 0.2)
        self.assertEqual(request("GET", "/whoami", auth=(login, "wrong"))[0], 401)
        status, headers, _, _ = request("GET", "/whoami", auth=(login, password))
        self.assertEqual(status, 429)  # the sixth failure: locked twice as long
        self.assertGreater(int(headers["retry-after"]), DELAY)
        time.sleep(2 * DELAY + 0.2)
        self.assertEqual(request("GET", "/whoami", auth=(login, password))[0], 200)
        self.assertIsNone(REDIS.command("GET", f"kiva:kiva:fail:login:{login}"))  # reset

    def test_promtool_accepts_the_cache_metrics(self):
        request("GET", "/whoami", auth=("hobbes", "susie"))
        status, _, body, _ = request("GET", "/metrics", source="127.0.0.1")
        self.assertEqual(status, 200)
        text = body.decode()
        for line in ('kiva_cache_errors_total{op="token"}', 'kiva_cache_fallbacks_total{op="password"}',
                     "kiva_cache_up 1"):
            self.assertIn(line, text)
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, b""))

    def test_the_redis_password_is_never_logged(self):
        self.assertNotIn(PASSWORD, STACK.output())


class TestRedisFailures(unittest.TestCase):
    """Runs last in this module (zz): it stops and restarts Redis."""

    def setUp(self):
        global SOURCE
        SOURCE = next(SOURCES)

    def test_zz_redis_frozen_killed_and_back_empty(self):
        login, password = register()
        gone, gone_password = register()  # a token is the same for one login in one second
        good, revoked = token_of(login, password), token_of(gone, gone_password)
        self.assertEqual(answers(4, token=revoked)[0], {(200, json.dumps(gone).encode())})
        self.assertEqual(request("POST", "/logout", token=revoked)[0], 204)
        other, other_password = register()
        changed_token = token_of(other, other_password)
        self.assertEqual(answers(2, auth=(other, other_password))[0], {(200, json.dumps(other).encode())})
        errors, fallbacks = metric("kiva_cache_errors_total"), metric("kiva_cache_fallbacks_total")

        results, stop = [], threading.Event()

        def loop():
            deadline = time.time() + 40  # bounded in time and count
            for _ in range(4000):
                if stop.is_set() or time.time() > deadline:
                    break
                results.append(("good", request("GET", "/whoami", token=good)[0]))
                results.append(("revoked", request("GET", "/whoami", token=revoked)[0]))
                results.append(("basic", request("GET", "/whoami", auth=(login, password))[0]))
                time.sleep(0.01)

        worker = threading.Thread(target=loop)
        worker.start()
        try:
            time.sleep(0.5)
            REDIS.pause()  # frozen: connections hang until the timeout
            time.sleep(1.5)
            # A logout and a password change while Redis cannot take them: they wait, then hold.
            status, _, body, _ = request("POST", "/logout", token=changed_token)
            self.assertEqual(status, 204, body)
            status, _, body, _ = request("POST", "/password", auth=(other, other_password),
                                         body=urlencode({"password": "after-" + uuid.uuid4().hex[:8]}))
            self.assertEqual(status, 204, body)
            REDIS.resume()
            time.sleep(1.5)
            REDIS.kill()  # lost: everything it held
            time.sleep(1.5)
            REDIS.start()  # back, empty, with a new run_id
            time.sleep(2.5)
        finally:
            stop.set()
            worker.join(60)
            if REDIS.process is None or REDIS.process.poll() is not None:
                REDIS.start()
        statuses = {}
        for kind, status in results:
            statuses.setdefault(kind, set()).add(status)
        self.assertGreater(len(results), 60)
        self.assertEqual(statuses, {"good": {200}, "revoked": {401}, "basic": {200}}, statuses)
        # Once back, Redis is used again, and what was decided while it was away still holds.
        self.assertEqual(answers(4, token=changed_token)[0], {(401, b'{"error":"invalid token"}')})
        self.assertEqual({s for s, _ in answers(4, auth=(other, other_password))[0]}, {401})
        self.assertEqual(answers(4, token=revoked)[0], {(401, b'{"error":"invalid token"}')})
        self.assertEqual(answers(2, token=good)[0], {(200, json.dumps(login).encode())})
        self.assertTrue(REDIS.keys("kiva:kiva:tok:*"), "Redis is not used again")
        self.assertGreater(metric("kiva_cache_errors_total"), errors)
        self.assertGreater(metric("kiva_cache_fallbacks_total"), fallbacks)
        self.assertTrue(harness.eventually(lambda: (request("GET", "/whoami", token=good),
                                                    metric("kiva_cache_up") == 1)[1]))
        self.assertFalse([l for l in STACK.output().splitlines() if '"status":5' in l])


if __name__ == "__main__":
    unittest.main()
