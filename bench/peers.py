"""The peers of make bench (bench/peers/README.md): what a team would pick instead of kiva,
measured in the same run and the same rounds: Go net/http + pgx (pgxpool), Node fastify + pg,
FastAPI + asyncpg under uvicorn; each direct and behind the same nginx as kiva (HTTP keepalive
upstream); PostgreSQL alone (pgbench -M prepared, the same SELECT); the sweeps (concurrency and
list size, kiva against Go). Used by bench/bench.py."""

import os
import re
import subprocess
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
PEERS = ("go", "node", "fastapi")
LABELS = {"go": "Go net/http+pgx", "node": "Node fastify+pg", "fastapi": "FastAPI+asyncpg"}
SCENARIOS = ("one", "ids", "write", "bearer")
SCENARIO_LABELS = {"one": "GET /stuff/<random id>", "ids": "GET /stuff?ids= (20 rows)",
                   "write": "POST+DELETE /stuff (BEGIN, audit context, statement, COMMIT)",
                   "bearer": "GET /whoami, Bearer token"}
# kiva's rows of each scenario: the existing scenarios where they are the same requests.
KIVA_KEY = {"one": "s1", "ids": "kiva-ids", "write": "s5", "bearer": "s2"}
PROCESSES, POOL = 2, 4          # each peer: 2 processes (GOMAXPROCS=2 for Go), 4 connections each
SWEEP_CONNECTIONS = (1, 16, 64, 256, 1024)
SWEEP_SIZES = (1, 100, 10000)
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-fastapi and friends are


def key(peer, where, scenario):
    """Target name: peer-go-one (direct), peer-go-nginx-one (behind nginx)."""
    return f"peer-{peer}{'-nginx' if where == 'nginx' else ''}-{scenario}"


def all_keys():
    return [key(p, w, s) for s in SCENARIOS for p in PEERS for w in ("direct", "nginx")]


