#!/usr/bin/env python3
"""sqlmap (Debian's package) against the parameterized routes, through nginx, against the
real PostgreSQL of a stack started for the run: every route that takes user input into a
query (GET /stuff?filter, POST /stuff, GET /stuff/<sid>, POST /register, GET /login with
Basic credentials, login and password in turn) at --level 3 --risk 2 (which also tries the
Cookie, User-Agent and Referer headers). Passes when sqlmap ran each target to its end and
found nothing injectable (its final verdicts, from its results files: a point it flags and
then rejects in its own false-positive check is none); prints `security: N passed, M
failed`. Each target is bounded by a timeout, the whole run by a few minutes (sqlmap is told
the database is PostgreSQL, which skips the other engines' payloads)."""

import csv
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

TIMEOUT = int(os.environ.get("KIVA_SQLMAP_TIMEOUT", "240"))  # seconds per target


def targets(base):
    basic_half = os.path.join(HERE, "tamper", "sqlmap_basic_auth.py")
    return [
        ("GET /stuff?filter", ["-u", f"{base}/stuff?filter=Hello"], {}),
        ("POST /stuff", ["-u", f"{base}/stuff", "--data", "stuff=sqlmap-probe"], {}),
        ("GET /stuff/<sid>", ["-u", f"{base}/stuff/1*"], {}),
        ("POST /register", ["-u", f"{base}/register", "--data", "login=sqlmap&pword=sqlmap-pass"], {}),
        # sqlmap's first, unmodified request carries the bare half: 401, a valid answer here.
        ("GET /login, Basic login", ["-u", f"{base}/login", "-H", "Authorization: Basic calvin*",
                                     "--tamper", basic_half, "--ignore-code", "401"],
         {"KIVA_SQLMAP_BASIC": ":hobbes"}),
        ("GET /login, Basic password", ["-u", f"{base}/login", "-H", "Authorization: Basic hobbes*",
                                        "--tamper", basic_half, "--ignore-code", "401"],
         {"KIVA_SQLMAP_BASIC": "calvin:"}),
    ]


class Injectable(http.server.BaseHTTPRequestHandler):
    """The control: what the test must catch. GET /stuff?sid=X pastes X into SQL (exactly
    what kiva never does) and runs it on the stack's database with psql."""
    stack = None

    def do_GET(self):
        sid = parse_qs(urlparse(self.path).query).get("sid", ["1"])[0]
        try:
            out = self.stack.psql("SELECT stuff FROM Stuff WHERE sid = " + sid)
            status, body = 200, out.encode()
        except subprocess.CalledProcessError:
            status, body = 200, b"[]"  # errors hidden: only blind techniques can tell
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def control(stack, out_dir):
    """sqlmap, run as below, finds the injection of a route that has one: the test can fail."""
    Injectable.stack = stack
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Injectable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stuff?sid=1"
        return run_sqlmap("control", ["-u", url, "-p", "sid", "--technique", "B"], {}, out_dir)
    finally:
        server.shutdown()


def findings(out_dir):
    """sqlmap's final verdicts, from its results files (one CSV per run in multiple-target
    mode): the injection points it kept. A point it flagged and then rejected in its own
    false-positive check has the note "false positive or unexploitable" and is no finding."""
    found = []
    for name in sorted(os.listdir(out_dir)):
        if not (name.startswith("results-") and name.endswith(".csv")):
            continue
        with open(os.path.join(out_dir, name), newline="") as f:
            for row in csv.DictReader(f):
                note = row.get("Note(s)") or ""
                if row.get("Technique(s)") and "false positive" not in note:
                    found.append(f"{row.get('Place')} {row.get('Parameter')}: {row.get('Technique(s)')} {note}".strip())
    return found


def run_sqlmap(name, args, env, out_dir):
    """One sqlmap run in its own output directory: (finished, injection points, clean, seconds, output)."""
    out_dir = tempfile.mkdtemp(prefix="run-", dir=out_dir)
    cmd = ["sqlmap", "--batch", "--level", "3", "--risk", "2", "--dbms", "PostgreSQL",
           "--output-dir", out_dir, "--disable-coloring", "--flush-session", "--threads", "2",
           "--answers", "follow=N", *args]
    start = time.time()
    try:
        p = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True, timeout=TIMEOUT)
        out, finished = p.stdout + p.stderr, p.returncode == 0
    except subprocess.TimeoutExpired as e:
        out, finished = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), False
    took = time.time() - start
    injectable = findings(out_dir)
    clean = "do not appear to be injectable" in out or "does not seem to be injectable" in out
    return finished, injectable, clean, took, out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    stack = harness.Stack(build, THREADS="4",
                          # sqlmap sends thousands of wrong credentials from one address.
                          KIVA_EXTRA="password_cost = 4\nauth_max_failures = 1000000\n"
                                     "auth_max_address_failures = 1000000\nlog_requests = off\n")
    passed = failed = 0
    out_dir = tempfile.mkdtemp(prefix="kiva-sqlmap-")
    try:
        stack.start()
        base = f"http://127.0.0.1:{stack.port}{harness.PREFIX}"
        finished, injectable, _, took, out = control(stack, out_dir)
        if finished and injectable:
            passed += 1
            print(f"ok   control: sqlmap finds the injection of a route that pastes its parameter into SQL ({took:.0f} s)")
        else:
            failed += 1
            print(f"FAIL control: sqlmap did not find a real injection, so its silence below would prove nothing")
            print("\n".join(out.splitlines()[-30:]))
        for name, args, env in targets(base):
            finished, injectable, clean, took, out = run_sqlmap(name, args, env, out_dir)
            requests = len(re.findall(r"testing '", out))
            if finished and not injectable and (clean or "false positive" in out):
                passed += 1
                print(f"ok   {name}: nothing injectable ({requests} techniques tried, {took:.0f} s)")
            else:
                failed += 1
                why = "injectable" if injectable else ("timed out" if not finished else "no verdict")
                print(f"FAIL {name}: {why} after {took:.0f} s")
                print("\n".join((injectable or out.splitlines())[-40:]))
    except Exception as e:  # the stack itself failed
        print(f"ERROR: {e}")
        failed += 1
    finally:
        stack.stop()
    log = stack.output()
    for marker in ("AddressSanitizer", "runtime error:", "exited unexpectedly"):
        if marker in log:
            print(f"ERROR: the stack log shows {marker!r}")
            failed += 1
    if failed == 0:
        stack.cleanup()
        subprocess.run(["rm", "-rf", out_dir])
    else:
        print(f"state kept in {stack.state}, sqlmap output in {out_dir}")
    print(f"security: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
