#!/usr/bin/env python3
"""make bench: kiva through nginx against baselines measured in the same run.

Started by bench/run.sh (which builds the release binary and the responder). Starts a private
stack with deploy/dev/stack.sh (PostgreSQL with 10,000 extra Stuff rows and the demo users,
the worker, nginx), the hand-written responder and a second worker without password cache,
runs bounded wrk rounds in alternating order, measures the cold start, stops everything and
prints one table; the details go to bench/results/<timestamp>.json. See bench/README.md.

Exit status: 0 when every run was clean (targets missed or not), 1 when a scenario had errors
(non-2xx or socket errors) or the stack failed, 130 on Ctrl-C.
"""

import base64
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import apache
import coldstart
import cpu
import peers
import rest

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
MIB = 1024 * 1024


def env(name, default):
    return os.environ.get(name) or default


KIVA = os.path.abspath(env("KIVA", os.path.join(ROOT, "build-bench", "kiva")))
RESPONDER = os.path.abspath(env("RESPONDER", os.path.join(os.path.dirname(KIVA), "kiva-bench-responder")))
HELLO = os.path.abspath(env("HELLO", os.path.join(os.path.dirname(KIVA), "kiva-bench-hello")))
PEERS_DIR = os.path.abspath(env("PEERS_DIR", os.path.join(os.path.dirname(KIVA), "peers")))
REST_ONLY = env("BENCH_ONLY", "") in ("rest", "jobs")  # the nginx section and issues 21/22's rows, no Apache/peers
JOBS_ONLY = env("BENCH_ONLY", "") == "jobs"     # issue 22's jobs rows alone (no scenario, cold start, ETag)
APACHE = env("BENCH_APACHE", "1") != "0" and not REST_ONLY  # 0 leaves the Apache scenarios out
APACHE_ONLY = env("BENCH_ONLY", "") == "apache"  # make bench-apache: the Apache section alone
REST = env("BENCH_REST", "1") != "0" and not APACHE_ONLY  # 0 leaves issues 21/22's rows out (bench/rest.py)
JOBS_LOOP = env("JOBS_LOOP", os.path.join(os.path.dirname(KIVA), "kiva-bench-jobs-loop"))
ETAG_COST = env("ETAG_COST", os.path.join(os.path.dirname(KIVA), "kiva-bench-etag-cost"))
SLOW_MS = 900                                     # a request this slow (Apache's %D) is a stall
FCGID_RUNS = int(env("BENCH_FCGID_RUNS", "0"))    # extra runs of apache-fcgid, and one across a reload
SHORT = env("BENCH_SHORT", "0") != "0"          # a quick end-to-end check: 1 s runs, one round
DURATION = env("BENCH_DURATION", "1s" if SHORT else "10s")
ROUNDS = int(env("BENCH_ROUNDS", "1" if SHORT else "2"))  # round B is round A reversed, and so on
PEERS = env("BENCH_PEERS", "1") != "0" and not APACHE_ONLY and not REST_ONLY  # 0 leaves the peers and the sweeps out
SWEEP_DURATION = env("BENCH_SWEEP_DURATION", "1s" if SHORT else "5s")
CONNECTIONS = int(env("BENCH_CONNECTIONS", "16"))
WRK_THREADS = int(env("BENCH_WRK_THREADS", "1"))
WARMUP = env("BENCH_WARMUP", "1s")            # "0" skips the warm-up pass (kept in SHORT: JITs, mod_wsgi)
# The peers warm up longer: Node's JIT and every pool's prepared statements (Node direct: 4,500
# req/s in its first 3 s, 11,500 in the next 3, on a busy machine).
PEER_WARMUP = env("BENCH_PEER_WARMUP", "2s" if SHORT else "3s")
NOCACHE_DURATION = env("BENCH_NOCACHE_DURATION", "1s" if SHORT else "5s")
NOCACHE_CONNECTIONS = int(env("BENCH_NOCACHE_CONNECTIONS", "4"))
COLD_RUNS = int(env("BENCH_COLD_RUNS", "3" if SHORT else "20"))
THREADS = int(env("THREADS", "4"))            # worker threads, and the responder's
STUFF_ROWS = int(env("STUFF_ROWS", "10000"))
RESULTS = env("BENCH_RESULTS", os.path.join(BENCH, "results"))
PREFIX = "/api"
NOCACHE_PREFIX = "/api-nocache"
NOMETRICS_PREFIX = "/api-nometrics"
KEEP = env("BENCH_KEEPCONN", "1") != "0" and not APACHE_ONLY and not REST_ONLY  # persistent nginx-to-worker connections
KEEP_THREADS = int(env("BENCH_KEEPCONN_THREADS", "16"))  # its worker's threads: above what nginx pins
KEEP_PREFIX, MANY_PREFIX = "/api-keep", "/api-t16"
BASELINE_PREFIX = "/baseline"
USER, PASSWORD = "bench-user", "bench-password-42"


