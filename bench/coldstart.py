#!/usr/bin/env python3
"""Cold start of a FastCGI worker: the time from spawning the process to its first answered
request, which is what a process manager (mod_fcgid starting a process on demand) pays.

Each run spawns the command on a fresh unix socket path, polls connect() every 0.5 ms, sends
one FastCGI GET (a minimal client: BEGIN_REQUEST, PARAMS, empty STDIN) as soon as the socket
accepts connections, reads until END_REQUEST, checks the status is 200, then stops the
process with SIGTERM and waits for it.

Usage: coldstart.py [--runs N] [--path /stuff/1] --config KIVA_CONFIG KIVA_BINARY
       coldstart.py [--runs N] --responder CONNINFO RESPONDER_BINARY
"""

import argparse
import os
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import time

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _record(kind, content, request_id=1):
    return struct.pack("!BBHHBB", 1, kind, request_id, len(content), 0, 0) + content


def _length(n):
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)


def fastcgi_request(params):
    """The bytes of one FastCGI request without a body (role responder, connection closed after)."""
    pairs = b"".join(_length(len(k)) + _length(len(v)) + k + v
                     for k, v in ((k.encode(), v.encode()) for k, v in params.items()))
    return (_record(FCGI_BEGIN_REQUEST, struct.pack("!HB5x", 1, 0)) + _record(FCGI_PARAMS, pairs)
            + _record(FCGI_PARAMS, b"") + _record(FCGI_STDIN, b""))


def read_response(sock):
    """Reads records until END_REQUEST; returns the STDOUT stream (headers and body)."""
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, kind, _, length, padding, _ = struct.unpack("!BBHHBB", buf[:8])
            if len(buf) < 8 + length + padding:
                break
            content, buf = buf[8:8 + length], buf[8 + length + padding:]
            if kind == FCGI_STDOUT:
                out += content
            elif kind == FCGI_END_REQUEST:
                return out
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before FCGI_END_REQUEST")
        buf += chunk


def status_of(stdout):
    for line in stdout.split(b"\r\n"):
        if not line:
            break
        if line.lower().startswith(b"status:"):
            return int(line.split()[1])
    return 200  # no Status header means 200 in CGI


def one_run(command, sock_path, request, log, timeout=10.0):
    """Spawns command (which listens on sock_path); returns seconds to the first 200."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = start + timeout
        while True:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no answer within {timeout} s from {command[0]}")
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {proc.returncode} before answering")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sock_path)
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                time.sleep(0.0005)
                continue
            with s:
                s.sendall(request)
                stdout = read_response(s)
            elapsed = time.perf_counter() - start
            status = status_of(stdout)
            if status != 200:
                raise RuntimeError(f"first answer has status {status}: {stdout[:200]!r}")
            return elapsed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(make_command, runs=20, path="/stuff/1", prefix="/api", log_path=os.devnull, workdir=None):
    """make_command(sock_path) -> argv. Returns the list of times in seconds."""
    request = fastcgi_request({
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": prefix, "PATH_INFO": path, "REQUEST_URI": prefix + path, "QUERY_STRING": "",
        "CONTENT_TYPE": "", "CONTENT_LENGTH": "", "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost"})
    times = []
    directory = workdir or tempfile.mkdtemp(prefix="kiva-cold-")
    with open(log_path, "a") as log:
        for i in range(runs):
            sock_path = os.path.join(directory, f"cold-{os.getpid()}-{i}.sock")
            times.append(one_run(make_command(sock_path), sock_path, request, log))
            if os.path.exists(sock_path):
                os.unlink(sock_path)
    return times


def kiva_command(binary, config, directory):
    """A copy of config listening on the given socket path, for each run."""
    with open(config) as f:
        lines = [l for l in f.read().splitlines() if not l.strip().startswith("listen")]

    def make(sock_path):
        conf = sock_path + ".conf"
        with open(conf, "w") as f:
            f.write("\n".join(lines + [f"listen = unix:{sock_path}"]) + "\n")
        return [binary, "--config", conf]
    return make


def summary(times):
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return {"runs": len(ms), "median_ms": statistics.median(ms), "p90_ms": p90,
            "min_ms": ms[0], "max_ms": ms[-1], "all_ms": [round(t, 3) for t in ms]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--path", default="/stuff/1")
    ap.add_argument("--config", help="kiva configuration to copy (listen is replaced)")
    ap.add_argument("--responder", metavar="CONNINFO", help="the binary is the bench responder")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("binary")
    a = ap.parse_args()
    directory = tempfile.mkdtemp(prefix="kiva-cold-")
    if a.responder:
        make = lambda sock: [a.binary, sock, a.responder, str(a.threads)]  # noqa: E731
    elif a.config:
        make = kiva_command(a.binary, a.config, directory)
    else:
        ap.error("--config or --responder is required")
    s = summary(measure(make, a.runs, a.path, workdir=directory))
    print(f"cold start of {a.binary}: median {s['median_ms']:.1f} ms, p90 {s['p90_ms']:.1f} ms "
          f"(min {s['min_ms']:.1f}, max {s['max_ms']:.1f}, {s['runs']} runs)")


if __name__ == "__main__":
    main()
