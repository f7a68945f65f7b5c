"""PostgreSQL going away and coming back: the worker answers 503 meanwhile, never dies, and
serves again on fresh connections (named last: it restarts the shared database)."""

import re
import time

from harness import ApiTest, STACK, eventually


class TestResilience(ApiTest):
    def test_restart_is_transparent(self):
        self.call("GET", "/stuff/1", 200)
        STACK.pg_ctl("-m", "fast", "-w", "restart")
        # Every worker thread had a connection that is now broken: the next requests reconnect.
        for _ in range(24):
            self.call("GET", "/stuff/1", 200)
            self.call("GET", "/version", 200)

    def test_restart_then_streamed_list_and_write_reconnect(self):
        # The server closes every idle connection when it restarts: the first statement of
        # each thread's next request notices it before sending (or on the FATAL message), and
        # goes to a fresh connection; a streamed list (GET /stuff) as well, never a 503.
        before = self.reconnects()
        for _ in range(3):
            self.call("GET", "/stuff", 200)
            STACK.pg_ctl("-m", "fast", "-w", "restart")
            for i in range(12):
                self.call("GET", "/stuff", 200)
            STACK.pg_ctl("-m", "fast", "-w", "restart")
            name = f"after-restart-{time.time_ns()}"
            self.call("POST", "/stuff", 201, data={"stuff": name})
            self.assertEqual(STACK.psql(f"SELECT count(*) FROM Stuff WHERE stuff = '{name}'"), "1")
        self.assertGreater(self.reconnects(), before)
        self.assertTrue(STACK.log_lines("database connection opened again to "), "no reconnection logged")

    @staticmethod
    def error_lines():
        return [line for line in STACK.log_lines("GET /stuff/1: ") if " ERROR " in line]

    def reconnects(self):
        text = self.api.request("GET", "/metrics").body.decode()
        for line in text.splitlines():
            if line.startswith("kiva_db_reconnects_total "):
                return float(line.split()[1])
        self.fail("no kiva_db_reconnects_total in /metrics")

    def test_terminated_backends_reconnect(self):
        self.call("GET", "/stuff", 200)
        STACK.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = 'kiva' AND pid <> pg_backend_pid()")
        for _ in range(24):
            self.call("GET", "/stuff/1", 200)

    def test_database_down_is_503_then_recovers(self):
        STACK.pg_ctl("-m", "fast", "-w", "stop")
        lines = len(self.error_lines())
        try:
            started = time.monotonic()
            for _ in range(8):
                self.error("GET", "/stuff/1", 503, "database unavailable")
            burst = time.monotonic() - started
            self.call("GET", "/cmp/add", 401)  # routes without the database still answer
            time.sleep(1.1)
            self.error("GET", "/stuff/1", 503, "database unavailable")
        finally:
            STACK.pg_ctl("-w", "start")

        # An outage's 503s: at most one error line a second; the next one says how many it held.
        def logged():
            found = self.error_lines()[lines:]
            return found if any("more database 503s" in line for line in found) else None
        found = eventually(logged)
        self.assertTrue(found, STACK.worker_log()[-12:])
        self.assertLessEqual(len(found), 2 + int(burst), found)
        self.assertTrue(any(re.search(r"\(and [1-9]\d* more database 503s since the last such line, not logged\)", line)
                            for line in found), found)
        deadline = time.time() + 10
        while self.api.request("GET", "/stuff/1").status != 200 and time.time() < deadline:
            time.sleep(0.1)
        for _ in range(24):
            self.call("GET", "/stuff/1", 200)

    def test_connection_lost_during_a_request_is_503_then_recovers(self):
        # A trigger that kills its own backend: the connection dies in the middle of the
        # request (after BEGIN, during the INSERT), on the retry as well.
        STACK.psql("""
            CREATE OR REPLACE FUNCTION kill_my_backend() RETURNS TRIGGER LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.stuff LIKE 'kill-me-%' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER kill_my_backend BEFORE INSERT ON Stuff
              FOR EACH ROW EXECUTE FUNCTION kill_my_backend();""")
        try:
            name = f"kill-me-{time.time_ns()}"
            self.error("POST", "/stuff", 503, "database unavailable", data={"stuff": name})
        finally:
            STACK.psql("DROP TRIGGER kill_my_backend ON Stuff; DROP FUNCTION kill_my_backend()")
        self.assertEqual(STACK.psql(f"SELECT count(*) FROM Stuff WHERE stuff = '{name}'"), "0")
        for _ in range(12):  # every thread, the killed one included, serves again
            self.call("GET", "/stuff/1", 200)
        self.call("POST", "/stuff", 201, data={"stuff": f"after-{name}"})
