"""The REST and jobs rows of make bench (issues 21 and 22), used by bench/bench.py.

Issue 21, what caching and rate limiting cost on scenario 1 (GET /stuff/<random id>), ratios of
one run: a worker with `rate_limit` set so high that it never refuses (the counters are counted
and the RateLimit headers written on every answer; the bench has no Redis: the host's shared
counters only); revalidation, `If-None-Match` with the row's current tag, answered 304. An ETag
cannot be turned off (every 200 answer to a GET carries one): its cost is the digest's, timed on
its own (bench/etag-cost.cpp links kiva::etag::of) and set against the worker's CPU per request.

Issue 22, the job queue: jobs per second end to end (wrk POSTs /stuff/import, one job of one name
each, while the jobs run; from the first enqueue to the last completion, read in kiva_jobs), by
`kiva --jobs` and by a bare hand-written SKIP LOCKED loop on the same tables (bench/jobs-loop.cpp),
the same thread count; and the latency from the enqueue to the job's start with NOTIFY, jobs sent
one at a time (started_at - created_at: created_at is the enqueuing transaction's start, so this
is an upper bound of commit-to-start)."""

import json
import os
import re
import statistics
import subprocess
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
RATELIMIT_PREFIX = "/api-ratelimit"
RATE = "1000000/1s"            # the largest N the key accepts: never refused at these rates
TAGGED_IDS = 1000              # the ids whose current tag the revalidation row sends
JOBS_THREADS = int(os.environ.get("BENCH_JOBS_THREADS") or 4)
LATENCY_JOBS = int(os.environ.get("BENCH_JOBS_LATENCY") or 100)
# The drain's queue is filled for this long (not the rounds' duration: 10 s would queue about
# 30,000 jobs, a minute or more to drain).
DRAIN_FILL = os.environ.get("BENCH_JOBS_DRAIN_FILL") or "2s"
NAMES = {"s1rl": "nginx-stuff-rate-limited", "s1inm": "nginx-stuff-if-none-match-304"}
KEYS = ("s1rl", "s1inm")


class Rest:
    def __init__(self, bench):
        self.b = bench
        self.sock = os.path.join(bench.run_dir, "kiva-ratelimit.sock")

    def nginx_locations(self, fastcgi_location):
        return fastcgi_location(RATELIMIT_PREFIX, self.sock)

    def start(self, lines):
        """A worker with the stack's configuration and rate_limit on (lines: the configuration
        without listen and password_cache_ttl, as the other extra workers get it)."""
        self.conf = self.b.variant_worker("kiva-ratelimit", self.sock, lines, {"rate_limit": RATE},
                                          "the rate-limited worker")

    def prepare(self, prefix):
        """The rate-limited worker answers as the plain one, with RateLimit headers; the tags of
        TAGGED_IDS rows for the revalidation row, each checked to give a 304."""
        b = self.b
        import urllib.request
        import urllib.error

        def get(path, headers=None):
            req = urllib.request.Request(b.url + path, headers=headers or {})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, r.headers, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.headers, e.read()
        s1, h1, body1 = get(f"{prefix}/stuff/42")
        s2, h2, body2 = get(f"{RATELIMIT_PREFIX}/stuff/42")
        if s1 != 200 or s2 != 200 or json.loads(body1) != json.loads(body2):
            raise b.failure(f"the rate-limited worker and kiva disagree: {s2} {body2!r} vs {s1} {body1!r}")
        if "RateLimit" not in h2 or "RateLimit" in h1:
            raise b.failure(f"RateLimit headers: {h2.get('RateLimit')!r} (rate-limited), {h1.get('RateLimit')!r} (plain)")
        self.body_bytes = len(body1)
        self.tag_file = os.path.join(b.state, "stuff-tags.txt")
        with open(self.tag_file, "w") as f:
            for i in range(1, TAGGED_IDS + 1):
                status, headers, _ = get(f"{prefix}/stuff/{i}")
                tag = headers.get("ETag")
                if status != 200 or not tag:
                    raise b.failure(f"GET {prefix}/stuff/{i}: {status}, ETag {tag!r}")
                f.write(f"{i} {tag}\n")
        status, headers, body = get(f"{prefix}/stuff/{TAGGED_IDS}", {"If-None-Match": tag})
        if status != 304 or body or headers.get("ETag") != tag:
            raise b.failure(f"If-None-Match {tag}: {status} {body[:100]!r}, ETag {headers.get('ETag')!r}")

    def targets(self, url, prefix):
        get = os.path.join(BENCH, "stuff-get.lua")
        inm = os.path.join(BENCH, "stuff-inm.lua")
        return {"s1rl": (f"1 rate_limit={RATE}", ["-s", get, f"{url}{RATELIMIT_PREFIX}/", "--", RATELIMIT_PREFIX]),
                "s1inm": ("1 If-None-Match -> 304", ["-s", inm, f"{url}{prefix}/", "--", prefix, self.tag_file])}

    def pid_of(self, name):
        return self.b.procs["kiva-ratelimit"].pid if name == "s1rl" else None


