"""A commit that waits for a synchronous standby that never answers: db_statement_timeout
cancels the wait, PostgreSQL keeps the commit on the primary alone and says so in a warning,
and the worker answers 503 (not acknowledged), within the timeout. On a stack of its own, its
PostgreSQL told to wait for a standby that does not exist."""

import os
import subprocess
import time
import unittest

import harness
from harness import Client, Stack

SYNC = None


def setUpModule():
    global SYNC
    SYNC = Stack(harness.STACK.build, THREADS="2",
                 KIVA_EXTRA="db_statement_timeout = 500ms\ndb_connect_timeout = 2s\n").start()


def tearDownModule():
    if SYNC:
        SYNC.stop()
        SYNC.cleanup()


def admin(sql):
    """As the superuser (ALTER SYSTEM), on the stack's own server."""
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(SYNC.state, "pg"),
                    "-p", str(SYNC.pgport), "-U", "postgres", "-d", "postgres", "-c", sql],
                   check=True, capture_output=True)


class TestSynchronousCommit(unittest.TestCase):
    def test_unconfirmed_commit_is_503_never_201(self):
        api = Client(SYNC.port)
        self.assertEqual(api.request("POST", "/stuff", data={"stuff": "before-sync"}).status, 201)
        admin("ALTER SYSTEM SET synchronous_standby_names = 'no_such_standby'")
        admin("SELECT pg_reload_conf()")
        time.sleep(0.5)
        try:
            name = f"unconfirmed-{time.time_ns()}"
            start = time.monotonic()
            r = api.request("POST", "/stuff", data={"stuff": name})
            took = time.monotonic() - start
            self.assertEqual(r.status, 503, repr(r))
            self.assertEqual(r.json, {"error": "database unavailable"})
            self.assertLess(took, 5, "the wait is bounded by db_statement_timeout")
            # Committed on this server alone: there, but never acknowledged to the client.
            self.assertEqual(SYNC.psql(f"SELECT count(*) FROM Stuff WHERE stuff = '{name}'"), "1")
            self.assertTrue(harness.eventually(lambda: [
                line for line in SYNC.worker_log()
                if "not confirmed by a synchronous standby" in line]), "no log line")
            # Reads do not wait for standbys.
            self.assertEqual(api.request("GET", "/stuff?filter=none").status, 200)
        finally:
            admin("ALTER SYSTEM RESET synchronous_standby_names")
            admin("SELECT pg_reload_conf()")
        time.sleep(0.5)
        self.assertEqual(api.request("POST", "/stuff", data={"stuff": "after-sync"}).status, 201)
        api.close()
