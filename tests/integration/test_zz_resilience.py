"""PostgreSQL going away and coming back: the worker answers 503 meanwhile, never dies, and
serves again on fresh connections (named last: it restarts the shared database)."""

import time

from harness import ApiTest, STACK


class TestResilience(ApiTest):
    def test_restart_is_transparent(self):
        self.call("GET", "/stuff/1", 200)
        STACK.pg_ctl("-m", "fast", "-w", "restart")
        # Every worker thread had a connection that is now broken: the next requests reconnect.
        for _ in range(24):
            self.call("GET", "/stuff/1", 200)
            self.call("GET", "/version", 200)

    def test_terminated_backends_reconnect(self):
        self.call("GET", "/stuff", 200)
        STACK.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = 'kiva' AND pid <> pg_backend_pid()")
        for _ in range(24):
            self.call("GET", "/stuff/1", 200)

    def test_database_down_is_503_then_recovers(self):
        STACK.pg_ctl("-m", "fast", "-w", "stop")
        try:
            for _ in range(8):
                self.error("GET", "/stuff/1", 503, "database unavailable")
            self.call("GET", "/cmp/add", 401)  # routes without the database still answer
        finally:
            STACK.pg_ctl("-w", "start")
        deadline = time.time() + 10
        while self.api.request("GET", "/stuff/1").status != 200 and time.time() < deadline:
            time.sleep(0.1)
        for _ in range(24):
            self.call("GET", "/stuff/1", 200)