def etag_cost(binary, body_bytes):
    """ns per kiva::etag::of on a body of body_bytes (the median of 3 runs)."""
    runs = []
    for _ in range(3):
        out = subprocess.run([binary, str(body_bytes), "500000"], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.split()[1]))
    return statistics.median(runs)


# --- jobs (issue 22) ---------------------------------------------------------------------
def _jobs_since(b, first_id, since="created_at"):
    """(count, done, seconds from the first `since` to the last finished_at) of the import jobs
    with id > first_id."""
    out = b.psql("SELECT count(*), count(*) FILTER (WHERE state = 'done'), "
                 f"extract(epoch FROM max(finished_at) - min({since})) FROM kiva_jobs "
                 f"WHERE id > {int(first_id)} AND name = 'import_stuff'")
    n, done, secs = out.split("|")
    return int(n), int(done), float(secs or 0)


def _last_id(b):
    return int(b.psql("SELECT coalesce(max(id), 0) FROM kiva_jobs"))


def _wait_done(b, first_id, timeout=300, since="created_at"):
    deadline = time.time() + timeout
    while True:
        n, done, secs = _jobs_since(b, first_id, since)
        if done == n:
            return n, secs
        if time.time() > deadline:
            raise b.failure(f"jobs: {n - done} of {n} not done after {timeout} s")
        time.sleep(0.2)