def say(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


Failure = apache.Failure

# The scenarios' names in the results file (bench/results/latest.json).
NAMES = {"ceiling": "nginx-ceiling", "responder": "nginx-responder", "s1": "nginx-stuff",
         "s1off": "nginx-stuff-metrics-off",
         "s2": "nginx-whoami-bearer", "s3": "nginx-whoami-basic-cached", "s4": "nginx-whoami-basic-nocache",
         "s5": "nginx-stuff-write", "s6": "nginx-stuff-all", "kiva-ids": "nginx-stuff-ids",
         "s1many": "nginx-stuff-16-threads", "s1keep": "nginx-stuff-16-threads-keepconn", **rest.NAMES}
APACHE_SCENARIOS = ("apache-fcgid", "apache-fcgid-hello", "apache-fcgid-4", "apache-proxy-fcgi",
                    "apache-proxy-fcgi-hello", "flask-wsgi-seed", "flask-wsgi-4")
# The Apache path deploy/README.md recommends: the targets of the Apache rows are checked on it.
RECOMMENDED_APACHE = "apache-proxy-fcgi"
FCGID_SCENARIOS = ("apache-fcgid", "apache-fcgid-hello", "apache-fcgid-4")


_PORTS_GIVEN = set()


def free_port():
    """A port nobody listens on, never one given before in this run (the kernel may hand the
    same free port out twice while nothing listens on it yet)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def fastcgi_location(prefix, sock):
    """An nginx location like nginx/kiva-api.conf.in's, on one line (stack.sh inserts it with sed)."""
    return (f"location {prefix}/ {{ fastcgi_split_path_info ^({prefix})(/.*)$; "
            "include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_NAME $fastcgi_script_name; "
            "fastcgi_param PATH_INFO $fastcgi_path_info; "
            "fastcgi_param HTTP_AUTHORIZATION $http_authorization; client_max_body_size 1M; "
            f"fastcgi_pass unix:{sock}; }}")


def rss_of(pid):
    """VmRSS in bytes of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def find_process(argv):
    """The pid of the process whose command line is exactly argv."""
    want = "\0".join(argv) + "\0"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline") as f:
                if f.read() == want:
                    return int(entry)
        except OSError:
            continue
    return None


def wait_for_socket(path, proc, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise Failure(f"{what} exited with status {proc.returncode}")
        time.sleep(0.02)
    raise Failure(f"{what} did not create {path}")


class Bench:
    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="kiva-bench-")
        os.chmod(self.state, 0o755)  # the postgres account must reach its directory
        self.port, self.pgport = free_port(), free_port()
        self.run_dir = os.path.join(self.state, "run")
        self.baseline_sock = os.path.join(self.run_dir, "baseline.sock")
        self.nocache_sock = os.path.join(self.run_dir, "kiva-nocache.sock")
        self.nometrics_sock = os.path.join(self.run_dir, "kiva-nometrics.sock")
        self.keep_sock = os.path.join(self.run_dir, "kiva-keep.sock")
        self.conninfo = f"host={self.state}/pg port={self.pgport} dbname=kiva user=kiva"
        self.procs = {}  # name -> Popen, stopped in reverse order
        self.logs = []
        self.url = f"http://127.0.0.1:{self.port}"
        self.apache = None
        self.failure = Failure
        self.peers = peers.Peers(self, free_port, PEERS_DIR) if PEERS else None
        self.rest = rest.Rest(self) if REST else None

    # --- processes ----------------------------------------------------------------------
    def spawn(self, name, argv, **kw):
        log = open(os.path.join(self.state, f"{name}.log"), "w")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, **kw)
        return self.procs[name]

    def log_text(self, name, tail=30):
        try:
            with open(os.path.join(self.state, f"{name}.log"), errors="backslashreplace") as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return ""

    def variant_worker(self, name, sock, lines, settings, what):
        """Another worker on the stack's configuration (lines: without listen and
        password_cache_ttl), with settings ({key: value}) instead of the stack's, listening on
        sock; its configuration file, once it listens."""
        conf = os.path.join(self.run_dir, f"{name}.conf")
        replaced = re.compile(r"\s*(" + "|".join(re.escape(k) for k in settings) + r")\s*=")
        with open(conf, "w") as f:
            f.write("\n".join([l for l in lines if not replaced.match(l)] + [f"listen = unix:{sock}"]
                              + [f"{k} = {v}" for k, v in settings.items()]) + "\n")
        self.spawn(name, [KIVA, "--config", conf])
        wait_for_socket(sock, self.procs[name], what)
        return conf

    def start(self):
        extra = " ".join([fastcgi_location(BASELINE_PREFIX, self.baseline_sock),
                          fastcgi_location(NOCACHE_PREFIX, self.nocache_sock),
                          fastcgi_location(NOMETRICS_PREFIX, self.nometrics_sock)]
                         + ([self.peers.nginx_locations()] if self.peers else [])
                         + ([self.rest.nginx_locations(fastcgi_location)] if self.rest else [])
                         + ([fastcgi_location(MANY_PREFIX, self.keep_sock),
                             fastcgi_location(KEEP_PREFIX, "kiva_keep").replace(
                                 "fastcgi_pass unix:kiva_keep;", "fastcgi_keep_conn on; fastcgi_pass kiva_keep;")]
                            if KEEP else []))
        # The same worker reached with kept connections: nginx keeps up to KEEP_THREADS / 2 idle
        # per process, and opens more when every kept one is busy (16 connections of wrk).
        http_extra = (f"upstream kiva_keep {{ server unix:{self.keep_sock}; keepalive {KEEP_THREADS // 2}; }}"
                      if KEEP else "")
        stack_env = dict(os.environ, STATE=self.state, PORT=str(self.port), PGPORT=str(self.pgport),
                         PREFIX=PREFIX, KIVA=KIVA, THREADS=str(THREADS), PROCESSES="1",
                         STUFF_ROWS=str(STUFF_ROWS), ACCESS_LOG="off", NGINX_EXTRA=extra,
                         JOBS="0",  # no jobs worker beside the scenarios; bench/rest.py starts its own
                         # Every worker thread, peer pool, mod_fcgid process and pgbench client
                         # holds a connection: about 100 in all, PostgreSQL's default limit.
                         PG_SETTINGS="\n".join(filter(None, ["max_connections = 200",
                                                              os.environ.get("PG_SETTINGS")])),
                         NGINX_EXTRA_HTTP=" ".join([self.peers.nginx_http() if self.peers else "", http_extra]),
                         # Apache runs as www-data and connects to the same worker.
                         KIVA_EXTRA="\n".join(filter(None, [os.environ.get("KIVA_EXTRA"), "socket_mode = 0666"])))
        say(f"starting the stack in {self.state} (nginx :{self.port}, PostgreSQL :{self.pgport})")
        stack = self.spawn("stack", [os.path.join(ROOT, "deploy/dev/stack.sh")], env=stack_env)
        deadline = time.time() + 180
        while "stack: kiva serving" not in self.log_text("stack", tail=1000):
            if stack.poll() is not None:
                raise Failure("the stack exited:\n" + self.log_text("stack"))
            if time.time() > deadline:
                raise Failure("the stack did not start in time:\n" + self.log_text("stack"))
            time.sleep(0.1)
        # CPU accounting: this run's nginx and PostgreSQL only (bench/cpu.py).
        cpu.PID_FILES["front"].append(os.path.join(self.run_dir, "nginx.pid"))
        cpu.PID_FILES["postgres"].append(os.path.join(self.state, "pg", "data", "postmaster.pid"))
        self.kiva_conf = os.path.join(self.run_dir, "kiva.conf")
        self.worker_pid = find_process([KIVA, "--config", self.kiva_conf])
        if not self.worker_pid:
            raise Failure("cannot find the worker process")

        # The hand-written responder, same thread count, on its own socket.
        self.spawn("responder", [RESPONDER, self.baseline_sock, self.conninfo, str(THREADS)])
        wait_for_socket(self.baseline_sock, self.procs["responder"], "the responder")

        # A second worker, the same configuration without the password cache (scenario 4).
        with open(self.kiva_conf) as f:
            lines = [l for l in f.read().splitlines()
                     if not re.match(r"\s*(listen|password_cache_ttl)\s*=", l)]
        self.nocache_conf = self.variant_worker("kiva-nocache", self.nocache_sock, lines,
                                                {"password_cache_ttl": "0"}, "the second worker")

        # A third, the same configuration without metrics: what counting costs (scenario 1 off).
        self.nometrics_conf = self.variant_worker("kiva-nometrics", self.nometrics_sock, lines,
                                                  {"metrics": "off"}, "the third worker")

        if self.rest:  # scenario 1 with rate_limit on (issue 21)
            self.rest.start(lines)

        if KEEP:  # a fourth worker, KEEP_THREADS threads: one connection per request, or kept
            self.keep_conf = self.variant_worker("kiva-keep", self.keep_sock, lines,
                                                 {"threads": KEEP_THREADS}, "the fourth worker")

        if self.peers:
            say("starting the peers: Go, Node, FastAPI (bench/peers/)")
            self.peers.start()

        if APACHE:
            say("starting Apache: mod_fcgid, mod_proxy_fcgi and mod_wsgi vhosts (bench/apache.py)")
            self.apache = apache.Apache(self.state, free_port, KIVA, HELLO, self.conninfo, self.kiva_conf,
                                        os.path.join(self.run_dir, "kiva.sock"), self.spawn)
            self.apache.start()
            cpu.PID_FILES["front"].append(self.apache.path("run", "httpd.pid"))
            wait_for_socket(self.apache.hello_socket, self.procs["hello"], "the hello responder")

    def stop(self):
        if self.apache:
            self.apache.stop()
        for name in reversed(list(self.procs)):
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    say(f"{name} did not stop on SIGTERM: killed")
                    p.kill()
                    p.wait()
        for log in self.logs:
            log.close()

    def check_alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise Failure(f"{name} exited with status {p.returncode}:\n" + self.log_text(name))

    # --- HTTP ---------------------------------------------------------------------------
    def http(self, method, path, data=None, auth=None, token=None, base=None):
        headers = {}
        if data is not None:
            data = "&".join(f"{k}={v}" for k, v in data.items()).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request((base or self.url) + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def expect(self, method, path, status, **kw):
        got, body = self.http(method, path, **kw)
        if got != status:
            raise Failure(f"{method} {path}: expected {status}, got {got} {body[:300]!r}")
        return body

    def prepare(self):
        """Checks every target answers as expected; registers the bench user; gets a token."""
        self.expect("GET", "/ceiling", 200)
        ours = self.expect("GET", f"{PREFIX}/stuff/42", 200)
        theirs = self.expect("GET", f"{BASELINE_PREFIX}/stuff/42", 200)
        if json.loads(ours) != json.loads(theirs):
            raise Failure(f"the responder and kiva disagree: {theirs!r} vs {ours!r}")
        self.expect("GET", f"{BASELINE_PREFIX}/stuff/999999", 404)
        body = self.expect("GET", f"{PREFIX}/stuff", 200)
        self.rows = len(json.loads(body))
        self.big_bytes = len(body)
        if self.rows < STUFF_ROWS:
            raise Failure(f"GET {PREFIX}/stuff returned {self.rows} rows, expected at least {STUFF_ROWS}")
        # A user hashed with the worker's own password_cost (the demo users have cost 4).
        self.expect("POST", f"{PREFIX}/register", 201, data={"login": USER, "pword": PASSWORD})
        self.token = json.loads(self.expect("GET", f"{PREFIX}/login", 200, auth=(USER, PASSWORD)))
        for prefix in (PREFIX, NOCACHE_PREFIX):
            if json.loads(self.expect("GET", f"{prefix}/whoami", 200, auth=(USER, PASSWORD))) != USER:
                raise Failure(f"{prefix}/whoami does not answer {USER}")
        if json.loads(self.expect("GET", f"{PREFIX}/whoami", 200, token=self.token)) != USER:
            raise Failure("whoami with the token does not answer the bench user")
        sid = json.loads(self.expect("POST", f"{PREFIX}/stuff", 201, data={"stuff": "bench-check"}))["sid"]
        self.expect("DELETE", f"{PREFIX}/stuff/{sid}", 204)
        if self.peers:
            self.peers.check(json.loads)
        if self.rest:
            self.rest.prepare(PREFIX)
        if self.apache:
            for name in APACHE_SCENARIOS:
                got = self.expect("GET", f"{PREFIX}/stuff/42", 200, base=self.apache.url(name))
                if "hello" not in name and json.loads(got) != json.loads(ours):
                    raise Failure(f"{name} and nginx disagree: {got!r} vs {ours!r}")

    def http_json(self, method, path, doc, token):
        req = urllib.request.Request(self.url + path, data=json.dumps(doc).encode(), method=method,
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def cleanup(self):
        cleanup_writes(self)

    def psql(self, *sql, user="kiva"):
        """Each statement on its own (-c each), so that VACUUM can be one of them."""
        commands = [arg for statement in sql for arg in ("-c", statement)]
        out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(self.state, "pg"),
                              "-p", str(self.pgport), "-U", user, "-d", "kiva", *commands],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()


# --- wrk --------------------------------------------------------------------------------
def basic(user, password):
    return "Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def targets(b):
    """name -> (label, wrk arguments after the options, connections, duration)."""
    get = os.path.join(BENCH, "stuff-get.lua")
    report = os.path.join(BENCH, "report.lua")
    write = os.path.join(BENCH, "stuff-write.lua")
    u = b.url
    return {
        "ceiling": ("ceiling: nginx return 200", ["-s", report, f"{u}/ceiling"]),
        "responder": ("responder: libfcgi+libpq", ["-s", get, f"{u}{BASELINE_PREFIX}/", "--", BASELINE_PREFIX]),
        "s1": ("1 GET /stuff/<id>", ["-s", get, f"{u}{PREFIX}/", "--", PREFIX]),
        "s1off": ("1 metrics off", ["-s", get, f"{u}{NOMETRICS_PREFIX}/", "--", NOMETRICS_PREFIX]),
        "s2": ("2 GET /whoami Bearer", ["-s", report, "-H", "Authorization: Bearer " + b.token, f"{u}{PREFIX}/whoami"]),
        "s3": ("3 GET /whoami Basic, cached", ["-s", report, "-H", basic(USER, PASSWORD), f"{u}{PREFIX}/whoami"]),
        "s4": ("4 GET /whoami Basic, no cache",
               ["-s", report, "-H", basic(USER, PASSWORD), f"{u}{NOCACHE_PREFIX}/whoami"]),
        "s5": ("5 POST+DELETE /stuff", ["-s", write, f"{u}{PREFIX}/", "--", PREFIX]),
        "s6": ("6 GET /stuff (all rows)", ["-s", report, f"{u}{PREFIX}/stuff"]),
        "s1many": (f"1 on {KEEP_THREADS} threads", ["-s", get, f"{u}{MANY_PREFIX}/", "--", MANY_PREFIX]),
        "s1keep": (f"1 on {KEEP_THREADS} thr., keep_conn", ["-s", get, f"{u}{KEEP_PREFIX}/", "--", KEEP_PREFIX]),
        "kiva-ids": ("kiva: ids", ["-s", os.path.join(BENCH, "stuff-ids.lua"), f"{u}{PREFIX}/", "--", PREFIX]),
        **(b.peers.targets(b.token) if b.peers else {}),
        **(b.rest.targets(u, PREFIX) if b.rest else {}),
        **({name: (name, ["-s", get, f"{b.apache.url(name)}{PREFIX}/", "--", PREFIX]) for name in APACHE_SCENARIOS}
           if b.apache else {}),
    }


def wrk(args, connections, duration, app_pid=None, threads=None):
    """One wrk run; app_pid is the process under test (a pid or a frozenset of pids), for the
    CPU accounting."""
    cmd = ["wrk", f"-t{min(threads or WRK_THREADS, connections)}", f"-c{connections}", f"-d{duration}",
           "--latency", "--timeout", "10s"] + args
    before = cpu.snapshot(app_pid)
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = cpu.snapshot(app_pid)
    m = re.search(r"^BENCH (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise Failure(f"wrk failed ({out.returncode}): {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    # wrk's own lines, as a cross-check of what done() printed.
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout)
    r["non2xx"] = max(r["status"], r["bad"], int(non2xx.group(1)) if non2xx else 0)
    r["socket_errors"] = (r["connect"] + r["read"] + r["write"] + r["timeout"]) if not sock else \
        sum(int(x) for x in sock.groups())
    r["errors"] = r["non2xx"] + r["socket_errors"]
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["cpu"] = cpu.per_request(before, after, r["requests"])
    r["command"] = " ".join(cmd)
    return r


def main():
    for tool in ("wrk", "nginx", "psql"):
        if not shutil.which(tool):
            raise Failure(f"{tool} not found (make bench installs it)")
    if APACHE_ONLY and not APACHE:
        raise Failure("BENCH_ONLY=apache with BENCH_APACHE=0: nothing to run")
    for binary in (KIVA, RESPONDER) + ((JOBS_LOOP, ETAG_COST) if REST else ()):
        if not os.access(binary, os.X_OK):
            raise Failure(f"{binary} not found (bench/run.sh builds it)")
    # 1024 connections of wrk (the sweep) need more descriptors than a shell's 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    t_start = time.time()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    b = Bench()
    results = {"timestamp": stamp, "machine": machine(), "settings": {
        "duration": DURATION, "connections": CONNECTIONS, "wrk_threads": WRK_THREADS, "warmup": WARMUP,
        "nocache_duration": NOCACHE_DURATION, "nocache_connections": NOCACHE_CONNECTIONS,
        "cold_runs": COLD_RUNS, "worker_threads": THREADS, "stuff_rows": STUFF_ROWS, "kiva": KIVA,
        "responder": RESPONDER, "rounds": ROUNDS, "short": SHORT, "peers": PEERS,
        "sweep_duration": SWEEP_DURATION, "rest": REST, "fastcgi_keepalive": os.environ.get("NGINX_FASTCGI_KEEPALIVE")}}
    ok = interrupted = False
    try:
        b.start()
        b.prepare()
        results["settings"].update(rows=b.rows, big_response_bytes=b.big_bytes)
        tg = targets(b)
        order = [] if APACHE_ONLY or JOBS_ONLY else ["ceiling", "responder", "s1", "s1off",
                                         *(rest.KEYS if b.rest else ()), "s2", "s3", "s5", "s6"]
        order += ["s1many", "s1keep"] if KEEP and not APACHE_ONLY else []
        order += ["kiva-ids", *peers.all_keys()] if b.peers and not APACHE_ONLY else []
        order += list(APACHE_SCENARIOS) if b.apache else []
        runs = {name: [] for name in tg}
        rss = {"start": rss_of(b.worker_pid)}
        rss_after = {name: [] for name in tg}

        def pid_for(name):
            if name.startswith("peer-"):
                return b.peers.app_of(name)
            if name.startswith("apache-fcgid") or name.startswith("flask"):
                return b.apache.app_match(name)
            if name in ("s1many", "s1keep"):
                return b.procs["kiva-keep"].pid
            if name == "s1rl":
                return b.rest.pid_of(name)
            return {"responder": b.procs["responder"].pid, "s4": b.procs["kiva-nocache"].pid,
                    "s1off": b.procs["kiva-nometrics"].pid,
                    "ceiling": None, "apache-proxy-fcgi-hello": b.procs.get("hello") and b.procs["hello"].pid
                    }.get(name, b.worker_pid)

        if WARMUP not in ("0", "0s") and not JOBS_ONLY:
            say(f"warm-up: {WARMUP} per target (not reported)")
            for name in order + ([] if APACHE_ONLY else ["s4"]):
                wrk(tg[name][1], NOCACHE_CONNECTIONS if name == "s4" else CONNECTIONS,
                    PEER_WARMUP if name.startswith("peer-") else WARMUP)
            cleanup_writes(b)
        if b.apache:
            # mod_fcgid starts a process only when a request has found every process busy for a
            # whole second: after a start its pool is empty (and the 1 s warm-up pass above grew
            # it by stalls). Restart Apache's pools as a graceful reload does (stop and start
            # them), then fill them as the shipped drop-in does after every start and reload:
            # deploy/fcgid-warm.sh. Its requests are not counted (the logs are read from here on).
            b.apache.restart()
            results["fcgid_processes"], results["fcgid_warm_seconds"] = {}, {}
            for name in FCGID_SCENARIOS:
                n, secs = b.apache.warm(name)
                results["fcgid_processes"][name], results["fcgid_warm_seconds"][name] = n, secs
            say(f"mod_fcgid processes after deploy/fcgid-warm.sh: {results['fcgid_processes']} "
                f"(seconds: {results['fcgid_warm_seconds']})")
        rounds = [order if i % 2 == 0 else list(reversed(order)) for i in range(ROUNDS)]
        results["pgbench"] = []
        for i, rnd in enumerate(rounds):
            say(f"round {chr(65 + i)}: {', '.join(rnd)} ({DURATION} each, {CONNECTIONS} connections)")
            for name in rnd:
                pid = pid_for(name)
                if name in APACHE_SCENARIOS:  # the server's own times, and the pool while it runs
                    offset, stop = b.apache.log_offset(name), threading.Event()
                    sampler = b.apache.sample_processes(name, stop) if name in FCGID_SCENARIOS else None
                r = wrk(tg[name][1], CONNECTIONS, DURATION, pid)
                if name in APACHE_SCENARIOS:
                    stop.set()
                    r["server_ms"] = b.apache.server_times(name, offset)
                    r["fcgid_processes"] = sampler[1] if sampler else None
                    slow = sum(1 for t in r["server_ms"] if t >= SLOW_MS)
                    say(f"  {name:9} server: {len(r['server_ms'])} requests, {slow} >= {SLOW_MS} ms, max "
                        f"{max(r['server_ms'], default=0):.0f} ms"
                        + (f", processes {min(sampler[1], default=0)}..{max(sampler[1], default=0)}" if sampler else ""))
                b.check_alive()
                r["rss_after"] = (rss_of(pid) if isinstance(pid, int) else
                                  peers.rss_tree(pid) if isinstance(pid, frozenset) else None)
                rss_after[name].append(r["rss_after"])
                runs[name].append(r)
                say(f"  {name:9} {r['rps']:10.0f} req/s  p99 {r['p99_us'] / 1000:7.2f} ms  errors {r['errors']}")
                if name == "s5" or name.endswith("-write"):
                    cleanup_writes(b)
            if b.peers and not APACHE_ONLY:  # PostgreSQL alone, once a round
                before = cpu.snapshot(None)
                pg = peers.pgbench(b, DURATION)
                pg["cpu"] = cpu.per_request(before, cpu.snapshot(None), pg["transactions"])
                results["pgbench"].append(pg)
                say(f"  pgbench   {pg['tps']:10.0f} tps    latency avg {pg['latency_avg_ms']} ms")
        if b.peers and not APACHE_ONLY:  # where a read's PostgreSQL time goes, once
            results["pg_wakeup"] = peers.pg_wakeup(b)
        if b.apache and FCGID_RUNS:
            results["fcgid_runs"] = fcgid_runs(b, tg)
        cold_kiva = cold_resp = None
        if not APACHE_ONLY and not JOBS_ONLY:  # scenario 4 and the cold start are the nginx section's
            say(f"scenario 4 once: {NOCACHE_DURATION}, {NOCACHE_CONNECTIONS} connections")
            r = wrk(tg["s4"][1], NOCACHE_CONNECTIONS, NOCACHE_DURATION, pid_for("s4"))
            r["rss_after"] = rss_of(b.procs["kiva-nocache"].pid)
            rss_after["s4"].append(r["rss_after"])
            runs["s4"].append(r)
            say(f"  s4        {r['rps']:10.1f} req/s  p99 {r['p99_us'] / 1000:7.2f} ms  errors {r['errors']}")
            b.check_alive()
            rss["end"] = rss_of(b.worker_pid)

            say(f"cold start: {COLD_RUNS} spawns of kiva, then of the responder")
            cold_dir = os.path.join(b.state, "cold")
            os.makedirs(cold_dir)
            cold_log = os.path.join(b.state, "cold.log")
            cold_kiva = coldstart.summary(coldstart.measure(
                coldstart.kiva_command(KIVA, b.kiva_conf, cold_dir), COLD_RUNS, log_path=cold_log, workdir=cold_dir))
            cold_resp = coldstart.summary(coldstart.measure(
                lambda sock: [RESPONDER, sock, b.conninfo, str(THREADS)], COLD_RUNS, prefix=BASELINE_PREFIX,
                log_path=cold_log, workdir=cold_dir))
            b.check_alive()
        if b.rest and not JOBS_ONLY:  # issue 21's digest (bench/rest.py)
            results["etag"] = {"ns_per_tag": rest.etag_cost(ETAG_COST, b.rest.body_bytes),
                               "body_bytes": b.rest.body_bytes}
            say(f"ETag digest: {results['etag']['ns_per_tag']:.0f} ns per tag ({b.rest.body_bytes} bytes)")
        if b.rest:  # issue 22's jobs (bench/rest.py)
            results["jobs"] = rest.jobs(b, wrk, DURATION, CONNECTIONS, b.token, PREFIX, KIVA, JOBS_LOOP, say)
            b.check_alive()
        if b.peers and not APACHE_ONLY:
            results["sweeps"] = sweeps(b, tg)
        results["worker_log_lines"] = count_lines(os.path.join(b.state, "stack.log"))
        ok = True
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        b.stop()
        if (ok or interrupted) and not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(b.state, ignore_errors=True)
        else:
            say(f"state and logs kept in {b.state}")

    results["elapsed_s"] = round(time.time() - t_start, 1)
    results["loadavg_after"] = os.getloadavg()
    if JOBS_ONLY:  # the jobs rows alone: no scenario to summarize
        checks = {}
        rest.checks({}, checks, check_of, results)
        results["checks"] = checks
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, f"{stamp}-jobs.json"), "w") as f:
            json.dump(results, f, indent=2)
        for name, c in checks.items():
            print(f"{name:14} {'pass' if c['pass'] else 'FAIL'}  {c['measured']}  (target {c['target']})")
        print(f"results: bench/results/{stamp}-jobs.json   (run took {results['elapsed_s']:.0f} s)")
        return
    summarize(results, tg, runs, rss, rss_after, cold_kiva, cold_resp, b)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{stamp}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print_report(results)
    shown = os.path.relpath(path) if path.startswith(os.getcwd() + os.sep) else path
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults: {shown} (and latest.json beside it)   (run took {results['elapsed_s']:.0f} s)")
    errors = sum(r["errors"] for rs in runs.values() for r in rs)
    errors += sum(r["errors"] for r in results.get("sweeps") or [])
    errors += sum(pg["failed"] for pg in results.get("pgbench") or [])
    errors += sum(results["jobs"][k]["errors"] + results["jobs"][k]["drain"]["enqueue_errors"]
                  for k in ("kiva", "loop")) if results.get("jobs") else 0
    if errors:
        say(f"{errors} errors (non-2xx or socket errors): the numbers are not valid")
        return 1
    return 0


def fcgid_runs(b, tg):
    """The issue's measure of mod_fcgid: FCGID_RUNS runs of DURATION at CONNECTIONS, each counted
    from Apache's access log; then one run of apache-fcgid, and one of apache-proxy-fcgi, across a
    graceful reload (and the warm-up that follows it, as the apache2 drop-in runs it)."""
    out = {"runs": [], "reload": {}}
    say(f"apache-fcgid: {FCGID_RUNS} runs of {DURATION} at {CONNECTIONS} connections, server-side counts")
    for i in range(FCGID_RUNS):
        offset = b.apache.log_offset("apache-fcgid")
        r = wrk(tg["apache-fcgid"][1], CONNECTIONS, DURATION)
        st = server_stats(b.apache.server_times("apache-fcgid", offset))
        out["runs"].append(dict(st, rps=r["rps"], errors=r["errors"], processes=b.apache.fcgid_processes("apache-fcgid")))
        say(f"  run {i + 1}: {r['rps']:.0f} req/s, {st['server_requests']} requests, {st['server_slow_900ms']} >= "
            f"{SLOW_MS} ms, max {st['server_max_ms']:.0f} ms")
    for name in ("apache-fcgid", "apache-proxy-fcgi"):
        offset = b.apache.log_offset(name)
        load = subprocess.Popen(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "--timeout", "10s",
                                 *tg[name][1]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        t0 = time.time()
        subprocess.run(["apache2", "-f", b.apache.path("httpd.conf"), "-k", "graceful"], check=True, cwd="/")
        warm = subprocess.run([os.path.join(ROOT, "deploy", "fcgid-warm.sh"), "--after-reload", "--conf",
                               b.apache.path("apps", "apache-fcgid", "fcgid-warm.conf")], capture_output=True, text=True)
        warm_s = time.time() - t0
        load.wait()
        st = server_stats(b.apache.server_times(name, offset))
        out["reload"][name] = dict(st, warm_seconds=round(warm_s, 1), warm=warm.stderr.strip())
        say(f"  {name} across a graceful reload: {st['server_requests']} requests, {st['server_slow_900ms']} >= "
            f"{SLOW_MS} ms, max {st['server_max_ms']:.0f} ms ({warm.stderr.strip()} after {warm_s:.1f} s)")
    for name in FCGID_SCENARIOS:  # the other pools, emptied by the reload, for what follows
        b.apache.warm(name)
    return out


def sweeps(b, tg):
    """How cost grows: the one-row read at 1..1024 connections, and lists of 1, 100 and 10,000
    rows, for kiva (through nginx) and Go (direct, and behind the same nginx); RSS after each.
    Each run once, SWEEP_DURATION; every error counts against the run like the rounds'."""
    get, report = os.path.join(BENCH, "stuff-get.lua"), os.path.join(BENCH, "report.lua")
    p = b.peers
    systems = {"kiva": (b.url, PREFIX, b.worker_pid), "go": (p.direct("go"), "", p.pids["go"]),
               "go-nginx": (b.url, "/peer-go", p.pids["go"])}

    def rss(pid):
        return rss_of(pid) if isinstance(pid, int) else peers.rss_tree(pid)

    def one(kind, name, n, args, connections, pid):
        r = wrk(args, connections, SWEEP_DURATION, pid)
        b.check_alive()
        row = {"sweep": kind, "target": name, "n": n, "rps": r["rps"], "p50_ms": r["p50_us"] / 1000,
               "p99_ms": r["p99_us"] / 1000, "errors": r["errors"], "non2xx": r["non2xx"],
               "socket_errors": {k: r[k] for k in ("connect", "read", "write", "timeout")},
               "rss": rss(pid), "nginx_rss": peers.rss_tree(nginx_pids(b)),
               "cpu_us_per_request": r["cpu"]["us_per_request"], "command": r["command"]}
        say(f"  {kind} {name:8} {n:>5}: {r['rps']:8.0f} req/s  p99 {row['p99_ms']:7.2f} ms  errors {r['errors']}"
            f"  RSS {(row['rss'] or 0) / MIB:.1f} MiB")
        return row

    out = []
    say(f"concurrency sweep: {peers.SWEEP_CONNECTIONS} connections, {SWEEP_DURATION} each")
    for c in peers.SWEEP_CONNECTIONS:
        for name, (url, prefix, pid) in systems.items():
            out.append(one("connections", name, c, ["-s", get, f"{url}{prefix}/", "--", prefix], c, pid))
    say(f"list-size sweep: {peers.SWEEP_SIZES} rows, {SWEEP_DURATION} each, {CONNECTIONS} connections")
    for rows in peers.SWEEP_SIZES:
        for name, (url, prefix, pid) in systems.items():
            out.append(one("rows", name, rows, ["-s", report, peers.list_url(url, prefix, rows)], CONNECTIONS, pid))
    return out


