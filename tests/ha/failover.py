#!/usr/bin/env python3
"""The failover test: kiva (built from the tree, 2 processes behind nginx over the unix socket)
against the Patroni cluster of deploy/ha/db-cluster.sh (already up, see tests/ha/run.sh).

Under a bounded load of POST /stuff, the primary's Patroni and PostgreSQL are killed (SIGKILL):
a standby must be promoted and take writes again within WRITE_BOUND seconds, while GET /stats
(a query marked `-- kiva: replica`, sent to a standby by db_replica) keeps answering 200; every
answer is 200, 201 or 503 (no 500, none slower than ANSWER_BOUND); every POST answered 201 -- before, during
and after -- is in the database afterwards; the killed node rejoins as a replica holding them
too; then the same again from the new primary (the second failover). Prints `ha: N passed, M
failed` last; exits non-zero on any failure."""

import argparse
import http.client
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

CLUSTER = [os.path.join(ROOT, "deploy/ha/db-cluster.sh")]
WRITE_BOUND = 30.0   # seconds from the kill to the first 201 of a POST sent after it
ANSWER_BOUND = 15.0  # no answer slower: db_connect_timeout 2s x 3 hosts + db_statement_timeout 5s
DATABASE_NAME = "kiva_ha"


def cluster(*args, check=True):
    r = subprocess.run(CLUSTER + list(args), capture_output=True, text=True, timeout=180)
    if check and r.returncode != 0:
        raise RuntimeError(f"db-cluster.sh {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout.strip()


def sql(node, query):
    return cluster("psql", node, "-d", DATABASE_NAME, "-Atc", query)


class Load:
    """Threads that POST /stuff (and one that GETs) until stopped, at most `limit` requests
    each; every answer is kept: (start, end, status, name)."""

    def __init__(self, port, tag, writers=4, limit=3000):
        self.port, self.tag, self.limit = port, tag, limit
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.posts, self.gets, self.stats = [], [], []
        self.threads = [threading.Thread(target=self.write, args=(i,)) for i in range(writers)]
        self.threads.append(threading.Thread(target=self.read, args=("/stuff?filter=none-such", self.gets)))
        self.threads.append(threading.Thread(target=self.read, args=("/stats", self.stats)))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def request(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        start = time.monotonic()
        try:
            conn.request(method, "/api" + path, body=body, headers=headers)
            r = conn.getresponse()
            payload = r.read()
            status = r.status
            if status >= 400 and b'"error"' not in payload:
                status = f"{status}-without-json-error"
        except (OSError, http.client.HTTPException) as e:
            status, payload = f"transport:{type(e).__name__}", b""
            conn.close()
        return start, time.monotonic(), status, payload

    def write(self, thread):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_BOUND + 15)
        for i in range(self.limit):
            if self.stop.is_set():
                break
            name = f"{self.tag}-{thread}-{i}"
            start, end, status, _ = self.request(conn, "POST", "/stuff",
                                                 urllib.parse.urlencode({"stuff": name}))
            with self.lock:
                self.posts.append((start, end, status, name))
            time.sleep(0.02 if status == 201 else 0.1)  # a bounded rate, no spinning on 503s
        conn.close()

    def read(self, path, answers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_BOUND + 15)
        for _ in range(self.limit):
            if self.stop.is_set():
                break
            start, end, status, _ = self.request(conn, "GET", path)
            with self.lock:
                answers.append((start, end, status, ""))
            time.sleep(0.05)
        conn.close()


class Checks:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, ok, what):
        print(("ok:   " if ok else "FAIL: ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def acked_names(load):
    return [name for _, _, status, name in load.posts if status == 201]


def rest_api(checks):
    """Patroni's REST API: HTTPS only; the unsafe endpoints want a member's certificate and
    the password (POST /reload, which changes nothing here, stands for them)."""
    leader = cluster("leader")
    code = lambda *args: cluster("rest", leader, *args, "-o", "/dev/null", "-w", "%{http_code}", check=False)
    checks.check(code("/primary") == "200", f"Patroni REST: GET /primary over HTTPS (the CA checked) is 200 on the leader {leader}")
    prefix, net = os.environ.get("HA_PREFIX", "kh-"), os.environ.get("HA_NET", "10.78.1")
    plain = subprocess.run(["ip", "netns", "exec", prefix + leader, "curl", "-s", "-m", "2", "-o", "/dev/null", "-w",
                            "%{http_code}", f"http://{net}.{10 + int(leader[2:])}:8008/primary"],
                           capture_output=True, text=True).stdout
    checks.check(plain in ("000", "400"), f"Patroni REST: plain HTTP gets no answer ({plain})")
    checks.check(code("/reload", "-X", "POST") == "403", "Patroni REST: an unsafe endpoint without a client certificate is 403")
    checks.check(code("/reload", "--member", "-X", "POST") == "401", "Patroni REST: ... with a member's certificate but no password, 401")
    checks.check(code("/reload", "--member", "--auth", "-X", "POST") == "202", "Patroni REST: ... with both, 202")


def failover(checks, stack, round_no):
    """One failover under load; returns the killed node and the promoted one."""
    leader = cluster("leader")
    load = Load(stack.port, f"ha{round_no}-{time.time_ns()}").start()
    time.sleep(4)  # writes before the kill
    killed = cluster("fault", "db-primary")
    killed_at = time.monotonic()  # just after the kill (the script finds the leader first)
    checks.check(killed == leader, f"round {round_no}: killed the leader {leader} (Patroni and PostgreSQL, SIGKILL)")
    # Writes go on until some have succeeded on the new primary for a while.
    def recovered():
        with load.lock:
            return sum(1 for s, _, st, _ in load.posts if st == 201 and s > killed_at) >= 20
    wait_for(recovered, WRITE_BOUND + 30)
    time.sleep(3)
    load.finish()

    new_leader = cluster("leader")
    checks.check(new_leader not in ("", killed), f"round {round_no}: a standby was promoted ({killed} -> {new_leader})")
    first_ok = min((s for s, _, st, _ in load.posts if st == 201 and s > killed_at), default=None)
    gap = (first_ok - killed_at) if first_ok else float("inf")
    checks.check(gap < WRITE_BOUND, f"round {round_no}: writes succeed again {gap:.1f} s after the kill (bound {WRITE_BOUND:.0f} s)")
    statuses = {}
    for _, _, st, _ in load.posts + load.gets + load.stats:
        statuses[st] = statuses.get(st, 0) + 1
    checks.check(set(statuses) <= {200, 201, 503}, f"round {round_no}: every answer is 200/201 or a JSON 503: {statuses}")
    slowest = max(e - s for s, e, _, _ in load.posts + load.gets + load.stats)
    checks.check(slowest < ANSWER_BOUND, f"round {round_no}: slowest answer {slowest:.2f} s (bound {ANSWER_BOUND:.0f} s)")
    acked = acked_names(load)
    before = sum(1 for _, e, st, _ in load.posts if st == 201 and e <= killed_at)
    during = sum(1 for s, e, st, _ in load.posts if st == 201 and s < killed_at < e)
    print(f"round {round_no}: {len(load.posts)} POSTs, {len(acked)} answered 201 ({before} before the kill, "
          f"{during} in flight across it, {len(acked) - before - during} after), "
          f"{statuses.get(503, 0)} answered 503; {len(load.gets)} GETs", flush=True)
    names = "','".join(acked)
    found = sql(new_leader, f"SELECT count(*) FROM Stuff WHERE stuff IN ('{names}')")
    checks.check(found == str(len(acked)), f"round {round_no}: every POST answered 201 is in the database: {found} of {len(acked)}")
    reads_ok = sum(1 for _, _, st, _ in load.gets if st == 200)
    checks.check(reads_ok > 0, f"round {round_no}: reads through kiva answered ({reads_ok} of {len(load.gets)} 200)")
    # Reads on a standby do not wait for the new primary.
    stats = [st for _, _, st, _ in load.stats]
    checks.check(stats and set(stats) == {200}, f"round {round_no}: every GET /stats (a standby's read) answered 200: "
                 f"{ {st: stats.count(st) for st in set(stats)} }")
    outage = sum(1 for s, _, st, _ in load.stats if st == 200 and killed_at < s < (first_ok or float("inf")))
    checks.check(outage > 0, f"round {round_no}: GET /stats answered 200 while writes were refused ({outage} times)")

    # The surviving replica follows the new primary and catches up (it may be the
    # asynchronous one: a read there may lag behind, never lose a write).
    others = [n for n in ("db1", "db2", "db3") if n not in (killed, new_leader)]
    if others:
        def caught_up():
            try:
                return sql(others[0], f"SELECT count(*) FROM Stuff WHERE stuff IN ('{names}')") == str(len(acked))
            except RuntimeError:
                return False
        checks.check(wait_for(caught_up, 30), f"round {round_no}: replica {others[0]} reads them too")

    # The killed node comes back as a replica (pg_rewind by Patroni) and holds every write.
    cluster("fault", "db-primary-back")
    back = subprocess.run(CLUSTER + ["wait-replica", killed], capture_output=True, timeout=120).returncode == 0
    checks.check(back, f"round {round_no}: {killed} rejoined as a replica of {new_leader}")
    if back:
        def has_all():
            try:
                return sql(killed, f"SELECT count(*) FROM Stuff WHERE stuff IN ('{names}')") == str(len(acked))
            except RuntimeError:
                return False
        checks.check(wait_for(has_all, 30), f"round {round_no}: the rejoined {killed} holds the {len(acked)} acknowledged writes")
    print(cluster("status"), flush=True)
    return killed, new_leader


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    args = parser.parse_args()
    checks = Checks()
    # HA_TEST_CONNINFO: another conninfo (e.g. one host only), to see the test fail.
    conninfo = os.environ.get("HA_TEST_CONNINFO") or cluster("conninfo")
    # The queries marked `-- kiva: replica` (GET /stats) go to a standby of the same nodes.
    replica = conninfo.replace("target_session_attrs=read-write", "target_session_attrs=prefer-standby")
    stack = harness.Stack(args.build, DATABASE=conninfo, PROCESSES="2", THREADS="4",
                          KIVA_EXTRA="db_connect_timeout = 2s\ndb_statement_timeout = 5s\n"
                                     f"db_replica = {replica}\n")
    try:
        stack.start()
        client = harness.Client(stack.port)
        checks.check(client.request("POST", "/stuff", data={"stuff": "ha-warm-up"}).status == 201,
                     "POST /stuff through nginx and kiva reaches the cluster's leader")
        rest_api(checks)
        promoted_nodes = [failover(checks, stack, round_no)[1] for round_no in (1, 2)]
        # What an operator sees in the log during a failover: one example of each kind.
        kinds = {}
        for line in stack.worker_log():
            if " WARNING " in line or " ERROR " in line:
                text = line.split(" WARNING ", 1)[-1].split(" ERROR ", 1)[-1]
                kinds.setdefault(text[:40], line)
        print("worker log during the failovers, one line of each kind:\n  " + "\n  ".join(list(kinds.values())[:8]))
        switched = [line for line in stack.worker_log() if "database server switched from" in line]
        checks.check(bool(switched), f"the worker logged the switch: {switched[:1]}")
        metrics = client.request("GET", "/metrics").body.decode()
        switches = [line for line in metrics.splitlines() if line.startswith("kiva_db_server_switches_total ")]
        checks.check(bool(switches) and float(switches[0].split()[1]) > 0, f"/metrics counts it: {switches}")
        promoted = [line for line in stack.worker_log() if "was promoted: reconnecting to a standby" in line]
        # Only a standby that held replica connections can show it: libpq's prefer-standby takes
        # the first standby in host order, and Patroni promotes the synchronous one, which may be
        # the other standby in both rounds.
        net = os.environ.get("HA_NET", "10.78.1")
        held = set(re.findall(r"replica database (?:connection opened to|server switched from \S+ to) ([\d.]+):",
                              "\n".join(stack.worker_log())))
        exposed = [n for n in promoted_nodes if n and f"{net}.{10 + int(n[2:])}" in held]
        # Moved: seen promoted on an idle connection, or reconnected elsewhere after an error.
        moved = promoted + [line for line in stack.worker_log() for n in exposed
                            if f"replica database server switched from {net}.{10 + int(n[2:])}:" in line]
        if exposed:
            checks.check(bool(moved), f"replica connections on a promoted standby ({', '.join(exposed)}) moved "
                         f"to another standby: {moved[:1]}")
        else:
            print(f"note: no replica connection was on a promoted standby ({promoted_nodes}; replica connections "
                  f"on {sorted(held)}): the move to another standby was not exercised this run", flush=True)
        replica = [line for line in metrics.splitlines() if line.startswith("kiva_db_replica_queries_total")]
        standby = [float(line.split()[1]) for line in replica if 'served_by="standby"' in line]
        checks.check(standby and standby[0] > 0, f"/metrics counts the reads a standby answered: {replica}")
        client.close()
    except Exception as e:  # noqa: BLE001 -- reported as a failure, the cluster is removed by run.sh
        checks.check(False, f"the test stopped: {e!r}")
    finally:
        stack.stop()
        if checks.failed:
            print("--- worker log (last 40 lines)")
            print("\n".join(stack.worker_log()[-40:]))
        stack.cleanup()
    print(f"ha: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