def jobs(b, wrk, duration, connections, token, prefix, kiva, loop_binary, say):
    """The jobs section: end to end with kiva's worker, then with the bare loop; the latency."""
    post = os.path.join(BENCH, "jobs-post.lua")
    out = {"threads": JOBS_THREADS}
    conf = os.path.join(b.run_dir, "kiva-jobs.conf")
    with open(b.kiva_conf) as f:
        lines = [l for l in f.read().splitlines() if not re.match(r"\s*jobs_threads\s*=", l)]
    with open(conf, "w") as f:
        f.write("\n".join(lines + [f"jobs_threads = {JOBS_THREADS}"]) + "\n")

    def run(kind, start):
        first = _last_id(b)
        proc = start()
        time.sleep(0.5)  # connected and listening
        r = wrk(["-s", post, f"{b.url}{prefix}/", "--", prefix, f"{kind}{int(time.time())}", token],
                connections, duration, proc.pid)
        n, secs = _wait_done(b, first)
        stop(proc, kind)
        r["jobs"], r["seconds"] = n, secs
        r["jobs_per_s"] = n / secs if secs else 0.0
        say(f"  jobs-{kind:5} {r['rps']:8.0f} enqueued/s  {r['jobs_per_s']:8.0f} jobs/s end to end "
            f"({n} jobs in {secs:.2f} s)  errors {r['errors']}")
        return r

    def drain(kind, start):
        """The run side alone: jobs queued by wrk with no runner, then drained (first start to
        last completion)."""
        first = _last_id(b)
        r = wrk(["-s", post, f"{b.url}{prefix}/", "--", prefix, f"{kind}d{int(time.time())}", token],
                connections, DRAIN_FILL)
        proc = start()
        n, secs = _wait_done(b, first, since="started_at")
        stop(proc, kind)
        d = {"jobs": n, "seconds": secs, "jobs_per_s": n / secs if secs else 0.0, "enqueue_errors": r["errors"],
             "enqueue_command": r["command"]}
        say(f"  drain-{kind:5} {d['jobs_per_s']:8.0f} jobs/s ({n} jobs queued first, drained in {secs:.2f} s)")
        return d

    def stop(proc, kind):
        for name, p in list(b.procs.items()):  # stopped on purpose: not a failure for check_alive
            if p is proc:
                del b.procs[name]
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if kind == "loop" and proc.returncode not in (0, -15):
            raise b.failure(f"the bare jobs loop exited with {proc.returncode}:\n" + b.log_text("jobs-loop"))

    say(f"jobs: end to end, {duration} of POST /stuff/import ({connections} connections), "
        f"{JOBS_THREADS} job threads; kiva --jobs, then the bare SKIP LOCKED loop")
    runners = {"kiva": lambda: b.spawn("kiva-jobs", [kiva, "--config", conf, "--jobs"]),
               "loop": lambda: b.spawn("jobs-loop", [loop_binary, b.conninfo, str(JOBS_THREADS), "100000000", "3000"])}
    for kind in ("kiva", "loop"):
        out[kind] = run(kind, runners[kind])
        b.cleanup()
    for kind in ("kiva", "loop"):
        out[kind]["drain"] = drain(kind, runners[kind])
        b.cleanup()

    # Latency: one job at a time, kiva's worker idle and listening (NOTIFY).
    say(f"jobs: latency, {LATENCY_JOBS} jobs one at a time")
    proc = b.spawn("kiva-jobs-latency", [kiva, "--config", conf, "--jobs"])
    time.sleep(0.5)
    first = _last_id(b)
    run_tag = f"lat{int(time.time())}"
    for i in range(LATENCY_JOBS):
        status, body = b.http_json("POST", f"{prefix}/stuff/import", {"names": [f"bench-job-{run_tag}-{i}"]}, token)
        if status != 202:
            raise b.failure(f"POST {prefix}/stuff/import: {status} {body[:200]!r}")
        time.sleep(0.01)
    _wait_done(b, first)
    stop(proc, "kiva")
    lat = [float(x) for x in b.psql(
        "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM kiva_jobs "
        f"WHERE id > {first} AND name = 'import_stuff' ORDER BY 1").split()]
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
    out["latency_ms"] = {"jobs": len(lat), "p50": statistics.median(lat), "p90": q[89], "p99": q[98],
                         "max": max(lat)}
    say(f"  latency enqueue -> start: p50 {out['latency_ms']['p50']:.2f} ms, p99 {out['latency_ms']['p99']:.2f} ms")
    b.cleanup()
    return out