def tree(pid):
    """pid and its descendants (the peer's processes), from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo.extend(children.get(p, []))
    return frozenset(out)


def rss_tree(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total or None


class Peers:
    """Starts the three peers on free ports (through bench's spawn), gives nginx's upstreams."""

    def __init__(self, bench, free_port, dest):
        self.b, self.dest = bench, dest
        self.ports = {p: free_port() for p in PEERS}
        self.pids = {}

    def nginx_http(self):
        """Upstreams with HTTP keepalive (nginx's http block)."""
        return " ".join(f"upstream peer_{p} {{ server 127.0.0.1:{port}; keepalive 64; }}"
                        for p, port in self.ports.items())

    def nginx_locations(self):
        """/peer-<name>/ proxied to each peer, prefix stripped, the request id passed on."""
        return " ".join(f"location /peer-{p}/ {{ proxy_pass http://peer_{p}/; proxy_http_version 1.1; "
                        "proxy_set_header Connection \"\"; proxy_set_header X-Request-ID $request_id; "
                        "proxy_set_header Host $host; }"
                        for p in self.ports)

    def start(self):
        b, st = self.b, self.b.state
        secret = os.path.join(st, "token.secret")
        pg = os.path.join(st, "pg")
        url = f"postgresql://kiva@/kiva?host={pg}&port={b.pgport}"
        self.procs = {
            "go": b.spawn("peer-go", [os.path.join(self.dest, "peer-go"), f"127.0.0.1:{self.ports['go']}",
                                      b.conninfo, secret],
                          env=dict(os.environ, GOMAXPROCS=str(PROCESSES), POOL=str(POOL))),
            "node": b.spawn("peer-node", ["node", os.path.join(BENCH, "peers", "node", "server.js"),
                                          str(self.ports["node"]), url, secret],
                            env=dict(os.environ, WORKERS=str(PROCESSES), POOL=str(POOL),
                                     NODE_PATH=os.path.join(self.dest, "node", "node_modules"),
                                     NODE_ENV="production")),
            "fastapi": b.spawn("peer-fastapi", [SYSTEM_PYTHON, "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                                                "--port", str(self.ports["fastapi"]), "--workers", str(PROCESSES),
                                                "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                                                "--log-level", "warning", "--backlog", "4096"],
                               cwd=os.path.join(BENCH, "peers", "fastapi"),
                               env=dict(os.environ, PEER_CONNINFO=url, PEER_SECRET_FILE=secret, POOL=str(POOL))),
        }
        deadline = time.time() + 60
        for p in PEERS:
            while True:
                if self.procs[p].poll() is not None:
                    raise self.b.failure(f"the {p} peer exited with status {self.procs[p].returncode}:\n"
                                         + self.b.log_text(f"peer-{p}"))
                try:
                    status, _ = self.b.http("GET", "/stuff/1", base=self.direct(p))
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise self.b.failure(f"the {p} peer did not answer in time:\n" + self.b.log_text(f"peer-{p}"))
                time.sleep(0.1)
        time.sleep(0.5)  # every process of the multi-process peers up, then their pids
        for p in PEERS:
            self.pids[p] = tree(self.procs[p].pid)

    def direct(self, p):
        return f"http://127.0.0.1:{self.ports[p]}"

    def base(self, p, where):
        """(URL, prefix for the wrk scripts) of a peer direct or behind nginx."""
        return (self.direct(p), "") if where == "direct" else (self.b.url, f"/peer-{p}")

    def check(self, json_of):
        """Every peer, direct and behind nginx, answers as kiva does: same status, same JSON."""
        b = self.b
        ids = "ids=42&ids=7&ids=9999&ids=123456"
        probes = [("GET", "/stuff/42", None, None), ("GET", "/stuff/999999", None, None),
                  ("GET", f"/stuff?{ids}", None, None), ("GET", "/whoami", None, b.token),
                  ("GET", "/whoami", None, b.token[:-2] + ("00" if not b.token.endswith("00") else "11"))]
        for method, path, data, token in probes:
            want = b.http(method, "/api" + path, data=data, token=token)
            for p in PEERS:
                for where in ("direct", "nginx"):
                    url, prefix = self.base(p, where)
                    got = b.http(method, prefix + path, data=data, token=token, base=url)
                    # Same status; same JSON for answers and for the 404 ({"error": "no such stuff: N"});
                    # a 401's wording is each peer's own.
                    same = got[0] == want[0] and (got[0] == 401 or json_of(got[1]) == json_of(want[1]))
                    if not same:
                        raise b.failure(f"{p} ({where}) and kiva disagree on {method} {path}: "
                                        f"{got[0]} {got[1][:200]!r} vs {want[0]} {want[1][:200]!r}")
        # The write: a 201 with a sid, the row audited as kiva audits it, then a 204 and a 404.
        for p in PEERS:
            for where in ("direct", "nginx"):
                url, prefix = self.base(p, where)
                name = f"bench-check-{p}-{where}"
                status, body = b.http("POST", prefix + "/stuff", data={"stuff": name}, base=url)
                if status != 201:
                    raise b.failure(f"{p} ({where}) POST /stuff: {status} {body[:200]!r}")
                sid = json_of(body)["sid"]
                audited = b.psql(f"SELECT count(*) FROM Audit WHERE tab = 'stuff' AND operation = 'INSERT' "
                                 f"AND data->>'sid' = '{int(sid)}' AND request_id IS NOT NULL")
                if audited != "1":
                    raise b.failure(f"{p} ({where}): POST /stuff left no audit row with a request id")
                for want in (204, 404):
                    status, body = b.http("DELETE", f"{prefix}/stuff/{sid}", base=url)
                    if status != want:
                        raise b.failure(f"{p} ({where}) DELETE /stuff/{sid}: {status}, expected {want}")

    def targets(self, token):
        get, ids, write, report = (os.path.join(BENCH, n) for n in
                                   ("stuff-get.lua", "stuff-ids.lua", "stuff-write.lua", "report.lua"))
        out = {}
        for p in PEERS:
            for where in ("direct", "nginx"):
                url, prefix = self.base(p, where)
                label = f"{LABELS[p]}{', nginx' if where == 'nginx' else ''}"
                out[key(p, where, "one")] = (f"{label}: one", ["-s", get, f"{url}{prefix}/", "--", prefix])
                out[key(p, where, "ids")] = (f"{label}: ids", ["-s", ids, f"{url}{prefix}/", "--", prefix])
                out[key(p, where, "write")] = (f"{label}: write", ["-s", write, f"{url}{prefix}/", "--", prefix])
                out[key(p, where, "bearer")] = (f"{label}: bearer", ["-s", report, "-H", "Authorization: Bearer "
                                                                     + token, f"{url}{prefix}/whoami"])
        return out

    def app_of(self, name):
        """The pids whose CPU time is the application's for a target (bench/cpu.py)."""
        for p in PEERS:
            if name.startswith(f"peer-{p}-"):
                return self.pids[p]
        return None


def pgbench(b, duration, clients=PROCESSES * POOL):
    """PostgreSQL alone: the one-row SELECT, prepared, from `clients` connections."""
    script = os.path.join(b.state, "pgbench-one.sql")
    with open(script, "w") as f:
        f.write("\\set id random(1, 10000)\nSELECT sid, stuff FROM Stuff WHERE sid = :id;\n")
    seconds = max(1, int(re.sub(r"[^0-9]", "", duration) or 1))
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", script,
           "-h", os.path.join(b.state, "pg"), "-p", str(b.pgport), "-U", "kiva", "kiva"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    tps = re.search(r"tps = ([\d.]+) \(without initial", out.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    done = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    if out.returncode != 0 or not tps:
        raise b.failure(f"pgbench failed ({out.returncode}): {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return {"tps": float(tps.group(1)), "latency_avg_ms": float(lat.group(1)) if lat else None,
            "failed": int(failed.group(1)) if failed else 0, "seconds": seconds,
            "transactions": int(done.group(1)) if done else int(float(tps.group(1)) * seconds),
            "command": " ".join(cmd)}


def pg_wakeup(b):
    """A backend's CPU per one-row SELECT when its next query waits, and when it sleeps between
    queries on a busy or an idle core (bench/pg-wakeup.cpp): {mode: us}, or None without it."""
    binary = os.environ.get("PG_WAKEUP")
    if not binary:
        return None
    conninfo = f"host={os.path.join(b.state, 'pg')} port={b.pgport} dbname=kiva user=kiva"
    out = subprocess.run([binary, conninfo, "20000"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise b.failure(f"pg-wakeup failed ({out.returncode}): {out.stderr}")
    return {m.group(1).strip(): float(m.group(2))
            for m in re.finditer(r"^(.+?)\s+backend\s+([\d.]+) us/query", out.stdout, re.M)}


def list_url(base, prefix, rows):
    """GET /stuff for the list-size sweep: 1 and 100 rows by ids (the index), all rows plain."""
    if rows >= 10000:
        return f"{base}{prefix}/stuff"
    return f"{base}{prefix}/stuff?" + "&".join(f"ids={i}" for i in range(1, rows + 1))