def nginx_pids(b):
    """The stack's nginx: its master and workers."""
    try:
        with open(os.path.join(b.run_dir, "nginx.pid")) as f:
            return peers.tree(int(f.read().strip()))
    except (OSError, ValueError):
        return frozenset()


def cleanup_writes(b):
    """Rows left by scenario 5 (a POST answered after wrk stopped reading) are removed, then the
    database pays its write debt now (vacuum of the dead rows, checkpoint of the dirty pages)
    rather than during whichever scenario runs next: each scenario measures its own work."""
    b.psql("DELETE FROM Stuff WHERE stuff LIKE 'bench-%'")
    b.psql("VACUUM (ANALYZE) Stuff", "VACUUM (ANALYZE) Audit", "CHECKPOINT", user="postgres")


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
        wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
        pg = re.search(r"\d+\.\d+", subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout).group()
    except (OSError, IndexError, AttributeError):
        nginx = wrk_v = pg = "?"
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "nginx": nginx, "wrk": wrk_v, "postgresql": pg, "host": platform.node(),
            "loadavg_before": os.getloadavg()}


def summarize(results, tg, runs, rss, rss_after, cold_kiva, cold_resp, b):
    def mean(xs):
        return statistics.fmean(xs) if xs else None

    def spread(xs):
        """Half the difference between the rounds, relative to their mean, in %."""
        return 50 * (max(xs) - min(xs)) / mean(xs) if mean(xs) else 0.0

    s = {}
    for name, rs in runs.items():
        if not rs:
            continue
        s[name] = {
            "name": NAMES.get(name, name),
            "label": tg[name][0],
            "rps": mean([r["rps"] for r in rs]),
            "spread_pct": spread([r["rps"] for r in rs]),
            "p50_ms": mean([r["p50_us"] / 1000 for r in rs]),
            "p99_ms": mean([r["p99_us"] / 1000 for r in rs]),
            "p99_spread_pct": spread([r["p99_us"] for r in rs]),
            "errors": sum(r["errors"] for r in rs),
            "rss_after": rs[-1]["rss_after"],
            "cpu_us_per_request": {g: mean([r["cpu"]["us_per_request"][g] for r in rs]) for g in cpu.GROUPS},
            "idle_pct": mean([r["cpu"]["idle_pct"] for r in rs if r["cpu"]["idle_pct"] is not None]),
            "runs": rs,
        }
        if name in APACHE_SCENARIOS:
            s[name].update(server_stats([t for r in rs for t in r["server_ms"]]))
            s[name]["wrk_corrected_p99_ms"] = s[name]["p99_ms"]  # wrk 4.1 corrects for coordinated omission
            samples = [n for r in rs for n in (r.get("fcgid_processes") or [])]
            if name in FCGID_SCENARIOS:
                s[name]["fcgid_processes_min_max"] = [min(samples, default=0), max(samples, default=0)]
            for r in rs:  # the counts stay, the raw times do not go to the results file
                times = r.pop("server_ms")
                r.update(server_stats(times))
    checks = {}
    if APACHE_ONLY:
        apache_checks(s, checks)
        results.update(scenarios=[dict(v, key=k) for k, v in s.items()], checks=checks)
        return
    ceil, resp, s1 = s["ceiling"]["rps"], s["responder"]["rps"], s["s1"]["rps"]
    for v in s.values():
        v["x_ceiling"] = v["rps"] / ceil
        v["x_responder"] = v["rps"] / resp
    s["s5"]["pairs_per_s"] = mean([r["deleted"] / (r["duration_us"] / 1e6) for r in runs["s5"]])
    s["s6"]["rows_per_s"] = s["s6"]["rps"] * b.rows

    def check(key, ok, measured, target, involved=(), p99=False):
        check_of(s, checks, key, ok, measured, target, involved, p99)

    p99_ratio = s["s1"]["p99_ms"] / s["responder"]["p99_ms"]
    check("s1", s1 >= 1.0 * resp and p99_ratio <= 1.3,
          f"{s1 / resp:.2f}x resp, p99 {p99_ratio:.2f}x", ">=1.0x resp, p99<=1.3x", ("s1", "responder"), p99=True)
    for k in ("s2", "s3"):
        check(k, s[k]["rps"] >= 0.8 * s1, f"{s[k]['rps'] / s1:.2f}x s1", ">=0.8x s1", (k, "s1"))
    off = s["s1off"]["rps"]
    check("s1off", s1 >= 0.97 * off, f"on {(s1 / off - 1) * 100:+.1f}% vs off", "metrics on >=0.97x off",
          ("s1", "s1off"))
    if "s1keep" in s:  # kept connections pay off when they beat one connection per request, same worker
        k, m = s["s1keep"], s["s1many"]
        cost = {n: s[n]["cpu_us_per_request"]["front"] + s[n]["cpu_us_per_request"]["app"] for n in ("s1keep", "s1many")}
        check("s1keep", k["rps"] >= 1.05 * m["rps"] and k["errors"] == 0,
              f"{ratio(k['rps'], m['rps']):.2f}x, nginx+worker {cost['s1keep']:.0f} vs {cost['s1many']:.0f} us",
              "keep_conn >=1.05x without", ("s1keep", "s1many"))
    check("s5", s["s5"]["rps"] >= 0.5 * s1, f"{s['s5']['rps'] / s1:.2f}x s1", ">=0.5x s1", ("s5", "s1"))
    rss_s1 = rss_after["s1"][0]
    rss_s6 = max(x for x in rss_after["s6"] if x is not None)
    growth = (rss_s6 - rss_s1) / MIB
    rows_ratio = s["s6"]["rows_per_s"] / s1
    check("s6", rows_ratio >= 100 and growth <= 2,
          f"{rows_ratio:.0f}x s1, RSS {growth:+.1f} MiB", "rows/s>=100x s1, RSS+<=2MiB", ("s6", "s1"))
    end_rss = rss["end"]
    check("rss", end_rss is not None and end_rss < 16 * MIB, f"{end_rss / MIB:.1f} MiB", "<16 MiB")
    check("cold", cold_kiva["median_ms"] < 30, f"{cold_kiva['median_ms']:.1f} ms", "<30 ms")
    apache_checks(s, checks)
    rest.checks(s, checks, check_of, results)
    if "peer-go-one" in s:
        peer_checks(s, checks, results)
    results.update(scenarios=[dict(v, key=k) for k, v in s.items()], checks=checks, cold_start={"kiva": cold_kiva, "responder": cold_resp},
                   rss={"start": rss["start"], "after_s1_first": rss_s1, "after_s6_max": rss_s6,
                        "end": end_rss, "after": rss_after})