def checks(s, checks_out, check_of, results):
    """Verdicts: rate limiting within 3 % of scenario 1; the ETag's digest within 3 % of the
    worker's CPU per request; jobs >= 0.8x the bare loop end to end; latency p50 < 10 ms."""
    if "s1rl" in s:
        x = s["s1rl"]["rps"] / s["s1"]["rps"]
        cpu_rl, cpu_s1 = (s[k]["cpu_us_per_request"]["app"] for k in ("s1rl", "s1"))
        s["s1rl"]["app_cpu_vs_s1_pct"] = 100 * (cpu_rl / cpu_s1 - 1) if cpu_s1 else None
        check_of(s, checks_out, "s1rl", x >= 0.97, f"{(x - 1) * 100:+.1f}%, worker CPU "
                 f"{s['s1rl']['app_cpu_vs_s1_pct']:+.0f}%", "rate_limit on >=0.97x s1", ("s1rl", "s1"))
    if "s1inm" in s:
        s["s1inm"]["x_s1"] = s["s1inm"]["rps"] / s["s1"]["rps"]
    e = results.get("etag")
    if e and "s1" in s:
        app = s["s1"]["cpu_us_per_request"]["app"]
        e["worker_us_per_request"] = app
        e["share_pct"] = 100 * e["ns_per_tag"] / 1000 / app if app else None
        checks_out["etag"] = {"pass": e["share_pct"] is not None and e["share_pct"] <= 3,
                              "measured": f"{e['ns_per_tag'] / 1000:.2f} us = {e['share_pct']:.1f}% of worker",
                              "target": "digest <=3% of worker CPU", "noisy": False}
    j = results.get("jobs")
    if j:
        k, lo = j["kiva"]["jobs_per_s"], j["loop"]["jobs_per_s"]
        x = k / lo if lo else float("inf")
        checks_out["jobs"] = {"pass": x >= 0.8, "measured": f"{k:.0f} vs {lo:.0f} jobs/s = {x:.2f}x",
                              "target": ">=0.8x bare SKIP LOCKED loop", "noisy": False}
        if j["kiva"].get("drain") and j["loop"].get("drain"):
            dk, dl = j["kiva"]["drain"]["jobs_per_s"], j["loop"]["drain"]["jobs_per_s"]
            j["drain_ratio"] = dk / dl if dl else None
            checks_out["jobs-drain"] = {"pass": dl > 0 and dk >= 0.8 * dl, "measured": f"{dk:.0f} vs {dl:.0f} = "
                                        f"{dk / dl if dl else 0:.2f}x", "target": "drain >=0.8x bare loop (info)",
                                        "noisy": False}
        p50 = j["latency_ms"]["p50"]
        checks_out["jobs-latency"] = {"pass": p50 < 10, "measured": f"p50 {p50:.2f} ms, p99 {j['latency_ms']['p99']:.2f}",
                                      "target": "enqueue->start p50 <10 ms", "noisy": False}


def print_rest(s, c, results, row):
    """The rows of issues 21 and 22 under the main table."""
    print("\nREST (issue 21): scenario 1 with rate limiting, and revalidated (304); the ETag's digest")
    for k in KEYS:
        if k in s:
            v = s[k]
            row(v["label"], f"{v['rps']:.0f}", f"{v['spread_pct']:.0f}" if len(v["runs"]) > 1 else "",
                f"{v['p50_ms']:.2f}", f"{v['p99_ms']:.2f}", str(v["errors"]), "", f"{v['x_ceiling']:.3f}",
                f"{v['x_responder']:.2f}", c.get(k))
    if "s1inm" in s:
        row(f"  304 / 200 (s1)", f"{s['s1inm']['x_s1']:.2f}x")
    if "etag" in c:
        row("ETag digest (kiva::etag::of)", chk=c["etag"])
    j = results.get("jobs")
    if j:
        print(f"\njobs (issue 22): {j['threads']} threads each, POST /stuff/import by wrk; "
              "end to end = first enqueue to last completion")
        for kind, label in (("kiva", "kiva --jobs"), ("loop", "bare SKIP LOCKED loop")):
            r = j[kind]
            row(f"{label} jobs/s", f"{r['jobs_per_s']:.0f}", err=str(r["errors"]),
                chk=c.get("jobs") if kind == "kiva" else None)
            row(f"  enqueued/s (HTTP 202)", f"{r['rps']:.0f}", p50=f"{r['p50_us'] / 1000:.2f}",
                p99=f"{r['p99_us'] / 1000:.2f}")
            if r.get("drain"):
                row(f"  drain of {r['drain']['jobs']} queued", f"{r['drain']['jobs_per_s']:.0f}",
                    chk=c.get("jobs-drain") if kind == "kiva" else None)
        lat = j["latency_ms"]
        row(f"enqueue->start ({lat['jobs']} jobs)", p50=f"{lat['p50']:.2f}", p99=f"{lat['p99']:.2f}",
            chk=c.get("jobs-latency"))
