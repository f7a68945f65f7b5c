#!/usr/bin/env python3
"""The scaled-out topology under test (make test's cluster stage): deploy/dev/cluster.sh up
builds it (HAProxy, two application hosts with nginx and kiva, PostgreSQL, Redis, in network
namespaces, deployed by the shipped scripts), then, through the balancer and on each host:

  the integration suite's Stuff and authentication route checks give the same answers as on
  one host; a token made through one host works on the other (both ways); a logout and a
  password change through one host are honoured by the other at once, and a logout's
  delay to the first 401 on the other host under load (printed); a POST's
  Idempotency-Key recorded through one host is replayed by the other, and a rate limit is
  counted by both hosts together (Redis); pg_hba keeps every
  app host (prepare-db.sh --app-host, --drop-app-host); the shared key set's modes; killing
  an app host under a bounded write load (no failed GET, POSTs fail only while in flight,
  every 201 is in the database); Redis stopped and back (no 5xx); a rolling deploy under
  load (0 failed requests, the new release on every host, each host's jobs worker restarted
  gracefully, every import queued meanwhile done once); a host failing its health check
  stops the roll, drained, with the other serving.

Jobs (docs/jobs.md; each host runs `kiva --jobs` too): a few hundred imports enqueued through
the balancer run on both hosts, each exactly once (its handler's log line on one host only,
attempts 1, every name once in Stuff); the demo's periodic tally (COURSE_TALLY_SECONDS=3)
runs once per period with the two hosts' schedulers; on the HA database, the imports enqueued
during each failover all end done, their names once each.

Ends with `cluster: N passed, M failed`. Every load loop is bounded in count and time."""

import base64
import http.client
import collections
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import unittest
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))
import harness  # noqa: E402
from support import Checks, free_port, say  # noqa: E402  (the deployment test's)

STATE = "/var/tmp/kiva-cluster-kc"
INSTANCE = "kiva-kc"
DB = "kiva_kc"
APPS = {"app1": "10.77.1.1", "app2": "10.77.1.2"}
CHECKS = Checks()
TALLY_SECONDS = 3   # the demo's periodic tally (COURSE_TALLY_SECONDS): a few periods in a step
BASIC_CALVIN = "Basic " + base64.b64encode(b"calvin:hobbes").decode()


class Cluster:
    """deploy/dev/cluster.sh up in the background, as the integration harness's STACK."""

    def __init__(self, db="single"):
        self.db = db
        self.port = free_port()
        self.dir = f"/var/tmp/kiva-cluster-test-{os.getpid()}"
        os.makedirs(self.dir, mode=0o755)
        # A lone key (the integration suite forges tokens with token.secret), shared by the hosts.
        self.state = self.dir
        with open(os.path.join(self.dir, "token.secret"), "w") as f:
            f.write(base64.b16encode(os.urandom(32)).decode().lower() + "\n")
        os.chmod(os.path.join(self.dir, "token.secret"), 0o600)
        self.log_path = os.path.join(self.dir, "cluster.log")
        self.process = None

    def start(self):
        env = dict(os.environ, CLUSTER_DB=self.db, CLUSTER_PORT=str(self.port), CLUSTER_TOKEN_KEYS=os.path.join(self.dir, "token.secret"),
                   CLUSTER_ENV=f"COURSE_TALLY_SECONDS={TALLY_SECONDS}",
                   # as the integration suite's stack: many failed passwords on purpose, short ones;
                   # a job claimed on a primary that died is claimed again after 5 s (not 60)
                   KIVA_CLUSTER_CONF="CONF_auth_max_failures=1000000\nCONF_auth_max_address_failures=1000000\n"
                                     "CONF_password_min_length=4\nCONF_password_cache_ttl=60s\nCONF_jobs_lease=5s\n")
        env.pop("MAKEFLAGS", None)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([f"{ROOT}/deploy/dev/cluster.sh", "up"], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.time() + 1500   # the topology lock may be held by another run (15 min)
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("cluster.sh exited:\n" + self.output()[-4000:])
            if "cluster: serving" in self.output():
                return
            time.sleep(0.5)
        raise RuntimeError("the cluster did not start in time:\n" + self.output()[-4000:])

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def fault(self, name):
        r = subprocess.run([f"{ROOT}/deploy/dev/cluster.sh", "fault", name], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"fault {name}: {r.stdout}{r.stderr}")

    def ha(self, *args, check=True):
        """deploy/ha/db-cluster.sh with the options cluster.sh gives it."""
        return subprocess.run([f"{ROOT}/deploy/ha/db-cluster.sh", "--prefix", "kc-h", "--net", "10.77.4", "--bridge",
                               "kc-br0", "--state", f"{STATE}/ha", "--instance", INSTANCE, "--app-net", "10.77.1.0/24",
                               *args], capture_output=True, text=True, cwd="/", check=check, timeout=120)

    def psql(self, sql):
        if self.db == "ha":  # on the current leader, as postgres on its unix socket
            leader = self.ha("leader").stdout.strip()
            return self.ha("psql", leader, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", DB, "-c", sql).stdout.strip()
        r = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                            "-h", f"{STATE}/pg", "-p", "5432", "-d", DB, "-c", sql],
                           capture_output=True, text=True, cwd="/", check=True)
        return r.stdout.strip()

    def deploy(self, *args, env=None, timeout=600):
        e = dict(os.environ, ALLOW_DIRTY="1", KIVA_SKIP_UNIT_TESTS="1", DEPLOY_CONF=f"{STATE}/deployer/deploy.conf",
                 **(env or {}))
        return subprocess.run([f"{ROOT}/deploy/deploy.sh", *args], capture_output=True, text=True, env=e,
                              timeout=timeout)


