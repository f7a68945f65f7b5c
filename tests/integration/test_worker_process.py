"""The worker as a process, without nginx: where it listens (unix socket, TCP, the socket
inherited on fd 0 as spawn-fcgi and mod_fcgid give it), and how it stops (SIGTERM finishes
the requests in flight, then exits 0)."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import fcgi
from harness import STACK, eventually, free_port


STARTED = []  # every worker started, stopped by tearDownModule even when a test fails


def tearDownModule():
    for worker in STARTED:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


def alive(pid):
    """True while pid runs (a zombie is dead; reaped between open and read is dead too)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


class WorkerProcess:
    """A second worker on the stack's database, with its own configuration."""

    def __init__(self, listen, stdin=None, **options):
        conf = open(os.path.join(STACK.state, "run/kiva.conf")).read().splitlines()
        conf = [line for line in conf if not line.startswith(("listen", "log_level"))]
        conf += ["log_level = info"] + ([f"listen = {listen}"] if listen else [])
        conf += [f"{k} = {v}" for k, v in options.items()]
        self.dir = tempfile.mkdtemp(prefix="kiva-worker-", dir=STACK.state)
        self.conf = os.path.join(self.dir, "kiva.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log = open(os.path.join(self.dir, "worker.log"), "w+")
        self.process = subprocess.Popen([STACK.env["KIVA"], "--config", self.conf], stdin=stdin,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        STARTED.append(self)

    def output(self):
        self.log.flush()
        with open(self.log.name, errors="backslashreplace") as f:
            return f.read()

    def wait_ready(self, address):
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if fcgi.call(address, "GET", "/stuff/1")[0] == 200:
                    return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("worker not ready:\n" + self.output())

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


class TestWorkerProcess(unittest.TestCase):
    def test_unix_socket(self):
        path = os.path.join(tempfile.mkdtemp(prefix="kiva-sock-", dir=STACK.state), "w.sock")
        worker = WorkerProcess(f"unix:{path}")
        worker.wait_ready(path)
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), "0o660")
        status, headers, body = fcgi.call(path, "GET", "/stuff/1")
        self.assertEqual((status, headers["Content-Type"]), (200, "application/json"))
        self.assertEqual(json.loads(body)["sid"], 1)
        self.assertEqual(worker.stop(), 0)

    def test_an_open_client_connection_does_not_hold_a_thread(self):
        # On a unix socket the worker closes a connection as soon as it has answered, rather
        # than libfcgi's lingering close (shutdown, then wait up to 2 s for the client to close
        # its end), which kept a thread from the next request. One thread: the second client
        # is served while the first still holds its connection open.
        path = os.path.join(tempfile.mkdtemp(prefix="kiva-sock-", dir=STACK.state), "w.sock")
        worker = WorkerProcess(f"unix:{path}", threads=1)
        worker.wait_ready(path)
        first = fcgi.Request(path, "GET", "/stuff/1")
        try:
            self.assertEqual(first.response(close=False)[0], 200)
            started = time.monotonic()
            self.assertEqual(fcgi.call(path, "GET", "/stuff/2")[0], 200)
            waited = time.monotonic() - started
            first.sock.settimeout(5)
            self.assertEqual(first.sock.recv(1), b"", "the worker closes its end after the answer")
        finally:
            first.sock.close()
        self.assertLess(waited, 1.5, "the second request waited for the first client to close")
        self.assertEqual(worker.stop(), 0)

    def test_tcp_loopback(self):
        port = free_port()
        worker = WorkerProcess(f"127.0.0.1:{port}")
        worker.wait_ready(("127.0.0.1", port))
        self.assertEqual(fcgi.call(("127.0.0.1", port), "GET", "/nope")[0], 404)
        self.assertEqual(worker.stop(), 0)

    def test_inherited_socket_on_fd0(self):
        # As spawn-fcgi and mod_fcgid do: the listening socket is the worker's stdin.
        path = os.path.join(tempfile.mkdtemp(prefix="kiva-sock-", dir=STACK.state), "fd0.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(16)
        worker = WorkerProcess("", stdin=listener.fileno(), threads=1)
        listener.close()
        worker.wait_ready(path)
        self.assertIn("inherited socket (fd 0)", worker.output())
        self.assertEqual(worker.stop(), 0)

    def test_no_socket_is_a_clear_error(self):
        worker = WorkerProcess("", stdin=subprocess.DEVNULL)
        self.assertEqual(worker.process.wait(10), 2)
        self.assertIn("no socket to serve", worker.output())

    def test_sigterm_finishes_requests_in_flight(self):
        path = os.path.join(tempfile.mkdtemp(prefix="kiva-sock-", dir=STACK.state), "stop.sock")
        worker = WorkerProcess(f"unix:{path}", threads=2)
        worker.wait_ready(path)
        name = f"in-flight-{os.getpid()}-{time.time_ns()}"
        body = f"stuff={name}".encode()
        request = fcgi.Request(path, "POST", "/stuff", body=body,
                               content_type="application/x-www-form-urlencoded")
        request.send_body(body[:5])          # the worker is now reading this request's body
        time.sleep(0.2)
        worker.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertIsNone(worker.process.poll(), "the worker left before finishing its request")
        request.send_body(body[5:])
        status, _, answer = request.response()
        self.assertEqual(status, 201, answer)
        self.assertEqual(worker.process.wait(10), 0)
        self.assertIn("stopping on", worker.output())
        # A stopped worker takes no new request: its socket refuses or nobody answers.
        with self.assertRaises(OSError):
            fcgi.call(path, "GET", "/stuff/1")

    def test_prefork_respawns_a_dead_process(self):
        path = os.path.join(tempfile.mkdtemp(prefix="kiva-sock-", dir=STACK.state), "prefork.sock")
        worker = WorkerProcess(f"unix:{path}", processes=2, threads=2)
        worker.wait_ready(path)

        def children():
            out = subprocess.run(["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True)
            return sorted(int(p) for p in out.stdout.split())

        deadline = time.time() + 10
        while len(children()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        first = children()
        self.assertEqual(len(first), 2, worker.output())
        os.kill(first[0], signal.SIGKILL)
        while alive(first[0]):
            time.sleep(0.01)  # a request racing with the kill may be cut: start after the death
        for _ in range(20):  # the other process serves meanwhile; the supervisor starts another
            self.assertEqual(fcgi.call(path, "GET", "/stuff/1")[0], 200)
        deadline = time.time() + 10
        while (len(children()) < 2 or first[0] in children()) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(children()), 2, worker.output())
        self.assertNotIn(first[0], children())
        self.assertTrue(eventually(lambda: "killed by" in worker.output()), worker.output())
        self.assertEqual(worker.stop(), 0)
        self.assertEqual(children(), [])

    def test_configuration_errors_stop_at_start(self):
        worker = WorkerProcess("unix:/tmp/unused.sock", threads="many")
        self.assertEqual(worker.process.wait(10), 2)
        self.assertIn("threads must be an integer", worker.output())


class TestConfiguredSchemes(unittest.TestCase):
    """Options the shared stack does not use: JWT tokens, and the httpd scheme."""

    def start(self, **options):
        path = os.path.join(tempfile.mkdtemp(prefix="kiva-sock-", dir=STACK.state), "w.sock")
        worker = WorkerProcess(f"unix:{path}", **options)
        worker.wait_ready(path)
        self.addCleanup(worker.stop)
        return path

    def test_jwt_tokens(self):
        path = self.start(token_type="jwt")
        basic = {"HTTP_AUTHORIZATION": "Basic " + __import__("base64").b64encode(b"hobbes:susie").decode()}
        status, _, body = fcgi.call(path, "GET", "/login", headers=basic)
        self.assertEqual(status, 200, body)
        token = json.loads(body)
        self.assertEqual(token.count("."), 2, token)
        header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
        self.assertEqual(header["alg"], "HS256")
        bearer = {"HTTP_AUTHORIZATION": "Bearer " + token}
        status, _, body = fcgi.call(path, "GET", "/qui-suis-je", headers=bearer)
        self.assertEqual((status, json.loads(body)), (200, "hobbes"))
        tampered = {"HTTP_AUTHORIZATION": "Bearer " + token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]}
        status, headers, body = fcgi.call(path, "GET", "/qui-suis-je", headers=tampered)
        self.assertEqual((status, json.loads(body)), (401, {"error": "invalid token"}))
        self.assertEqual(headers["WWW-Authenticate"], 'Bearer realm="kiva"')

    def test_httpd_scheme_trusts_remote_user(self):
        path = self.start(auth="httpd")
        status, _, body = fcgi.call(path, "GET", "/hello", headers={"REMOTE_USER": "susie"})
        self.assertEqual((status, json.loads(body)), (200, "hello susie!"))
        status, headers, body = fcgi.call(path, "GET", "/hello")
        self.assertEqual(status, 401)
        self.assertNotIn("WWW-Authenticate", headers)  # no challenge: the front end authenticates

    def test_remote_user_is_ignored_without_httpd(self):
        path = self.start()
        status, _, _ = fcgi.call(path, "GET", "/hello", headers={"REMOTE_USER": "calvin"})
        self.assertEqual(status, 401)
