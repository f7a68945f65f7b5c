"""Idempotent POSTs through nginx on the shared stack: a POST /stuff with an Idempotency-Key
runs once (a retry gets the first answer again, with Idempotent-Replayed, and exactly one row
exists), another request with the key is a 422, a request while the key is held (an advisory
lock taken from a psql session stands for the first request still running) is a 409 that runs
nothing, a rolled-back request records nothing, an expired key runs again, a malformed key is
a 400, and keys belong to their client."""

import os
import subprocess
import threading
import uuid

import harness
from authkit import fresh_request
from harness import ApiTest


def key():
    return "it-" + uuid.uuid4().hex


class IdempotencyTest(ApiTest):
    def post(self, stuff, k, status, **kwargs):
        return self.call("POST", "/stuff", status, data={"stuff": stuff},
                         headers={"Idempotency-Key": k, **kwargs.pop("headers", {})}, **kwargs)

    def rows(self, stuff):
        return int(harness.STACK.psql(f"SELECT count(*) FROM Stuff WHERE stuff = '{stuff}'"))

    def keys(self, k):
        return int(harness.STACK.psql(f"SELECT count(*) FROM IdempotencyKey WHERE key = '{k}'"))

    def test_a_retry_gets_the_first_answer_and_runs_nothing(self):
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        first = self.post(stuff, k, 201)
        self.assertNotIn("idempotent-replayed", first.headers)
        again = self.post(stuff, k, 201)
        self.assertEqual(again.body, first.body)
        self.assertEqual(again.headers.get("content-type"), first.headers.get("content-type"))
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(self.rows(stuff), 1)
        self.assertEqual(self.keys(k), 1)
        # The quoted form of the draft names the same key.
        self.assertEqual(self.post(stuff, f'"{k}"', 201).body, first.body)

    def test_another_request_with_the_key_is_422(self):
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        self.post(stuff, k, 201)
        self.error("POST", "/stuff", 422, "this Idempotency-Key was used for another request",
                   data={"stuff": stuff + "-other"}, headers={"Idempotency-Key": k})
        self.assertEqual(self.rows(stuff + "-other"), 0)

    def test_a_key_in_progress_is_409(self):
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        s = harness.STACK
        # A psql session holds the lock the first request would hold while it runs.
        holder = subprocess.Popen(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(s.state, "pg"),
             "-p", str(s.pgport), "-U", "kiva", "-d", "kiva"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            holder.stdin.write("SELECT pg_advisory_lock(hashtextextended("
                               f"'address:127.0.0.1' || E'\\n' || '{k}', 2021));\n")
            holder.stdin.flush()
            self.assertTrue(harness.eventually(lambda: s.psql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") != "0",
                timeout=20), "the psql session took the lock")
            r = self.error("POST", "/stuff", 409,
                           "a request with this Idempotency-Key is still being processed",
                           data={"stuff": stuff}, headers={"Idempotency-Key": k})
            self.assertEqual(r.headers.get("retry-after"), "1")
            self.assertEqual(self.rows(stuff), 0)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
        # The server ends the session's backend (and its lock) a moment after psql exits.
        self.assertTrue(harness.eventually(lambda: s.psql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0", timeout=20))
        self.post(stuff, k, 201)  # the lock released: it runs
        self.assertEqual(self.rows(stuff), 1)

    def test_a_retry_while_the_first_runs_is_409_then_gets_its_answer(self):
        """The first request really in flight: its INSERT waits for a psql transaction that
        inserted the same stuff, holding the worker's advisory lock meanwhile (bounded: the
        psql session rolls back as soon as the 409 is seen, or after 20 s)."""
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        s = harness.STACK
        blocker = subprocess.Popen(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(s.state, "pg"),
             "-p", str(s.pgport), "-U", "kiva", "-d", "kiva"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        first = {}
        try:
            blocker.stdin.write(f"BEGIN;\nINSERT INTO Stuff(stuff) VALUES ('{stuff}');\n")
            blocker.stdin.flush()
            self.assertTrue(harness.eventually(lambda: s.psql(
                f"SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
                f"AND query LIKE '%{stuff}%'") == "1", timeout=20))
            runner = threading.Thread(target=lambda: first.update(
                r=harness.Client(s.port).request("POST", "/stuff", data={"stuff": stuff},
                                                 headers={"Idempotency-Key": k})))
            runner.start()
            # The worker holds its lock while its INSERT waits.
            self.assertTrue(harness.eventually(lambda: s.psql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == "1",
                timeout=20), "the first request holds the key's lock while it runs")
            self.error("POST", "/stuff", 409,
                       "a request with this Idempotency-Key is still being processed",
                       data={"stuff": stuff}, headers={"Idempotency-Key": k})
        finally:
            blocker.stdin.write("ROLLBACK;\n")
            blocker.stdin.close()
            blocker.wait(timeout=30)
        runner.join(timeout=30)
        self.assertEqual(first["r"].status, 201, first["r"])
        again = self.post(stuff, k, 201)
        self.assertEqual(again.body, first["r"].body)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(self.rows(stuff), 1)

    def test_a_rolled_back_request_records_nothing(self):
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        self.call("POST", "/stuff", 201, data={"stuff": stuff})
        self.post(stuff, k, 409)  # unique violation: rolled back
        self.assertEqual(self.keys(k), 0)
        sid = harness.STACK.psql(f"SELECT sid FROM Stuff WHERE stuff = '{stuff}'")
        self.call("DELETE", f"/stuff/{sid}", 204)
        self.assertNotIn("idempotent-replayed", self.post(stuff, k, 201).headers)
        self.assertEqual(self.keys(k), 1)

    def test_an_expired_key_runs_again(self):
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        first = self.post(stuff, k, 201)
        harness.STACK.psql(f"UPDATE IdempotencyKey SET expires = now() - interval '1 second' "
                           f"WHERE key = '{k}'")
        harness.STACK.psql(f"DELETE FROM Stuff WHERE stuff = '{stuff}'")
        again = self.post(stuff, k, 201)
        self.assertNotIn("idempotent-replayed", again.headers)
        self.assertNotEqual(again.body, first.body)
        self.assertEqual(self.keys(k), 1)

    def test_malformed_keys_are_400(self):
        for bad in ["a b", "x" * 256, '"', "caf\u00e9".encode().decode("latin-1")]:
            self.error("POST", "/stuff", 400, data={"stuff": "never"},
                       headers={"Idempotency-Key": bad})
        self.assertEqual(self.rows("never"), 0)

    def test_keys_belong_to_their_client(self):
        stuff, k = "idem-" + uuid.uuid4().hex[:8], key()
        self.post(stuff, k, 201)
        self.assertEqual(harness.STACK.psql(f"SELECT client FROM IdempotencyKey WHERE key = '{k}'"),
                         "address:127.0.0.1")
        # From another address the key is another one: the request runs (and finds the row).
        status, headers, _, _ = fresh_request(harness.STACK, "POST", "/stuff", source="127.0.0.2",
                                              headers={"Idempotency-Key": k},
                                              body=f"stuff={stuff}")
        self.assertEqual(status, 409)
        self.assertNotIn("idempotent-replayed", headers)

    def test_without_a_key_posts_run_each_time(self):
        stuff = "idem-" + uuid.uuid4().hex[:8]
        self.call("POST", "/stuff", 201, data={"stuff": stuff})
        self.call("POST", "/stuff", 409, data={"stuff": stuff})
