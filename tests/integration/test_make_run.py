"""`make run` itself, as a developer uses it: it serves the API; SIGTERM to make (what a
process manager or `timeout` sends) and Ctrl-C (SIGINT to the terminal's process group) stop
nginx, the worker and PostgreSQL; a second `make run` keeps the data. Its own state directory
and ports, so the shared stack and the developer's var/ are untouched."""

import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import harness
from harness import ROOT, eventually, free_port


def processes_using(path):
    """Pids of processes whose command line names path (postgres -D, nginx -p, kiva --config)."""
    out = subprocess.run(["pgrep", "-f", path], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


class MakeRun:
    def __init__(self, state, port, pgport, number):
        self.state, self.port, self.pgport = state, port, pgport
        self.log_path = os.path.join(state, f"make-run-{number}.log")

    def start(self):
        with open(self.log_path, "w") as log:
            # A session of its own: SIGINT to the group is what Ctrl-C in a terminal sends.
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "-C", ROOT, "run", f"PORT={self.port}", f"PGPORT={self.pgport}"],
                env=dict(os.environ, STATE=self.state), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        if not eventually(lambda: "stack: kiva serving" in self.output() or self.process.poll() is not None, 180):
            raise AssertionError("make run did not start:\n" + self.output())
        if self.process.poll() is not None:
            raise AssertionError("make run exited:\n" + self.output())
        return self

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None, auth=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        if token:
            headers["Authorization"] = "Bearer " + token
        conn.request(method, "/api" + path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, json.loads(data) if data else None

    def stop(self, how):
        if how == "SIGTERM":
            self.process.send_signal(signal.SIGTERM)      # make alone, as `kill <pid of make>`
        else:
            os.killpg(self.process.pid, signal.SIGINT)    # the whole group, as Ctrl-C
        return self.process.wait(60)

    def kill(self):
        """Whatever is left in make's process group (a stack orphaned by a failed stop too)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


@unittest.skipUnless(harness.STACK is None or harness.STACK.build == os.path.join(ROOT, "build"),
                     "make run serves build/: tested in the pass over that build only")
class TestMakeRun(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="kiva-make-run-")
        os.chmod(self.state, 0o755)  # the postgres account must reach its directory
        self.runs = []

    def tearDown(self):
        for run in self.runs:
            run.kill()
        for pid in processes_using(self.state):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.state, ignore_errors=True)

    def make_run(self, port, pgport):
        run = MakeRun(self.state, port, pgport, len(self.runs) + 1)
        self.runs.append(run)
        return run.start()

    def test_serves_stops_on_sigterm_and_ctrl_c_and_keeps_the_data(self):
        port, pgport = free_port(), free_port()
        run = self.make_run(port, pgport)
        self.assertEqual(run.call("GET", "/stuff")[1][:2], [{"sid": 1, "stuff": "Chair"}, {"sid": 2, "stuff": "Desk"}])
        name = "kept-" + uuid.uuid4().hex
        status, created = run.call("POST", "/stuff", f"stuff={name}")
        self.assertEqual(status, 201)
        # The course's walkthrough, as it prints it: moe registers with secret (the course's
        # model accepts 4 characters), logs in and is greeted with his token.
        self.assertEqual(run.call("POST", "/register", "login=moe&pword=secret")[0], 201)
        self.assertEqual(run.call("POST", "/register", "login=curly&pword=nyuk")[0], 201)
        self.assertEqual(run.call("GET", "/hello", auth=("moe", "secret")), (200, "hello moe!"))
        status, token = run.call("GET", "/login", auth=("moe", "secret"))
        self.assertEqual(status, 200)
        self.assertRegex(token, r"^kiva:moe:\d{14}:")
        self.assertEqual(run.call("GET", "/qui-suis-je", token=token), (200, "moe"))
        self.assertTrue(processes_using(self.state), "no process of this stack found: the check below could not fail")

        run.stop("SIGTERM")
        self.assertEqual(eventually(lambda: processes_using(self.state) == [], 10), True,
                         f"left running after SIGTERM to make: {processes_using(self.state)}\n{run.output()}")
        self.assertIn("stack: stopped", run.output())

        run = self.make_run(port, pgport)
        self.assertEqual(run.call("GET", f"/stuff/{created['sid']}"), (200, {"sid": created["sid"], "stuff": name}))
        run.stop("SIGINT")
        self.assertEqual(eventually(lambda: processes_using(self.state) == [], 10), True,
                         f"left running after Ctrl-C: {processes_using(self.state)}\n{run.output()}")


if __name__ == "__main__":
    unittest.main()
