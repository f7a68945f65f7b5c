"""The integration harness: a real stack (PostgreSQL, the kiva worker, nginx) started by
deploy/dev/stack.sh -- the script `make run` uses -- in a temporary directory on free
loopback ports, and a small HTTP client to talk to it through nginx."""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PREFIX = "/api"


def eventually(predicate, timeout=5.0):
    """Polls predicate until it is true or timeout seconds pass; returns its last value.
    The worker writes its log from a background thread (batches every 20 ms), so a log line
    comes shortly after the answer it describes, never with it."""
    deadline = time.time() + timeout
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(0.02)
        value = predicate()
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """One PostgreSQL + worker + nginx, for the whole run."""

    def __init__(self, build, **env):
        # No jobs worker unless asked (JOBS="1"): one on a test's second stack would run the
        # jobs other tests left queued on the shared database, writing behind their backs.
        env = {"JOBS": "0", **env}
        self.build = os.path.abspath(build)
        self.state = tempfile.mkdtemp(prefix="kiva-it-")
        os.chmod(self.state, 0o755)  # the postgres account must reach its directory
        self.port = free_port()
        self.pgport = free_port()
        self.env = dict(os.environ, STATE=self.state, PORT=str(self.port), PGPORT=str(self.pgport),
                        PREFIX=PREFIX, KIVA=os.path.join(self.build, "kiva"), **env)
        self.log_path = os.path.join(self.state, "stack.log")
        self.process = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([os.path.join(ROOT, "deploy/dev/stack.sh")], env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the stack exited:\n" + self.output())
            if "stack: kiva serving" in self.output():
                return self
            time.sleep(0.1)
        raise RuntimeError("the stack did not start in time:\n" + self.output())

    def output(self):
        with open(self.log_path, errors="backslashreplace") as f:
            return f.read()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process:
            self.log.close()

    def cleanup(self):
        shutil.rmtree(self.state, ignore_errors=True)

    # --- PostgreSQL, for tests that break it on purpose --------------------------------
    def pg_ctl(self, *args):
        pgbin = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
        cmd = [f"/usr/lib/postgresql/{pgbin}/bin/pg_ctl", "-D", os.path.join(self.state, "pg/data"), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    def psql(self, sql):
        out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(self.state, "pg"),
                              "-p", str(self.pgport), "-U", "kiva", "-d", "kiva", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def worker_log(self):
        """The worker's lines in the stack's output (the worker writes to the stack's stderr)."""
        return [line for line in self.output().splitlines() if " kiva[" in line]

    def log_lines(self, fragment):
        return [line for line in self.worker_log() if fragment in line]

    def next_log_line(self, fragment, before):
        """The first line holding fragment after the `before` such lines already there, waited for."""
        lines = eventually(lambda: (found := self.log_lines(fragment))[before:] and found)
        if not lines:
            raise AssertionError(f"no new worker log line with {fragment!r}")
        return lines[before]


class Redis:
    """A redis-server of our own on a free loopback port, with its own configuration (no
    persistence: a restart comes back empty), for the shared cache tests."""

    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="kiva-redis-")
        self.port = free_port()
        self.password = password
        self.process = None
        conf = [f"port {self.port}", "bind 127.0.0.1", "daemonize no", f"dir {self.dir}",
                'save ""', "appendonly no", "protected-mode yes", "loglevel warning",
                f"logfile {os.path.join(self.dir, 'redis.log')}"]
        if password:
            conf.append(f"requirepass {password}")
        self.conf = os.path.join(self.dir, "redis.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(["redis-server", self.conf], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        if not eventually(lambda: self._answers(), timeout=10):
            raise RuntimeError("redis-server did not start")
        return self

    def _answers(self):
        try:
            return self.command("PING") in ("PONG", "NOAUTH Authentication required.")
        except OSError:
            return False

    def command(self, *words):
        """One command on a new connection; the reply as text (a tiny RESP client)."""
        def encode(ws):
            return b"*%d\r\n" % len(ws) + b"".join(b"$%d\r\n%s\r\n" % (len(w.encode()), w.encode())
                                                   for w in ws)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall((encode(["AUTH", self.password]) if self.password else b"") + encode(list(words)))
            f = s.makefile("rb")
            if self.password:
                self._read(f)
            return self._read(f)

    def _read(self, f):
        line = f.readline().rstrip(b"\r\n").decode()
        kind, rest = line[:1], line[1:]
        if kind in "+-":
            return rest
        if kind == ":":
            return int(rest)
        if kind == "$":
            if rest == "-1":
                return None
            data = f.read(int(rest) + 2)[:-2]
            return data.decode(errors="backslashreplace")
        if kind == "*":
            return [self._read(f) for _ in range(int(rest))] if rest != "-1" else None
        raise RuntimeError("bad Redis reply " + line)

    def keys(self, pattern="*"):
        return self.command("KEYS", pattern)

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def kill(self):
        """SIGKILL: everything it held is lost (no persistence)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def stop(self):
        self.kill()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """HTTP/1.1 with a persistent connection, through nginx."""

    def __init__(self, port, prefix=PREFIX):
        self.port = port
        self.prefix = prefix
        self.conn = None

    def request(self, method, path, *, data=None, json_body=None, body=None, auth=None, token=None,
                headers=None, content_type=None):
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = "&".join(f"{k}={v}" for k, v in data.items()).encode() if isinstance(data, dict) else data
            if isinstance(body, str):
                body = body.encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if content_type:
            hdrs["Content-Type"] = content_type
        if auth is not None:
            hdrs["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        headers = {}
        for k, v in r.getheaders():  # Vary may come twice (the worker's, nginx's gzip_vary): one list
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k == "vary" and k in headers else v
        return Reply(r.status, headers, payload)

    def close(self):
        if self.conn:
            self.conn.close()


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:200]!r}>"


STACK = None  # set by run.py


class ApiTest(unittest.TestCase):
    """A test case talking to the shared stack."""

    def setUp(self):
        self.api = Client(STACK.port)

    def tearDown(self):
        self.api.close()

    def call(self, method, path, status, **kwargs):
        """One request; checks the status and, for errors, the JSON error body."""
        r = self.api.request(method, path, **kwargs)
        self.assertEqual(r.status, status, f"{method} {path}: {r!r}")
        if status == 204:
            self.assertEqual(r.body, b"", f"{method} {path}: 204 with a body")
        elif method != "HEAD":
            self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), repr(r))
            parsed = r.json
            if status >= 400:
                self.assertIsInstance(parsed, dict, repr(r))
                self.assertIn("error", parsed, repr(r))
                self.assertIsInstance(parsed["error"], str)
        return r

    def error(self, method, path, status, message=None, **kwargs):
        r = self.call(method, path, status, **kwargs)
        if message is not None:
            self.assertEqual(r.json["error"], message, repr(r))
        return r