def peer_checks(s, checks, results):
    """Issue 20's targets against the peers, ratios of one run: kiva's one-row read >= 1.0x Go
    direct and >= 1.3x every peer behind nginx, p99 no worse than Go's; 20 rows >= 1.0x Go
    direct; the write >= 1.0x Go doing the same transaction. The Bearer read is shown, no target."""
    def x(k, other):
        return ratio(s[k]["rps"], s[other]["rps"])
    for scen, kk in peers.KIVA_KEY.items():
        for p in peers.PEERS:
            for where in ("direct", "nginx"):
                pk = peers.key(p, where, scen)
                s[pk]["x_kiva"] = ratio(s[pk]["rps"], s[kk]["rps"])
        s[kk]["x_kiva"] = 1.0
    one, go = "s1", "peer-go-one"
    behind = [peers.key(p, "nginx", "one") for p in peers.PEERS]
    worst = min(behind, key=lambda k: x(one, k))
    p99 = ratio(s[one]["p99_ms"], s[go]["p99_ms"])
    check_of(s, checks, "peers-one", x(one, go) >= 1.0 and x(one, worst) >= 1.3 and p99 <= 1.0,
             f"{x(one, go):.2f}x Go, {x(one, worst):.2f}x {worst[5:-4]}, p99 {p99:.2f}x Go",
             ">=1.0x Go, >=1.3x peers+nginx, p99<=Go", (one, go, worst), p99=True)
    check_of(s, checks, "peers-ids", x("kiva-ids", "peer-go-ids") >= 1.0,
             f"{x('kiva-ids', 'peer-go-ids'):.2f}x Go", ">=1.0x Go direct", ("kiva-ids", "peer-go-ids"))
    check_of(s, checks, "peers-write", x("s5", "peer-go-write") >= 1.0,
             f"{x('s5', 'peer-go-write'):.2f}x Go", ">=1.0x Go (same transaction)", ("s5", "peer-go-write"))
    sw = results.get("sweeps") or []
    if sw:
        errs = sum(r["errors"] for r in sw)
        worst_conn = max((r["n"] for r in sw if r["sweep"] == "connections" and r["errors"]), default=None)
        check_of(s, checks, "sweep-errors", errs == 0,
                 f"{errs} errors" + (f" (at {worst_conn} connections)" if worst_conn else ""),
                 "0 errors at 1..1024 connections")
        rows = {r["n"]: r["rss"] for r in sw if r["sweep"] == "rows" and r["target"] == "kiva"}
        first = next((r["rss"] for r in sw if r["target"] == "kiva"), None)
        if rows and first:
            growth = (max(rows.values()) - first) / MIB
            check_of(s, checks, "sweep-rss", growth <= 2, f"kiva RSS {growth:+.1f} MiB", "flat (+<=2 MiB)")