CLUSTER = None
CTX = None


def call(host, method, path, body=None, auth=None, token=None, timeout=15):
    """One request on a new connection: host None = the balancer, else an app host's nginx."""
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        body = "&".join(f"{k}={v}" for k, v in body.items())
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", CLUSTER.port, timeout=timeout) if host is None else \
        http.client.HTTPSConnection(APPS[host], 443, context=CTX, timeout=timeout)
    try:
        conn.request(method, "/api" + path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return r.status, parsed
    finally:
        conn.close()


# --------------------------------------------------------------------------- load
class Load:
    """GET and POST loops through the balancer, each request timed; bounded in requests and
    seconds. Keeps every POST answered 201 (its sid) and every failure with its times.
    STATS loops GET /stats, the query a standby answers when db_replica is set; IMPORT loops
    POST /stuff/import of import_size new names (as calvin), keeping each job answered 202 with them."""

    def __init__(self, getters=2, posters=1, max_requests=3000, max_seconds=90, stats=0, importers=0, import_size=2):
        self.getters, self.posters, self.stats, self.importers = getters, posters, stats, importers
        self.import_size = import_size
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.stop_flag = False
        self.lock = threading.Lock()
        self.count = 0
        self.ok = {"GET": 0, "POST": 0, "STATS": 0, "IMPORT": 0}
        self.failures = []      # (method, start, end, what)
        self.created = []       # sids answered 201
        self.jobs = {}          # job id answered 202 -> its names
        self.threads = []

    def start(self):
        self.t0 = time.time()
        for kind, n in (("GET", self.getters), ("POST", self.posters), ("STATS", self.stats),
                        ("IMPORT", self.importers)):
            for _ in range(n):
                t = threading.Thread(target=self.loop, args=(kind,), daemon=True)
                t.start()
                self.threads.append(t)
        return self

    def more(self):
        with self.lock:
            self.count += 1
            return not self.stop_flag and self.count <= self.max_requests and time.time() - self.t0 < self.max_seconds

    def loop(self, kind):
        conn, i = None, 0
        while self.more():
            i += 1
            begin = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", CLUSTER.port, timeout=20)
                if kind == "GET":
                    path = "/api/version" if i % 2 else "/api/stuff/1"
                    conn.request("GET", path)
                elif kind == "STATS":
                    path = "/api/stats"
                    conn.request("GET", path)
                elif kind == "IMPORT":
                    path = "/api/stuff/import"
                    names = [f"job-{uuid.uuid4().hex[:12]}" for _ in range(self.import_size)]
                    conn.request("POST", path, body=json.dumps({"names": names}),
                                 headers={"Content-Type": "application/json", "Authorization": BASIC_CALVIN})
                else:
                    path = "/api/stuff"
                    conn.request("POST", path, body=f"stuff=load-{uuid.uuid4().hex}",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                data = r.read()
                end = time.time()
                with self.lock:
                    if kind == "IMPORT" and r.status == 202:
                        self.ok[kind] += 1
                        self.jobs[json.loads(data)["job"]] = names
                    elif (kind not in ("POST", "IMPORT") and r.status == 200) or (kind == "POST" and r.status == 201):
                        self.ok[kind] += 1
                        if kind == "POST":
                            self.created.append(json.loads(data)["sid"])
                    else:
                        self.failures.append((kind, begin, end, f"{path} {r.status} {data[:100]!r}"))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # counted, never raised
                with self.lock:
                    self.failures.append((kind, begin, time.time(), repr(e)))
                if conn:
                    conn.close()
                conn = None
            time.sleep(0.005)

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(30)
        return self

    def failed(self, kind):
        return [f for f in self.failures if f[0] == kind]


# --------------------------------------------------------------------------- checks
def integration_suite():
    """The integration suite's Stuff and authentication route checks, through the balancer."""
    say("the integration suite's test_stuff.py and test_auth_routes.py through the balancer")
    harness.STACK = CLUSTER
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    for name in ("test_stuff.py", "test_auth_routes.py"):
        suite.addTests(loader.discover(os.path.join(ROOT, "tests", "integration"), pattern=name))
    result = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    bad = result.failures + result.errors
    CHECKS.check(f"integration Stuff and auth checks through the balancer ({result.testsRun} tests)",
                 result.testsRun > 20 and not bad, "\n".join(str(t) for t, _ in bad[:10]))


def shared_tokens():
    say("tokens: made through one host, used on the other; logout and password change")
    for first, second in (("app1", "app2"), ("app2", "app1")):
        status, token = call(first, "GET", "/login", auth=("calvin", "hobbes"))
        ok = status == 200 and isinstance(token, str)
        status2, who = call(second, "GET", "/whoami", token=token) if ok else (None, None)
        CHECKS.check(f"a token made through {first} works on {second}", ok and status2 == 200 and who == "calvin",
                     (status, token, status2, who))
    _, token = call("app1", "GET", "/login", auth=("hobbes", "susie"))
    before = call("app2", "GET", "/whoami", token=token)[0]
    out = call("app1", "POST", "/logout", token=token)[0]
    after = call("app2", "GET", "/whoami", token=token)[0]
    CHECKS.check("a logout through app1 is honoured by app2 at once", (before, out, after) == (200, 204, 401) or
                 (before == 200 and out in (200, 204) and after == 401), (before, out, after))
    # A user of its own: register through the balancer, warm both hosts' password caches,
    # change the password through app2; app1 refuses the old one at once.
    login, old, new = f"u{uuid.uuid4().hex[:10]}", "old-pass-1", "new-pass-2"
    reg = call(None, "POST", "/register", body={"login": login, "pword": old})[0]
    warm = [call(h, "GET", "/whoami", auth=(login, old))[0] for h in ("app1", "app2")]
    changed = call("app2", "POST", "/password", body={"password": new}, auth=(login, old))[0]
    old_on_1 = call("app1", "GET", "/whoami", auth=(login, old))[0]
    new_on_1 = call("app1", "GET", "/whoami", auth=(login, new))[0]
    CHECKS.check("a password change through app2 is honoured by app1 at once (old refused, new accepted)",
                 reg == 201 and warm == [200, 200] and changed in (200, 204) and old_on_1 == 401 and new_on_1 == 200,
                 (reg, warm, changed, old_on_1, new_on_1))


def revocation_delay_under_load(rounds=5):
    """Logout through app1 under load, then GET /whoami on app2 on one kept-alive connection
    until the first 401: its delay after the 204 (the revocation cache's staleness plus one
    request), printed; refused within 5 s (each process of app2 had the token's verdict
    remembered: without the notification it would answer 200 for revocation_cache)."""
    say("revocation cache: logout through app1 under load, first 401 on app2 (measured)")
    load = Load(getters=2, posters=1, max_requests=20000, max_seconds=60).start()
    delays, stale, errors = [], [], []
    try:
        for _ in range(rounds):
            # The course's tokens are stamped to the second: a login in the same second as the
            # previous round's (or shared_tokens') logout would get that revoked token again.
            time.sleep(1.1)
            status, token = call("app1", "GET", "/login", auth=("hobbes", "susie"))
            warm = [call("app2", "GET", "/whoami", token=token)[0] for _ in range(6)]
            conn = http.client.HTTPSConnection(APPS["app2"], 443, context=CTX, timeout=15)
            conn.request("GET", "/api/version")
            conn.getresponse().read()
            out = call("app1", "POST", "/logout", token=token)[0]
            done, answers = time.monotonic(), []
            while time.monotonic() - done < 5:
                conn.request("GET", "/api/whoami", headers={"Authorization": "Bearer " + token})
                r = conn.getresponse()
                r.read()
                answers.append(r.status)
                if r.status == 401:
                    delays.append((time.monotonic() - done) * 1000)
                    break
            conn.close()
            stale.append(answers.count(200))
            if (status, warm, out) != (200, [200] * 6, 204) or answers[-1:] != [401]:
                errors.append((status, warm, out, answers[-3:]))
    finally:
        load.stop()
    if delays:
        say(f"revocation: 204 on app1 -> first 401 on app2 in {min(delays):.1f} / {sorted(delays)[len(delays) // 2]:.1f} / "
            f"{max(delays):.1f} ms (min/median/max of {len(delays)}, under load, one request included); "
            f"stale 200s after the 204: {stale}")
    CHECKS.check(f"a logout through app1 is refused by app2 under load within 5 s ({rounds} rounds)",
                 not errors and len(delays) == rounds, errors[:3])


def call_with_headers(host, method, path, headers, body=None):
    """One request on a new connection to an app host's nginx: (status, headers, body)."""
    conn = http.client.HTTPSConnection(APPS[host], 443, context=CTX, timeout=15)
    try:
        conn.request(method, "/api" + path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def idempotency_and_rate_limits():
    say("an idempotency key and a rate limit, shared by both hosts")
    basic = "Basic " + base64.b64encode(b"calvin:hobbes").decode()
    stuff, key = f"kc-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    headers = {"Authorization": basic, "Idempotency-Key": key,
               "Content-Type": "application/x-www-form-urlencoded"}
    first = call_with_headers("app1", "POST", "/stuff", headers, f"stuff={stuff}")
    again = call_with_headers("app2", "POST", "/stuff", headers, f"stuff={stuff}")
    rows = CLUSTER.psql(f"SELECT count(*) FROM Stuff WHERE stuff = '{stuff}'")
    CHECKS.check("a POST's Idempotency-Key recorded through app1 is replayed by app2 (one row)",
                 first[0] == 201 and again[0] == 201 and again[2] == first[2]
                 and again[1].get("idempotent-replayed") == "true" and rows.strip() == "1",
                 (first, again, rows))

    def remaining(host):
        status, h, _ = call_with_headers(host, "GET", "/whoami", {"Authorization": basic})
        fields = dict(p.split("=") for p in h.get("ratelimit", "").split(";")[1:])
        return status, int(fields.get("r", -1)), int(fields.get("t", -1))
    # A host whose Redis command timed out (cache_timeout, right after a load step) counts
    # alone for its back-off second: a few tries, 1.5 s apart; one shared count suffices.
    tries = []
    for _ in range(4):
        one, two = remaining("app1"), remaining("app2")
        tries.append((one, two))
        if one[0] == 200 and two[0] == 200 and (two[1] == one[1] - 1 or two[2] > one[2]):
            break
        time.sleep(1.5)
    CHECKS.check("a rate limit is counted by both hosts together (RateLimit r one less on app2)",
                 one[0] == 200 and two[0] == 200 and (two[1] == one[1] - 1 or two[2] > one[2]), tries)


def pg_hba_hosts():
    with open(f"{STATE}/pg/data/pg_hba.conf") as f:
        return sorted(line.split()[3] for line in f if line.startswith("hostssl") and f" {DB} " in line)


def prepare_db_hosts():
    say("prepare-db.sh: several app hosts, idempotent, a host dropped only when asked")
    base = [f"{ROOT}/deploy/prepare-db.sh", "--instance", INSTANCE, "--pg-hba", f"{STATE}/pg/data/pg_hba.conf",
            "--secrets-dir", f"{STATE}/secrets", "--pg-socket-dir", f"{STATE}/pg", "--pg-port", "5432",
            "--runtime-connections", "40"]
    both = ["10.77.1.1/32", "10.77.1.2/32"]
    CHECKS.check("pg_hba admits both application hosts", pg_hba_hosts() == both, pg_hba_hosts())
    r = subprocess.run(base + ["--app-host", "10.77.1.1"], capture_output=True, text=True)
    CHECKS.check("prepare-db.sh --app-host app1 again keeps app2 (nothing changed)",
                 r.returncode == 0 and pg_hba_hosts() == both and "already has the rules" in r.stderr, r.stderr[-800:])
    r = subprocess.run(base + ["--app-host", "10.77.1.9"], capture_output=True, text=True)
    CHECKS.check("prepare-db.sh --app-host a third adds it to the two", r.returncode == 0 and
                 pg_hba_hosts() == both + ["10.77.1.9/32"], (r.stderr[-800:], pg_hba_hosts()))
    r = subprocess.run(base + ["--drop-app-host", "10.77.1.9"], capture_output=True, text=True)
    CHECKS.check("prepare-db.sh --drop-app-host drops that one only", r.returncode == 0 and pg_hba_hosts() == both,
                 (r.stderr[-800:], pg_hba_hosts()))
    status = call(None, "GET", "/health")[0]
    CHECKS.check("the hosts still reach the database after the reloads", status == 200, status)


def key_set_modes():
    say("the shared token key set on every host")
    with open(os.path.join(CLUSTER.dir, "token.secret")) as f:
        keys = f.read()
    for host in APPS:
        home = f"{STATE}/{host}/home"
        st = os.stat(f"{home}/conf/token.keys")
        with open(f"{home}/conf/token.keys") as f:
            same = f.read() == keys
        deployer = subprocess.run(["nsenter", "-t", open(f"{STATE}/pids/host-{host}").read().strip(), "-m", "-n",
                                   "runuser", "-u", f"{INSTANCE}-deploy", "--", "cat", f"/home/{INSTANCE}/conf/token.keys"],
                                  capture_output=True, text=True)
        CHECKS.check(f"{host}: conf/token.keys is the deployer's key set, 0420, the deploy account cannot read it",
                     same and st.st_mode & 0o777 == 0o420 and deployer.returncode != 0 and keys not in deployer.stdout,
                     (same, oct(st.st_mode), deployer.returncode))


def kill_host_under_load():
    say("app1 killed (workers SIGKILLed, nginx stopped) under a bounded write load")
    jobs_pid = supervisor_status("app1").get("jobs_pid")
    load = Load(getters=2, posters=2, max_requests=4000, max_seconds=40).start()
    time.sleep(3)
    t_fault = time.time()
    CLUSTER.fault("app1")
    t_fault_end = time.time()
    time.sleep(5)
    CLUSTER.fault("app1-back")
    time.sleep(4)
    load.stop()
    gets, posts = load.failed("GET"), load.failed("POST")
    CHECKS.check(f"no failed GET while app1 died ({load.ok['GET']} answered)", not gets and load.ok["GET"] > 50, gets[:5])
    in_flight = [f for f in posts if f[1] <= t_fault_end + 0.5 and f[2] >= t_fault - 0.1]
    CHECKS.check(f"POSTs fail only while in flight ({len(posts)} failed, {load.ok['POST']} answered 201)",
                 len(posts) == len(in_flight) and len(posts) <= 4 and load.ok["POST"] > 20, posts[:5])
    sids = ",".join(str(s) for s in load.created) or "0"
    found = int(CLUSTER.psql(f"SELECT count(*) FROM Stuff WHERE sid IN ({sids})"))
    CHECKS.check(f"every POST answered 201 is in the database ({found} of {len(load.created)})",
                 found == len(load.created) and found > 0, found)
    wait_up("app1")
    # Its jobs worker was SIGKILLed too: the supervisor starts it again (Restart=on-failure).
    deadline = time.time() + 15
    while time.time() < deadline and not (jobs_worker_alive("app1") and supervisor_status("app1").get("jobs_pid") != jobs_pid):
        time.sleep(0.3)
    CHECKS.check("app1's jobs worker, SIGKILLed with the host, runs again (restarted by its unit)",
                 jobs_worker_alive("app1") and supervisor_status("app1").get("jobs_pid") != jobs_pid,
                 supervisor_status("app1"))


def primary_killed_under_load():
    """make cluster-fault FAULT=db-primary under a bounded POST load through the balancer: the
    synchronous standby is promoted, writes come back within 30 s, every POST answered 201 is
    in the database; the old primary rejoins (db-primary-back) and a second failover works."""
    for round_ in (1, 2):
        say(f"failover {round_}: the primary's Patroni and PostgreSQL SIGKILLed under a POST load")
        before = CLUSTER.ha("leader").stdout.strip()
        # Imports of 100 names: jobs long enough (tens of ms) that some run when the primary dies.
        load = Load(getters=1, posters=3, max_requests=6000, max_seconds=75, stats=1, importers=1,
                    import_size=100).start()
        time.sleep(3)
        t_kill = time.time()
        CLUSTER.fault("db-primary")
        back = None
        while time.time() - t_kill < 45:
            time.sleep(0.5)
            with load.lock:
                late = [f for f in load.failures if f[0] == "POST" and f[1] > t_kill]
                recent_ok = load.ok["POST"]
            if late and back is None and time.time() - max(f[2] for f in late) > 2:
                back = max(f[2] for f in late) - t_kill  # the last failed POST: writes succeed after it
                break
        time.sleep(3)
        load.stop()
        after = CLUSTER.ha("leader", check=False).stdout.strip()
        posts = load.failed("POST")
        statuses = sorted({f[3].split(" ")[1] for f in posts if f[3].startswith("/api/")})
        CHECKS.check(f"failover {round_}: a standby is promoted ({before} -> {after})", after and after != before, (before, after))
        CHECKS.check(f"failover {round_}: writes succeed again within 30 s ({(back or 0):.1f} s; {len(posts)} POSTs "
                     f"refused, {load.ok['POST']} answered 201)",
                     back is not None and back < 30 and load.ok["POST"] > 20, (back, posts[-3:]))
        CHECKS.check(f"failover {round_}: refused writes are 503s or 502/504 of the balancer, never a 500 ({statuses})",
                     all(s in ("502", "503", "504") for s in statuses), posts[:5])
        not_json = [f for f in posts if f[3].startswith("/api/") and '"error"' not in f[3]]
        CHECKS.check(f"failover {round_}: every refusal is a JSON error (kiva's, or the balancer's own)",
                     not not_json, not_json[:3])
        stats = load.failed("STATS")
        CHECKS.check(f"failover {round_}: GET /stats, a standby's read (db_replica), answered 200 throughout "
                     f"({load.ok['STATS']} times, {len(stats)} failed)", load.ok["STATS"] > 0 and not stats, stats[:5])
        sids = ",".join(str(x) for x in load.created) or "0"
        found = int(CLUSTER.psql(f"SELECT count(*) FROM Stuff WHERE sid IN ({sids})"))
        CHECKS.check(f"failover {round_}: every POST answered 201 is in the database ({found} of {len(load.created)})",
                     found == len(load.created) and found > 0, found)
        # The imports enqueued meanwhile (202: committed, as synchronous replication keeps it):
        # claimed, cut by the failover, claimed again after their lease; done once each.
        finished = wait_jobs_finished(load.jobs, 120)
        CHECKS.check(f"failover {round_}: the {len(load.jobs)} imports answered 202 finish within 120 s", finished)
        check_imports_once(f"failover {round_}", load.jobs, first_attempt=False)
        done_lines = job_lines("import_stuff", "done")
        twice = [i for i in load.jobs if sum(done_lines[h][i] for h in APPS) > 1]
        CHECKS.check(f"failover {round_}: no import is logged done twice", not twice and len(load.jobs) > 10,
                     (len(load.jobs), twice[:5]))
        CLUSTER.fault("db-primary-back")
        r = CLUSTER.ha("wait-replica", before, check=False)
        CHECKS.check(f"failover {round_}: the old primary {before} rejoins as a replica", r.returncode == 0,
                     r.stdout[-400:] + r.stderr[-400:])
        # The next failover needs a synchronous standby to promote (Patroni promotes no other).
        r = CLUSTER.ha("wait-sync", check=False)
        CHECKS.check(f"failover {round_}: the new leader has a synchronous standby again", r.returncode == 0,
                     r.stdout[-400:] + r.stderr[-400:])


# --------------------------------------------------------------------------- jobs
def worker_log(host):
    """The host's worker.log: its HTTP worker's and its jobs worker's lines (fake_systemd's --log)."""
    with open(f"{STATE}/{host}/worker.log", errors="replace") as f:
        return f.read()


def job_lines(name, what):
    """{host: Counter(job id)} of the jobs workers' lines `job NAME#ID: WHAT...` on each host."""
    pattern = re.compile(r"job " + re.escape(name) + r"#(\d+): " + re.escape(what))
    return {h: collections.Counter(int(m.group(1)) for m in pattern.finditer(worker_log(h))) for h in APPS}


def supervisor_status(host):
    """The host's fake_systemd status: pid, starts, jobs_pid, jobs_starts."""
    try:
        with open(f"{STATE}/{host}/run-kiva/{INSTANCE}.control/status.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def jobs_worker_alive(host):
    pid = supervisor_status(host).get("jobs_pid")
    return bool(pid) and os.path.exists(f"/proc/{pid}")


def import_jobs():
    """{id: (state, attempts)} of every import_stuff job (the steps' job ids are filtered in
    Python: a list of thousands in the SQL would exceed an argument's size)."""
    rows = CLUSTER.psql("SELECT id, state, attempts FROM kiva_jobs WHERE name = 'import_stuff'")
    return {int(i): (state, int(n)) for i, state, n in (line.split("|") for line in rows.splitlines() if line)}


def wait_jobs_finished(ids, timeout):
    """Polls until every import of ids is finished (done, failed, cancelled): True, or False at timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            jobs = import_jobs()
            if all(i in jobs and jobs[i][0] in ("done", "failed", "cancelled") for i in ids):
                return True
        except subprocess.CalledProcessError:  # the HA leader changing: asked again
            pass
        time.sleep(1)
    return False


def check_imports_once(label, jobs, first_attempt):
    """Every job of jobs ({id: names}) done, and its names each exactly once in Stuff (one import
    lost: names missing; run twice: the second fails on Stuff's unique key, so not done). With
    first_attempt, each ran at its first attempt (nothing reclaimed nor retried)."""
    rows = import_jobs()
    states = collections.Counter(rows.get(i, ("missing", 0)) for i in jobs)
    done = sum(n for (state, _), n in states.items() if state == "done")
    ok = done == len(jobs) and (not first_attempt or set(states) == {("done", 1)})
    attempts = collections.Counter()
    for (_, n), count in states.items():
        attempts[n] += count
    CHECKS.check(f"{label}: every job answered 202 ends done ({done} of {len(jobs)}"
                 f"{', each at its first attempt' if first_attempt else ''}; by attempts: {dict(sorted(attempts.items()))})",
                 ok and jobs, dict(states))
    names = [n for ns in jobs.values() for n in ns]
    # Every name a step imports is job-<12 hex>, new (Stuff.stuff is UNIQUE: at most one row each).
    stored = collections.Counter(CLUSTER.psql("SELECT stuff FROM Stuff WHERE stuff LIKE 'job-%'").split())
    wrong = [n for n in names if stored[n] != 1]
    CHECKS.check(f"{label}: each of the {len(names)} imported names is in Stuff exactly once",
                 names and not wrong, wrong[:5])


def jobs_on_two_hosts(count=300):
    """A few hundred imports enqueued through the balancer (HTTP): both hosts' jobs workers run
    some, none lost, none run twice or by two workers at once. Each run needs a claim, which
    counts in attempts: attempts 1 for every job means one claim, so one run (a second worker
    taking a running job, its lease or SKIP LOCKED broken, would make it 2); the handler's log
    line `imported` (before the commit) appears once across both hosts' logs; its names are
    in Stuff once each (Stuff.stuff is UNIQUE: a second run could not add them again, it would
    fail, leaving the job failed)."""
    say(f"jobs: {count} imports enqueued through the balancer, run by the jobs workers of both hosts")
    alive = {h: jobs_worker_alive(h) for h in APPS}
    CHECKS.check("each host runs its jobs worker (kiva --jobs, started by the deploy)", all(alive.values()), alive)
    status = subprocess.run([f"{ROOT}/deploy/dev/cluster.sh", "status"], capture_output=True, text=True)
    shown = [line for line in status.stdout.splitlines() if re.search(r"kiva --jobs pid \d+", line)]
    CHECKS.check("make cluster-status shows each host's jobs worker running", status.returncode == 0 and
                 len(shown) == len(APPS), status.stdout + status.stderr)
    load = Load(getters=0, posters=0, importers=4, max_requests=count, max_seconds=90).start()
    for t in load.threads:
        t.join(120)
    load.stop()
    CHECKS.check(f"{count} imports answered 202 through the balancer ({len(load.jobs)})",
                 len(load.jobs) == count and not load.failures, load.failures[:5])
    finished = wait_jobs_finished(load.jobs, 120)
    CHECKS.check("the imports finish within 120 s", finished)
    check_imports_once("two hosts", load.jobs, first_attempt=True)
    runs = job_lines("import_stuff", "imported")
    ran = {h: {i for i in c if i in load.jobs} for h, c in runs.items()}
    twice = [i for i in load.jobs if sum(runs[h][i] for h in APPS) != 1]
    CHECKS.check(f"each import's handler ran exactly once across the hosts (app1 ran {len(ran['app1'])}, "
                 f"app2 {len(ran['app2'])})", not twice, [(i, {h: runs[h][i] for h in APPS}) for i in twice[:5]])
    CHECKS.check("both hosts' jobs workers ran some of the imports", all(ran.values()),
                 {h: len(v) for h, v in ran.items()})


def periodic_once_per_period(periods=6):
    """The demo's stuff_tally every TALLY_SECONDS, scheduled by both hosts' jobs workers: over
    a few periods, each period has exactly one job, done, whose handler ran once (its log line
    `tally:` on one host), none missing."""
    say(f"jobs: the periodic stuff_tally (every {TALLY_SECONDS} s) with both hosts' schedulers, "
        f"over {periods} periods")
    alive = {h: jobs_worker_alive(h) for h in APPS}
    first = int(time.time()) // TALLY_SECONDS + 1       # the first period wholly in the window
    time.sleep((periods + 1) * TALLY_SECONDS + 1)
    last = int(time.time()) // TALLY_SECONDS - 1        # the last one begun a period ago at least
    keys = ",".join(f"'stuff_tally@{p}'" for p in range(first, last + 1))
    query = f"SELECT unique_key, state, id FROM kiva_jobs WHERE name = 'stuff_tally' AND unique_key IN ({keys})"
    deadline = time.time() + 15
    while True:
        rows = [line.split("|") for line in CLUSTER.psql(query).splitlines() if line]
        if all(r[1] == "done" for r in rows) or time.time() > deadline:
            break
        time.sleep(0.5)
    per_period = collections.Counter(int(r[0].split("@")[1]) for r in rows)
    wrong = {p: per_period[p] for p in range(first, last + 1) if per_period[p] != 1}
    CHECKS.check(f"the periodic job: exactly one job per period, none missing ({last - first + 1} periods, "
                 f"both jobs workers running: {all(alive.values())})",
                 not wrong and last - first + 1 >= periods - 1 and all(alive.values()), (wrong, alive))
    not_done = [r for r in rows if r[1] != "done"]
    runs = job_lines("stuff_tally", "tally:")
    ids = [int(r[2]) for r in rows]
    twice = [i for i in ids if sum(runs[h][i] for h in APPS) != 1]
    by_host = {h: sum(1 for i in ids if runs[h][i]) for h in APPS}
    CHECKS.check(f"the periodic job: each period's run done, its handler run once (by host: {by_host})",
                 not not_done and not twice, (not_done[:3], twice[:5]))


def wait_up(host, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if call(host, "GET", "/health")[0] == 200 and haproxy_state(host) == "UP":
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def haproxy_state(host):
    out = subprocess.run(["socat", "-t", "5", "stdio", f"UNIX-CONNECT:{STATE}/haproxy/admin.sock"],
                         input="show stat\n", capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0] == "kiva" and f[1] == host:
            return f[17]
    return None


def redis_down_and_back():
    say("Redis stopped and started again under load")
    load = Load(getters=2, posters=1, max_requests=3000, max_seconds=30).start()
    time.sleep(2)
    CLUSTER.fault("redis")
    time.sleep(4)
    login = call(None, "GET", "/whoami", auth=("calvin", "hobbes"))[0]
    CLUSTER.fault("redis-back")
    time.sleep(3)
    load.stop()
    five = [f for f in load.failures if " 5" in f[3][:20] or "Error" in f[3]]
    CHECKS.check(f"Redis down and back: no 5xx, no failure ({load.ok['GET']} GET, {load.ok['POST']} POST)",
                 not load.failures and login == 200 and load.ok["GET"] > 50, (login, five[:5], load.failures[:5]))


def rolling_deploy_under_load():
    say("a rolling deploy (deploy/deploy.sh, TARGETS app1 app2) under load, imports queued meanwhile")
    jobs_before = {h: supervisor_status(h).get("jobs_pid") for h in APPS}
    load = Load(getters=2, posters=1, max_requests=20000, max_seconds=240, importers=1).start()
    time.sleep(1)
    r = CLUSTER.deploy("deploy", env={"KIVA_DEPLOY_TIME": str(int(time.time()) + 7)})
    time.sleep(1)
    load.stop()
    log = r.stdout + r.stderr
    release = [line for line in log.splitlines() if "runs '" in line]
    CHECKS.check("the rolling deploy succeeds, one host at a time (drain, switch, check, ready)",
                 r.returncode == 0 and log.count("haproxy: kiva/app1 drain") == 1 and log.count("haproxy: kiva-degraded/app1 drain") == 1
                 and log.count("haproxy: kiva/app2 ready") == 1 and log.count("applying the pending migrations") == 1,
                 log[-2500:])
    CHECKS.check(f"0 failed requests during the roll ({load.ok['GET']} GET, {load.ok['POST']} POST, "
                 f"{load.ok['IMPORT']} imports)", not load.failures and load.ok["GET"] > 100, load.failures[:5])
    # Each host's jobs worker: SIGTERM (its running jobs finish, exit 0), the new binary started.
    jobs_after = {h: supervisor_status(h).get("jobs_pid") for h in APPS}
    graceful = {h: f"the jobs worker, pid {jobs_before[h]}, stopped (exit 0)" in open(f"{STATE}/{h}/supervisor.log").read()
                for h in APPS}
    CHECKS.check("the roll restarted each host's jobs worker gracefully (exit 0, a new process)",
                 all(graceful.values()) and all(jobs_after[h] and jobs_after[h] != jobs_before[h] and jobs_worker_alive(h)
                                                for h in APPS) and log.count("restarting the jobs worker gracefully") == 2,
                 (jobs_before, jobs_after, graceful))
    CHECKS.check("the imports queued during the roll finish within 60 s", wait_jobs_finished(load.jobs, 60))
    check_imports_once("rolling deploy", load.jobs, first_attempt=True)
    new = {h: call(h, "GET", "/health")[1].get("release") for h in APPS}
    CHECKS.check("both hosts run the new release", len(set(new.values())) == 1 and
                 any(v and v in line for v in new.values() for line in release), (new, release))


def failing_host_stops_the_roll():
    say("a host failing its health check stops the roll: it stays drained, the other serves")
    conf = f"{STATE}/deployer/deploy.conf"
    with open(conf) as f:
        original = f.read()
    # The first host's check names a path that is not there (404): the roll stops at app1.
    with open(conf, "w") as f:
        f.write(original.replace("HEALTH_URL=https://{host}/api/health", "HEALTH_URL=https://{host}/api/{name}"))
    try:
        load = Load(getters=2, posters=0, max_requests=20000, max_seconds=200).start()
        r = CLUSTER.deploy("deploy", env={"KIVA_DEPLOY_TIME": str(int(time.time()) + 11)})
        load.stop()
    finally:
        with open(conf, "w") as f:
            f.write(original)
    log = r.stdout + r.stderr
    CHECKS.check("the roll stops at the failing host, nothing after it switched",
                 r.returncode != 0 and "app1 failed" in log and "kiva/app2 drain" not in log, log[-1500:])
    CHECKS.check("the failing host stays drained", haproxy_state("app1") == "DRAIN", haproxy_state("app1"))
    CHECKS.check(f"the other host served everything meanwhile ({load.ok['GET']} GET)",
                 not load.failures and load.ok["GET"] > 20, load.failures[:5])
    subprocess.run([f"{ROOT}/deploy/haproxy-server.sh", f"{STATE}/haproxy/admin.sock", "kiva,kiva-degraded/app1", "ready"],
                   capture_output=True)


def main():
    global CLUSTER, CTX
    if os.geteuid() != 0:
        print("cluster: needs root (network namespaces); skipped")
        print("cluster: 0 passed, 1 failed")
        return 1
    db = "ha" if "--db" in sys.argv and sys.argv[sys.argv.index("--db") + 1:][:1] == ["ha"] else "single"
    CLUSTER = Cluster(db)
    try:
        say(f"deploy/dev/cluster.sh up (the balancer on 127.0.0.1:{CLUSTER.port}; log {CLUSTER.log_path})")
        CLUSTER.start()
        CTX = ssl.create_default_context(cafile=f"{STATE}/tls/ca.crt")
        CHECKS.check("the cluster serves through the balancer", call(None, "GET", "/health")[0] == 200)
        steps = (key_set_modes, shared_tokens, revocation_delay_under_load, idempotency_and_rate_limits, prepare_db_hosts, integration_suite,
                 jobs_on_two_hosts, periodic_once_per_period, kill_host_under_load,
                 redis_down_and_back, rolling_deploy_under_load, failing_host_stops_the_roll)
        if db == "ha":  # the same topology on the HA database: what it adds
            steps = (shared_tokens, revocation_delay_under_load, periodic_once_per_period, primary_killed_under_load)
        only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
        if only:  # a few steps only (while working on them): --only jobs_on_two_hosts,periodic_once_per_period
            steps = [globals()[name] for name in only]
        for step in steps:
            try:
                step()
            except Exception as e:  # one step's failure does not hide the others
                CHECKS.check(f"{step.__name__} ran", False, repr(e))
    except Exception as e:
        CHECKS.check("the cluster starts", False, e)
    finally:
        say("stopping the cluster (SIGTERM)")
        CLUSTER.stop()
        leftovers = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        CHECKS.check("SIGTERM removed every namespace and the state", " kc-" not in " " + leftovers
                     and not os.path.exists(STATE), leftovers)
        if CHECKS.failed:
            print(f"cluster log kept: {CLUSTER.log_path}")
        else:
            subprocess.run(["rm", "-rf", CLUSTER.dir])
    print(f"cluster: {CHECKS.passed} passed, {len(CHECKS.failed)} failed")
    return 1 if CHECKS.failed else 0


if __name__ == "__main__":
    sys.exit(main())
