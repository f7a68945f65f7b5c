"""The revocation cache (kiva/security/revocation_cache.hpp) on a stack of two worker
processes whose cached verdicts would last an hour (revocation_cache = 1h): only the
notifications sent by logout and password changes, and a lost notification channel, can
make them forget within the bounded waits below (seconds, not a timing: without
invalidation the answers would stay 200 for the hour).

- a token's verdict is remembered by both processes: a revocation written straight into
  the table (no notification) is not seen while the channel is up;
- POST /logout through one process: the token is refused by both, and the delay from the
  204 to the first 401 is printed (measured, not asserted);
- a password change: the older token refused by both;
- the listening connections killed (pg_terminate_backend): each process drops its whole
  cache, so the revocation written without notification is honoured."""

import json
import time
import unittest
from urllib.parse import urlencode

import authkit
import harness
from harness import Stack
from authkit import fresh_request, pids_of as authkit_pids_of

STACK = None
INVALID = (401, b'{"error":"invalid token"}')


def setUpModule():
    global STACK
    STACK = Stack(harness.STACK.build, PROCESSES="2", THREADS="2",
                  KIVA_EXTRA="log_format = json\npassword_cost = 4\npassword_min_length = 4\n"
                             "revocation_cache = 1h\nrevocation_channel_check = 500ms\n").start()
    # Each process listens before the tests begin.
    assert harness.eventually(lambda: len(log_lines("notification channel kiva_auth listening")) >= 2,
                              timeout=10), STACK.output()[-3000:]


def tearDownModule():
    if STACK:
        STACK.stop()
        STACK.cleanup()


def log_lines(fragment):
    """The stack's log lines (JSON here) holding fragment."""
    return [line for line in STACK.output().splitlines() if fragment in line]


def request(method, path, **kwargs):
    return fresh_request(STACK, method, path, **kwargs)


def register():
    return authkit.register_user(request)


def token_of(login, password):
    return authkit.token_for(request, login, password)


def answers(times, token):
    """The (status, body) set of `times` GET /whoami on new connections, and the processes."""
    replies = [request("GET", "/whoami", token=token) for _ in range(times)]
    return {(s, b) for s, _, b, _ in replies}, authkit_pids_of(STACK, [r[3] for r in replies])


def until_refused_by_both(token, timeout=5.0):
    """True once 8 requests in a row, answered by both processes, are all refused."""
    return harness.eventually(lambda: (a := answers(8, token)) and a[0] == {INVALID} and len(a[1]) == 2,
                              timeout=timeout)


class TestRevocationCache(unittest.TestCase):
    def cached_everywhere(self, login, token):
        found, pids = answers(8, token)
        self.assertEqual(found, {(200, json.dumps(login).encode())})
        self.assertEqual(len(pids), 2, "one process answered every request: rerun")

    def test_1_verdicts_are_remembered_while_the_channel_is_up(self):
        login, password = register()
        token = token_of(login, password)
        self.cached_everywhere(login, token)
        # Straight into the table: no notification, so the remembered verdicts stand.
        STACK.psql("INSERT INTO RevokedToken(digest, expires) "
                   f"VALUES (encode(sha256('{token}'::bytea), 'hex'), now() + interval '1 hour')")
        self.cached_everywhere(login, token)

    def test_2_logout_is_refused_by_the_other_process_at_once(self):
        login, password = register()
        token = token_of(login, password)
        self.cached_everywhere(login, token)
        status, _, body, rid = request("POST", "/logout", token=token)
        done = time.monotonic()
        self.assertEqual((status, body), (204, b""))
        logout_pid = authkit_pids_of(STACK, [rid]).pop()
        # Requests right after the 204, their pids looked up afterwards: the first answer of
        # the process that did not answer the logout is a refusal, and when it came is printed.
        replies = []
        for _ in range(12):
            s, _, b, r = request("GET", "/whoami", token=token)
            replies.append((time.monotonic() - done, (s, b), r))
        pids = {r: authkit_pids_of(STACK, [r]).pop() for _, _, r in replies}
        others = [(t, answer) for t, answer, r in replies if pids[r] != logout_pid]
        self.assertTrue(others, "the other process never answered: rerun")
        delay, first = others[0]
        self.assertEqual(first, INVALID)
        print(f"\n  revocation: 204 -> 401 on the other process after {delay * 1000:.1f} ms "
              "(its first answer after the 204)", end=" ")
        self.assertTrue(until_refused_by_both(token))

    def test_3_a_password_change_refuses_older_tokens_on_both(self):
        login, password = register()
        token = token_of(login, password)
        self.cached_everywhere(login, token)
        status, _, body, _ = request("POST", "/password", auth=(login, password),
                                     body=urlencode({"password": "new-" + password}))
        self.assertEqual((status, body), (204, b""))
        self.assertTrue(until_refused_by_both(token))
        fresh = token_of(login, "new-" + password)
        self.cached_everywhere(login, fresh)

    def test_4_a_lost_channel_drops_the_whole_cache(self):
        login, password = register()
        token = token_of(login, password)
        self.cached_everywhere(login, token)
        STACK.psql("INSERT INTO RevokedToken(digest, expires) "
                   f"VALUES (encode(sha256('{token}'::bytea), 'hex'), now() + interval '1 hour')")
        self.cached_everywhere(login, token)  # not notified: still remembered
        lost = len(log_lines("notification channel kiva_auth lost"))
        listening = len(log_lines("notification channel kiva_auth listening"))
        killed = STACK.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = 'kiva listener'")
        self.assertEqual(killed, "2")
        self.assertTrue(harness.eventually(
            lambda: len(log_lines("notification channel kiva_auth lost")) >= lost + 2))
        # Once both listen again (a notification could have been missed meanwhile), neither
        # answers from what it remembered before.
        self.assertTrue(harness.eventually(
            lambda: len(log_lines("notification channel kiva_auth listening")) >= listening + 2))
        self.assertTrue(until_refused_by_both(token))
        # And both remember again.
        other, other_password = register()
        self.cached_everywhere(other, token_of(other, other_password))


if __name__ == "__main__":
    unittest.main()