def ratio(a, b):
    """a / b, infinite when b is 0 (a run of BENCH_SHORT's 1 s may complete no request: a Flask
    process starting after Apache's restart)."""
    return a / b if b else float("inf")


def server_stats(times):
    """What Apache's access log (%D) says of a set of requests: count, stalls, true percentiles."""
    t = sorted(times)

    def pct(q):
        return t[min(len(t) - 1, int(q * len(t)))] if t else None
    return {"server_requests": len(t), "server_slow_900ms": sum(1 for x in t if x >= SLOW_MS),
            "server_p99_ms": pct(0.99), "server_p999_ms": pct(0.999), "server_max_ms": t[-1] if t else None}


def check_of(s, checks, key, ok, measured, target, involved=(), p99=False):
    # The rounds disagree by more than 10 % on a number the verdict depends on (30 % for a p99).
    noisy = any(s[n]["spread_pct"] > 10 for n in involved if len(s[n]["runs"]) > 1)
    noisy = noisy or (p99 and any(s[n]["p99_spread_pct"] > 30 for n in involved if len(s[n]["runs"]) > 1))
    checks[key] = {"pass": bool(ok), "measured": measured, "target": target, "noisy": noisy}


def apache_checks(s, checks):
    """The Apache rows' verdicts; those against nginx only when the nginx section ran."""
    if "apache-fcgid" not in s:
        return
    # mod_fcgid after the warm-up: no stall at all by the server's count, and close to mod_proxy_fcgi.
    f, p = s["apache-fcgid"], s["apache-proxy-fcgi"]
    check_of(s, checks, "apache-fcgid-stalls", f["server_slow_900ms"] == 0 and f["rps"] >= 0.9 * p["rps"],
             f"{f['server_slow_900ms']} slow of {f['server_requests']}, {ratio(f['rps'], p['rps']):.2f}x proxy",
             f"0 >= {SLOW_MS} ms (server), >=0.9x proxy-fcgi", ("apache-fcgid", "apache-proxy-fcgi"))
    if "flask-wsgi-seed" in s and "s1" in s:
        # Each Apache path against nginx's p99, its module's trivial responder, and Flask under
        # mod_wsgi (the better of its two configurations). The targets bind the recommended path.
        flask = max(("flask-wsgi-seed", "flask-wsgi-4"), key=lambda n: s[n]["rps"])
        for path in ("apache-proxy-fcgi", "apache-fcgid"):
            hello = path + "-hello"
            p99x, hellox, flaskx = (ratio(s[path]["p99_ms"], s["s1"]["p99_ms"]), ratio(s[path]["rps"], s[hello]["rps"]),
                                    ratio(s[path]["rps"], s[flask]["rps"]))
            s[path].update(x_hello=hellox, x_flask=flaskx, p99_x_nginx=p99x)
            check_of(s, checks, path, p99x <= 3 and hellox >= 0.9 and flaskx >= 2.5,
                     f"p99 {p99x:.2f}x nginx, {hellox:.2f}x hello, {flaskx:.2f}x {s[flask]['name']}",
                     "p99<=3x nginx, >=0.9x hello, >=2.5x flask", (path, hello, "s1", flask), p99=True)


