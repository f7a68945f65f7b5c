"""What the deployment test shares: constants, checks, shell commands, an HTTPS client and a
request loop (see e2e.py)."""

import base64
import http.client
import json
import os
import socket
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTANCE = "kiva-e2e"
HOME = f"/home/{INSTANCE}"
DEPLOYER = f"{INSTANCE}-deploy"          # the ssh account of the deploys (prepare-target.sh)
DB = "kiva_e2e"
OWNER = "kiva_e2e_owner"
SOCKET = f"/run/kiva/{INSTANCE}.sock"
BODY_LIMIT = 256 * 1024
FCGID_POOL = 6                           # the mod_fcgid pool of the test's vhost
KEEP = os.environ.get("KIVA_DEPLOY_KEEP") == "1"
BUILD_DIR = os.environ.get("KIVA_DEPLOY_BUILD_DIR", "build-release")
PGBIN = sorted((d for d in os.listdir("/usr/lib/postgresql")), key=lambda v: int(v))[-1] \
    if os.path.isdir("/usr/lib/postgresql") else None
PGBIN = f"/usr/lib/postgresql/{PGBIN}/bin" if PGBIN else None
START = time.time()


def say(message):
    print(f"[{time.time() - START:6.1f}s] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Abort(Exception):
    """A step failed so that what follows cannot run."""


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok   {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"  FAIL {name}{': ' + str(detail) if detail else ''}", flush=True)
        return ok

    def require(self, name, ok, detail=""):
        if not self.check(name, ok, detail):
            raise Abort(name)


CHECKS = Checks()


def sh(cmd, check=True, **kwargs):
    """Runs a command (list), returns CompletedProcess with text output. A command run as
    another account (runuser) starts in /: that account may not enter the checkout (a clone
    below /root), and psql would mix "could not change directory" into the output."""
    if cmd and cmd[0] == "runuser":
        kwargs.setdefault("cwd", "/")
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.STDOUT)
    r = subprocess.run(cmd, text=True, **kwargs)
    if check and r.returncode != 0:
        raise Abort(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}")
    return r


# --------------------------------------------------------------------------- HTTP
class Front:
    """One front end: name, HTTPS and HTTP ports."""

    def __init__(self, name, https, http):
        self.name, self.https, self.http = name, https, http


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class _Localhost:
    """Connects to 127.0.0.1 but names the server localhost, as a browser of
    https://localhost:PORT does: in the Host header and TLS's server name. The front ends serve
    the instance for that name only (their default server refuses every other)."""

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout, self.source_address)
        if isinstance(self, http.client.HTTPSConnection):
            self.sock = self._context.wrap_socket(self.sock, server_hostname="localhost")


class LocalhostHTTPS(_Localhost, http.client.HTTPSConnection):
    pass


class LocalhostHTTP(_Localhost, http.client.HTTPConnection):
    pass


def connection(ctx, port, timeout=30, source_address=None):
    """HTTPS (ctx) or HTTP to the front end on port, for the name localhost."""
    if ctx:
        return LocalhostHTTPS("localhost", port, context=ctx, timeout=timeout, source_address=source_address)
    return LocalhostHTTP("localhost", port, timeout=timeout, source_address=source_address)


def request(ctx, port, method, path, body=None, headers=None, auth=None, token=None, timeout=30):
    hdrs = dict(headers or {})
    if auth:
        hdrs["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    if token:
        hdrs["Authorization"] = "Bearer " + token
    if isinstance(body, dict):
        body = "&".join(f"{k}={v}" for k, v in body.items()).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    conn = connection(ctx, port, timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


class Load:
    """Client threads looping GET /api/version and GET /api/stuff/1 on front ends, counting
    answers that are not 2xx and connection errors as failures."""

    def __init__(self, ctx, fronts):
        self.ctx, self.fronts = ctx, fronts
        self.stop_flag = False
        self.lock = threading.Lock()
        self.ok = {}
        self.failures = []          # (front, time, what)
        self.apps = {}              # (front, app) -> count
        self.threads = []

    def start(self):
        for front, count in self.fronts:
            for _ in range(count):
                t = threading.Thread(target=self.loop, args=(front,), daemon=True)
                t.start()
                self.threads.append(t)
        return self

    def loop(self, front):
        conn, i = None, 0
        while not self.stop_flag:
            path = "/api/version" if i % 2 == 0 else "/api/stuff/1"
            i += 1
            try:
                reused = conn is not None
                if conn is None:
                    conn = connection(self.ctx, front.https)
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                except http.client.RemoteDisconnected:
                    # A kept-alive connection the server closed as this request went out (Apache
                    # closes idle ones at a graceful reload): a GET is retried once on a new
                    # connection, as HTTP clients do; on a fresh connection it is a failure.
                    if not reused:
                        raise
                    conn.close()
                    conn = connection(self.ctx, front.https)
                    conn.request("GET", path)
                    r = conn.getresponse()
                body = r.read()
                now = time.time()
                with self.lock:
                    if 200 <= r.status < 300:
                        self.ok[front.name] = self.ok.get(front.name, 0) + 1
                        if path == "/api/version":
                            key = (front.name, json.loads(body)["app"])
                            self.apps[key] = self.apps.get(key, 0) + 1
                    else:
                        self.failures.append((front.name, now, f"{path} {r.status} {body[:120]!r}"))
                if r.getheader("Connection", "").lower() == "close" or i % 50 == 0:
                    conn.close()
                    conn = None
            except Exception as e:  # counted, never raised
                with self.lock:
                    self.failures.append((front.name, time.time(), f"{path} {e!r}"))
                if conn:
                    conn.close()
                conn = None

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(60)
        return self
