"""Reads on a standby (db_replica), through nginx: the queries marked `-- kiva: replica` go to
the replica connection, the others do not, and when the replica connection fails they run on
the primary connection without an error for the client, with a pause before the next try.

The standby itself (a Patroni replica, served_by="standby", reads during a failover) is
tested by the HA stage (tests/ha/failover.py); here the replica connection reaches the
shared stack's own server, under its own application_name so that it can be told apart."""

import re
import unittest

import harness
from harness import Client, Stack, eventually, free_port

REPLICA_NAME = "kiva-replica-test"


def database():
    return f"host={harness.STACK.state}/pg port={harness.STACK.pgport} dbname=kiva user=kiva"


def replica_counts(client):
    """kiva_db_replica_queries_total by served_by."""
    text = client.request("GET", "/metrics").body.decode()
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'^kiva_db_replica_queries_total\{served_by="(\w+)"\} (\S+)$', text, re.M)}


class ReplicaStack(unittest.TestCase):
    replica = None  # the db_replica conninfo
    threads = "2"

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(harness.STACK.build, DATABASE=database(), THREADS=cls.threads,
                          KIVA_EXTRA=f"db_replica = {cls.replica}\n").start()
        cls.client = Client(cls.stack.port)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.stack.stop()
        cls.stack.cleanup()

    def stats(self):
        r = self.client.request("GET", "/stats")
        self.assertEqual(r.status, 200, repr(r))
        return r.json["stuff"]


class TestReplicaConnection(ReplicaStack):
    replica = database() + f" application_name={REPLICA_NAME} target_session_attrs=prefer-standby"

    def test_marked_queries_run_on_the_replica_connection(self):
        before = replica_counts(self.client)
        self.assertEqual(self.stats(), int(harness.STACK.psql("SELECT count(*) FROM Stuff")))
        after = replica_counts(self.client)
        # prefer-standby found no standby here: the replica connection's server is a primary.
        self.assertEqual(after["primary"] - before.get("primary", 0), 1, (before, after))
        self.assertEqual(after["standby"], 0)
        self.assertEqual(after["fallback"], before.get("fallback", 0))
        last = harness.STACK.psql(f"SELECT query FROM pg_stat_activity WHERE application_name = '{REPLICA_NAME}'")
        self.assertIn("count(*) FROM Stuff", last, "the replica connection ran the count")

    def test_other_queries_stay_on_the_database_connection(self):
        self.stats()
        before = replica_counts(self.client)
        for path in ("/stuff", "/stuff/1", "/version"):
            self.assertEqual(self.client.request("GET", path).status, 200)
        self.assertEqual(replica_counts(self.client), before)
        last = harness.STACK.psql(f"SELECT query FROM pg_stat_activity WHERE application_name = '{REPLICA_NAME}'")
        self.assertIn("count(*) FROM Stuff", last, "nothing else ran on the replica connection")

    def test_a_write_is_seen_by_the_next_replica_read(self):
        # One server here, so no lag: the count follows the write (on a standby it may lag).
        before = self.stats()
        r = self.client.request("POST", "/stuff", data={"stuff": f"replica-{free_port()}-{before}"})
        self.assertEqual(r.status, 201, repr(r))
        self.assertEqual(self.stats(), before + 1)


class TestReplicaUnavailable(ReplicaStack):
    # Nothing listens there: connecting fails at once.
    replica = f"host=127.0.0.1 port={free_port()} dbname=kiva user=kiva connect_timeout=2"
    threads = "1"  # each thread's connection pauses on its own: one thread, one pause

    def test_the_primary_answers_and_the_replica_pauses(self):
        before = replica_counts(self.client)
        expected = int(harness.STACK.psql("SELECT count(*) FROM Stuff"))
        for _ in range(10):
            self.assertEqual(self.stats(), expected)
        after = replica_counts(self.client)
        self.assertEqual(after["fallback"] - before.get("fallback", 0), 10, (before, after))
        self.assertEqual(after["primary"] + after["standby"], 0)
        def failed():
            return [line for line in self.stack.worker_log() if "replica database failed" in line]
        self.assertTrue(eventually(failed), self.stack.output()[-3000:])  # the log is written every 20 ms
        failed = failed()
        self.assertIn("its queries run on the primary for 1 s", failed[0])
        # A pause after each failure (1 s, then 2 s...): not one attempt per request.
        self.assertLessEqual(len(failed), 3, failed)
        self.assertTrue(any("cannot connect to the replica database" in line for line in self.stack.worker_log()))


if __name__ == "__main__":
    unittest.main()