def print_report(results):
    m, st, c = results["machine"], results["settings"], results["checks"]
    s = {v["key"]: v for v in results["scenarios"]}
    if "ceiling" not in s:  # make bench-apache
        print(f"\nkiva bench {results['timestamp']} (Apache section only): {m['nproc']} cores {m['cpu']}, "
              f"wrk {m['wrk']}; wrk -t{st['wrk_threads']} -c{st['connections']} -d{st['duration']} per target, "
              "two rounds in alternating order")
        print_apache(s, c, results)
        return
    cold = results["cold_start"]
    la = results.get("loadavg_after") or (0, 0, 0)
    print()
    print(f"kiva bench {results['timestamp']}: {m['nproc']} cores {m['cpu']}, Linux {m['kernel']}, "
          f"nginx {m['nginx']}, PostgreSQL {m['postgresql']}, wrk {m['wrk']}")
    print(f"load average before {m['loadavg_before'][0]:.2f}, after {la[0]:.2f}; "
          f"wrk -t{st['wrk_threads']} -c{st['connections']} -d{st['duration']} per target, "
          f"{st.get('rounds', 2)} round(s) in alternating order, mean shown (+-: half the gap between rounds)")
    # Only the load before counts: the one after is the benchmark's own (wrk, nginx, worker, database).
    busy = m["loadavg_before"][0]
    if busy > 0.5 * (m["nproc"] or 1):
        print(f"warning: the machine was busy (load average {busy:.2f} on {m['nproc']} cores) before the "
              "run: other processes share the cores, expect noisy numbers")
    print(f"scenario 4 once (-c{st['nocache_connections']} -d{st['nocache_duration']}); "
          f"worker {st['worker_threads']} threads; {st['rows']} rows; cold start {st['cold_runs']} spawns")
    head = (f"{'scenario':<29} {'req/s':>8} {'+-%':>4} {'p50 ms':>7} {'p99 ms':>7} {'err':>3} {'RSS MiB':>7} "
            f"{'x ceil':>6} {'x resp':>6}  {'target':<27} {'measured':<24} verdict")
    print()
    print(head)
    print("-" * len(head))

    def mib(x):
        return f"{x / MIB:.1f}" if x else "-"

    def row(label, rps="", spread="", p50="", p99="", err="", rss="", xc="", xr="", chk=None):
        verdict = (("PASS" if chk["pass"] else "MISS") + (" (noisy)" if chk.get("noisy") else "")) if chk else ""
        line = (f"{label:<29} {rps:>8} {spread:>4} {p50:>7} {p99:>7} {err:>3} {rss:>7} {xc:>6} {xr:>6}  "
                f"{chk['target'] if chk else '':<27} {chk['measured'] if chk else '':<24} {verdict}")
        print(line.rstrip())

    for name in ("ceiling", "responder", "s1", "s1off", "s1many", "s1keep", "s2", "s3", "s4", "s5", "s6"):
        if name not in s:
            continue
        v = s[name]
        row(v["label"], f"{v['rps']:.0f}" if v["rps"] >= 100 else f"{v['rps']:.1f}",
            f"{v['spread_pct']:.0f}" if len(v["runs"]) > 1 else "", f"{v['p50_ms']:.2f}", f"{v['p99_ms']:.2f}",
            str(v["errors"]), mib(v["rss_after"]), f"{v['x_ceiling']:.3f}", f"{v['x_responder']:.2f}",
            c.get(name))
        if name == "s5":
            row("  POST+DELETE pairs/s", f"{v['pairs_per_s']:.0f}")
        if name == "s6":
            row("  rows/s", f"{v['rows_per_s']:.0f}")
    row("7 cold start kiva (p50, p90)", p50=f"{cold['kiva']['median_ms']:.2f}",
        p99=f"{cold['kiva']['p90_ms']:.2f}", chk=c["cold"])
    row("  cold start responder", p50=f"{cold['responder']['median_ms']:.2f}",
        p99=f"{cold['responder']['p90_ms']:.2f}")
    row("worker RSS at the end", rss=mib(results["rss"]["end"]), chk=c["rss"])
    if "s1rl" in s or results.get("jobs"):
        rest.print_rest(s, c, results, row)
    if "flask-wsgi-seed" in s:
        print_apache(s, c, results)
    if "peer-go-one" in s:
        print_peers(s, c, results)
    print_cpu(s)


def print_apache(s, c, results):
    """The Apache paths, each with its module's own ceiling (the trivial responder) and Flask."""
    print()
    print(f"Apache 2.4 mpm_event, the shipped vhosts over HTTP; mod_fcgid: {apache.FCGID_PROCESSES} processes "
          f"at most, filled by deploy/fcgid-warm.sh: {results.get('fcgid_processes')} in "
          f"{results.get('fcgid_warm_seconds')} s; recommended: {RECOMMENDED_APACHE}")
    print(f"wrk's p50/p99 are corrected for coordinated omission (one real 1 s stall shows as hundreds of slow "
          f"samples); 'server' columns are Apache's own %D of every request (its access log), slow = >= {SLOW_MS} ms")
    head = (f"{'scenario':<24} {'req/s':>7} {'+-%':>4} {'wrk p50':>7} {'wrk p99c':>8} {'err':>3} "
            f"{'server n':>9} {'slow':>5} {'p99':>6} {'p99.9':>6} {'max':>7} {'procs':>7}  {'target':<36} verdict")
    print(head)
    print("-" * len(head))

    def ms(x):
        return f"{x:.1f}" if x is not None else "-"
    for name in APACHE_SCENARIOS:
        v, chk = s[name], c.get(name)
        verdict = (("PASS" if chk["pass"] else "MISS") + (" (noisy)" if chk["noisy"] else "")
                   + ("" if name == RECOMMENDED_APACHE else " (informative)")) if chk else ""
        procs = v.get("fcgid_processes_min_max")
        print(f"{name:<24} {v['rps']:7.0f} {v['spread_pct']:4.0f} {v['p50_ms']:7.2f} {v['p99_ms']:8.2f} "
              f"{v['errors']:3d} {v['server_requests']:9d} {v['server_slow_900ms']:5d} {ms(v['server_p99_ms']):>6} "
              f"{ms(v['server_p999_ms']):>6} {ms(v['server_max_ms']):>7} "
              f"{(f'{procs[0]}..{procs[1]}' if procs else ''):>7}  {chk['target'] if chk else '':<36} "
              f"{(chk['measured'] + ': ' + verdict) if chk else ''}".rstrip())
    fr = results.get("fcgid_runs")
    if fr:
        runs = fr["runs"]
        print(f"apache-fcgid, {len(runs)} more runs of {results['settings']['duration']}: "
              f"{sum(r['server_requests'] for r in runs)} requests, "
              f"{sum(r['server_slow_900ms'] for r in runs)} >= {SLOW_MS} ms (server), "
              f"max {max(r['server_max_ms'] for r in runs):.0f} ms, req/s {min(r['rps'] for r in runs):.0f}.."
              f"{max(r['rps'] for r in runs):.0f}, processes {sorted({r['processes'] for r in runs})}")
        for name, st in fr["reload"].items():
            print(f"{name} across a graceful reload: {st['server_requests']} requests, {st['server_slow_900ms']} >= "
                  f"{SLOW_MS} ms, max {st['server_max_ms']:.0f} ms (warm-up: {st['warm']}, {st['warm_seconds']} s)")
    chk = c.get("apache-fcgid-stalls")
    if chk:
        print(f"{'apache-fcgid after warm-up':<24} {chk['measured']}  target {chk['target']}: "
              f"{'PASS' if chk['pass'] else 'MISS'}")


def print_peers(s, c, results):
    """kiva against the peers, scenario by scenario; PostgreSQL alone; the targets; the sweeps."""
    print()
    print(f"kiva against the peers (bench/peers/): each peer {peers.PROCESSES} processes (Go: GOMAXPROCS="
          f"{peers.PROCESSES}) with {peers.POOL} connections each, prepared statements; kiva: {THREADS} threads; "
          "'nginx': behind the same nginx as kiva (HTTP keepalive upstream); CPU us/request by process")
    head = (f"{'scenario / target':<34} {'req/s':>8} {'+-%':>4} {'x kiva':>6} {'p50 ms':>7} {'p99 ms':>7} {'err':>3} "
            f"{'app':>6} {'nginx':>6} {'pg':>6} {'RSS MiB':>7}")
    for scen in peers.SCENARIOS:
        print()
        print(f"{peers.SCENARIO_LABELS[scen]}")
        print(head)
        print("-" * len(head))
        kk = peers.KIVA_KEY[scen]
        for k in [kk] + [peers.key(p, w, scen) for p in peers.PEERS for w in ("direct", "nginx")]:
            v = s[k]
            us = v["cpu_us_per_request"]
            label = "kiva through nginx" if k == kk else v["label"].rsplit(":", 1)[0]
            print(f"{label:<34} {v['rps']:8.0f} {v['spread_pct'] if len(v['runs']) > 1 else 0:4.0f} "
                  f"{v.get('x_kiva', 1.0):6.2f} {v['p50_ms']:7.2f} {v['p99_ms']:7.2f} {v['errors']:3d} "
                  f"{us['app']:6.1f} {us['front']:6.1f} {us['postgres']:6.1f} "
                  f"{(v['rss_after'] or 0) / MIB:7.1f}")
    pg = results.get("pgbench") or []
    if pg:
        tps = statistics.fmean(x["tps"] for x in pg)
        print(f"\nPostgreSQL alone (pgbench -M prepared -c {peers.PROCESSES * peers.POOL}, the one-row SELECT): "
              f"{tps:.0f} tps, {tps / s['s1']['rps']:.2f}x kiva's one-row read; the whole machine's CPU "
              f"{statistics.fmean(x['cpu']['busy_us_per_request'] for x in pg):.1f} us/transaction "
              "(pgbench and the backends, which exit before they can be counted apart)")
    wake = results.get("pg_wakeup")
    if wake:
        print("A backend's CPU per one-row SELECT (bench/pg-wakeup.cpp, one connection, best of 3): "
              + ", ".join(f"{mode} {us:.1f} us" for mode, us in wake.items()))
    print()
    for k in ("peers-one", "peers-ids", "peers-write", "sweep-errors", "sweep-rss"):
        chk = c.get(k)
        if chk:
            print(f"target {k:<13} {chk['target']:<40} {chk['measured']:<40} "
                  f"{'PASS' if chk['pass'] else 'MISS'}{' (noisy)' if chk['noisy'] else ''}")
    sw = results.get("sweeps") or []
    if sw:
        print()
        print(f"sweeps ({results['settings']['sweep_duration']} each): req/s, p99 ms, errors, RSS MiB of the "
              "app (kiva's worker, Go's process); nginx's RSS beside")
        for kind in ("connections", "rows"):
            print(f"{kind:>11} " + "".join(f"{t:>38}" for t in ("kiva", "go", "go-nginx")))
            for n in (peers.SWEEP_CONNECTIONS if kind == "connections" else peers.SWEEP_SIZES):
                cells = []
                for t in ("kiva", "go", "go-nginx"):
                    r = next((r for r in sw if r["sweep"] == kind and r["target"] == t and r["n"] == n), None)
                    cells.append(f"{r['rps']:8.0f} {r['p99_ms']:8.2f} {r['errors']:5d} {(r['rss'] or 0) / MIB:6.1f}"
                                 f" {(r['nginx_rss'] or 0) / MIB:6.1f}" if r else "-")
                print(f"{n:>11} " + "".join(f"{x:>38}" for x in cells))


def print_cpu(s):
    """Where the time goes: CPU per request by process (bench/cpu.py), both rounds averaged."""
    print()
    print("CPU per request in us (user+system, from /proc; front = nginx or Apache; app = the worker, the "
          "responder, or the processes mod_fcgid / mod_wsgi run), idle = share of the cores left idle")
    head = f"{'scenario':<29} " + " ".join(f"{g:>8}" for g in cpu.GROUPS) + f" {'total':>8} {'idle %':>6}"
    print(head)
    print("-" * len(head))
    for name in ("ceiling", "responder", "s1", "s1off", *rest.KEYS, "s1many", "s1keep", "s2", "s3", "s4", "s5",
                 "s6", *APACHE_SCENARIOS,
                 "kiva-ids", *peers.all_keys()):
        if name not in s:
            continue
        v = s[name]
        us = v["cpu_us_per_request"]
        idle = f"{v['idle_pct']:.0f}" if v["idle_pct"] is not None else "-"
        print(f"{v['label']:<29} " + " ".join(f"{us[g]:8.1f}" for g in cpu.GROUPS)
              + f" {sum(us.values()):8.1f} {idle:>6}")


if __name__ == "__main__":
    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored (a background job)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted: everything stopped")
        sys.exit(130)
    except (Failure, subprocess.CalledProcessError) as e:
        say(f"FAILED: {e}")
        sys.exit(1)
