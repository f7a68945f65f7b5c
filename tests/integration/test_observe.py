"""Observability through nginx: GET /health (200, 503 while PostgreSQL is stopped or hung),
GET /metrics (Prometheus text that promtool accepts, summed over every worker process, right
after one is killed, refused to addresses that are not allowed, scraped by a real Prometheus),
request ids (the answer, the worker's access and error lines, the audit row, nginx's log),
JSON logs, slow request and slow query lines.

Besides the shared stack (one process), a second stack runs two worker processes of two
threads, with JSON logs, a monitoring address (127.0.0.3) allowed to scrape and low slow-line
thresholds: what a production worker behind nginx looks like."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import harness
from harness import ApiTest, Client, Stack, eventually, free_port

MULTI = None  # the two-process stack


def setUpModule():
    global MULTI
    MULTI = Stack(harness.STACK.build, PROCESSES="2", THREADS="2", METRICS_ALLOW="127.0.0.3",
                  KIVA_EXTRA="log_format = json\nhealth_timeout = 1s\nslow_query = 150ms\n"
                             "slow_request = 250ms\npassword_cost = 4\n").start()


def tearDownModule():
    if MULTI:
        MULTI.stop()
        MULTI.cleanup()


def get(port, path, source="127.0.0.1", headers=None):
    """One request on a new connection from a given loopback source address."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("GET", "/api" + path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def samples(text):
    """{'name{labels}': value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def scrape(port, source="127.0.0.1"):
    status, headers, body = get(port, "/metrics", source)
    assert status == 200, (status, body)
    return samples(body.decode())


def json_lines(stack):
    """The worker's JSON log lines of a stack."""
    lines = []
    for line in stack.output().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def pid_file_pid(stack):
    with open(os.path.join(stack.state, "pg", "data", "postmaster.pid")) as f:
        return int(f.readline())


class TestHealth(ApiTest):
    def test_ok_with_the_release_never_cached(self):
        r = self.call("GET", "/health", 200)
        self.assertEqual(r.json, {"status": "ok", "database": "ok", "release": "dev"})
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        self.assertEqual(self.api.request("HEAD", "/health").status, 200)

    def test_503_while_postgres_is_stopped_then_200(self):
        MULTI.pg_ctl("-m", "fast", "-w", "stop")
        try:
            status, headers, body = get(MULTI.port, "/health")
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body), {"status": "unavailable", "database": "unavailable", "release": "dev"})
            self.assertEqual(headers.get("cache-control"), "no-store")
        finally:
            MULTI.pg_ctl("-w", "start")
        self.assertTrue(eventually(lambda: get(MULTI.port, "/health")[0] == 200, timeout=10))

    def test_a_hung_database_costs_the_probe_its_timeout_only(self):
        # The postmaster stopped (SIGSTOP): connections are accepted by the kernel, never answered.
        pid = pid_file_pid(MULTI)
        os.kill(pid, signal.SIGSTOP)
        try:
            start = time.time()
            status, _, body = get(MULTI.port, "/health")
            took = time.time() - start
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual((status, json.loads(body)["database"]), (503, "unavailable"))
        self.assertLess(took, 3.0)   # health_timeout = 1s
        self.assertGreater(took, 0.9)
        self.assertTrue(eventually(lambda: get(MULTI.port, "/health")[0] == 200, timeout=10))


class TestMetrics(unittest.TestCase):
    ROUTE = 'kiva_http_requests_total{route="/stuff/<sid:int>",method="GET",status="200"}'

    def served_by(self):
        """pid -> number of /stuff/<sid:int> access lines, from the JSON log."""
        counts = {}
        for line in json_lines(MULTI):
            if line.get("route") == "/stuff/<sid:int>" and line.get("method") == "GET":
                counts[line["pid"]] = counts.get(line["pid"], 0) + 1
        return counts

    def children(self):
        supervisor = [line["pid"] for line in json_lines(MULTI) if "supervising" in line.get("message", "")][0]
        out = subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True, text=True)
        return sorted(int(p) for p in out.stdout.split())

    def test_a_scrape_sums_every_worker_process(self):
        HISTOGRAM = 'kiva_http_request_duration_seconds_count{route="/stuff/<sid:int>",method="GET"}'
        first = scrape(MULTI.port)
        before, before_count = first.get(self.ROUTE, 0), first.get(HISTOGRAM, 0)
        for _ in range(60):
            self.assertEqual(get(MULTI.port, "/stuff/1")[0], 200)
        # both processes served some of them (nginx opens a connection per request)
        self.assertTrue(eventually(lambda: sum(self.served_by().values()) >= before_count + 60))
        self.assertEqual(len(self.served_by()), 2, self.served_by())
        # whichever process answers the scrape, it counts the other's requests too
        for _ in range(10):
            m = scrape(MULTI.port)
            self.assertEqual(m[self.ROUTE] - before, 60)
            self.assertEqual(m["kiva_worker_processes"], 2)
            self.assertEqual(m['kiva_build_info{release="dev"}'], 1)
            self.assertGreaterEqual(m["kiva_threads_busy"], 1)  # the scrape itself
        self.assertEqual(m[HISTOGRAM] - before_count, 60)
        self.assertGreater(m['kiva_db_query_duration_seconds_count{query="get_stuff_sid"}'], 0)

    def test_totals_stay_right_after_killing_a_child(self):
        before = scrape(MULTI.port)
        lost = before.get("kiva_worker_lost_total", 0)
        for _ in range(20):
            get(MULTI.port, "/stuff/1")
        first = self.children()
        self.assertEqual(len(first), 2)
        os.kill(first[0], signal.SIGKILL)
        self.assertTrue(eventually(lambda: len(self.children()) == 2 and first[0] not in self.children(), 10))
        for _ in range(30):
            self.assertEqual(get(MULTI.port, "/stuff/1")[0], 200)
        for _ in range(6):
            m = scrape(MULTI.port)
            self.assertEqual(m[self.ROUTE] - before.get(self.ROUTE, 0), 50)
            self.assertEqual(m["kiva_worker_processes"], 2)
        self.assertEqual(m["kiva_worker_lost_total"], lost + 1)
        self.assertGreater(m["kiva_process_start_time_seconds"], before["kiva_process_start_time_seconds"] - 1)

    def test_promtool_accepts_the_exposition(self):
        get(MULTI.port, "/nope/x")
        get(MULTI.port, "/hello", headers={"Authorization": "Basic bm9ib2R5Om5vcGU="})
        status, headers, body = get(MULTI.port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(headers.get("cache-control"), "no-store")
        text = body.decode()
        self.assertIn('route="unmatched"', text)
        self.assertNotIn("/nope/x", text)  # never a raw path
        self.assertIn('kiva_auth_failures_total{scheme="basic",reason="unknown_user"}', text)
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, b""))

    def test_refused_from_an_address_not_allowed(self):
        status, headers, body = get(MULTI.port, "/metrics", source="127.0.0.2")
        self.assertEqual((status, json.loads(body)), (403, {"error": "forbidden"}))
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEqual(get(MULTI.port, "/metrics", source="127.0.0.3")[0], 200)  # the monitoring network
        self.assertEqual(get(MULTI.port, "/health", source="127.0.0.2")[0], 200)   # health is open
        # the shared stack, as `make run` renders it: loopback (127.0.0.1) only
        self.assertEqual(get(harness.STACK.port, "/metrics")[0], 200)
        self.assertEqual(get(harness.STACK.port, "/metrics", source="127.0.0.3")[0], 403)


class TestPrometheus(unittest.TestCase):
    """A real Prometheus server scrapes the workers through nginx; PromQL counts our requests."""

    def test_prometheus_counts_the_requests_sent(self):
        port = free_port()
        data = tempfile.mkdtemp(prefix="kiva-prom-")
        conf = os.path.join(data, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: kiva
    metrics_path: /api/metrics
    static_configs:
      - targets: ["127.0.0.1:{MULTI.port}"]
""")
        log = open(os.path.join(data, "prometheus.log"), "w")
        prom = subprocess.Popen(["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={data}/tsdb",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
        try:
            sent = 37
            for _ in range(sent):
                self.assertEqual(get(MULTI.port, "/cmp/add?i=1&j=2")[0], 401)
            query = 'sum(kiva_http_requests_total{job="kiva",route="/cmp/add",method="GET",status="401"})'

            def value():
                try:
                    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
                    with urllib.request.urlopen(url, timeout=5) as r:
                        result = json.load(r)["data"]["result"]
                    return int(float(result[0]["value"][1])) if result else None
                except OSError:
                    return None
            self.assertTrue(eventually(lambda: value() == sent, timeout=30),
                            f"Prometheus says {value()}, sent {sent}")
        finally:
            prom.terminate()
            prom.wait(30)
            log.close()
            shutil.rmtree(data, ignore_errors=True)


class TestRequestIds(ApiTest):
    def test_client_id_in_the_answer_the_log_line_and_the_audit_row(self):
        rid = "it-" + uuid.uuid4().hex
        name = "rid-" + uuid.uuid4().hex[:12]
        before = len(harness.STACK.log_lines(f"rid={rid} "))
        r = self.call("POST", "/stuff", 201, data={"stuff": name}, headers={"X-Request-ID": rid})
        self.assertEqual(r.headers["x-request-id"], rid)
        line = harness.STACK.next_log_line(f"rid={rid} ", before)
        self.assertRegex(line, rf" INFO rid={rid} - POST /stuff 201 \d+\.\d{{3}}ms$")
        rows = harness.STACK.psql(f"SELECT request_id FROM Audit WHERE tab = 'stuff' AND data->>'stuff' = '{name}'")
        self.assertEqual(rows, rid)

    def test_the_5xx_error_line_carries_it(self):
        harness.STACK.psql("""
            CREATE OR REPLACE FUNCTION it_boom() RETURNS TRIGGER LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.stuff LIKE 'boom-%' THEN RAISE EXCEPTION 'boom' USING ERRCODE = 'XX000'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER it_boom BEFORE INSERT ON Stuff FOR EACH ROW EXECUTE FUNCTION it_boom();""")
        try:
            rid = "it5xx-" + uuid.uuid4().hex
            r = self.error("POST", "/stuff", 500, "internal error", data={"stuff": "boom-" + rid},
                           headers={"X-Request-ID": rid})
            self.assertEqual(r.headers["x-request-id"], rid)
        finally:
            harness.STACK.psql("DROP TRIGGER it_boom ON Stuff; DROP FUNCTION it_boom()")
        self.assertTrue(eventually(lambda: harness.STACK.log_lines(f" ERROR rid={rid} POST /stuff: ")),
                        harness.STACK.worker_log()[-5:])
        self.assertTrue(eventually(lambda: harness.STACK.log_lines(f"rid={rid} - POST /stuff 500 ")))

    def test_nginx_id_when_the_client_sends_none_or_an_unsafe_one(self):
        for sent in (None, "bad id\twith spaces", "x" * 65):
            r = self.api.request("GET", "/stuff/1", headers={"X-Request-ID": sent} if sent else {})
            rid = r.headers["x-request-id"]
            self.assertRegex(rid, r"^[0-9a-f]{32}$")  # nginx's $request_id
            self.assertTrue(eventually(lambda: harness.STACK.log_lines(f"rid={rid} - GET /stuff/1 200 ")))
            access = os.path.join(harness.STACK.state, "log", "nginx-access.log")
            self.assertTrue(eventually(lambda: rid in open(access).read()), "not in nginx's access log")


class TestLogs(unittest.TestCase):
    def test_json_lines_with_every_field_and_no_query_string(self):
        secret = "s3cr3t-" + uuid.uuid4().hex
        rid = "json-" + uuid.uuid4().hex
        status, headers, body = get(MULTI.port, f"/stuff/1?filter={secret}", headers={"X-Request-ID": rid})
        self.assertEqual(status, 400, (body, MULTI.output()[-4000:]))  # filter is not a parameter of it
        found = eventually(lambda: [x for x in json_lines(MULTI) if x.get("request_id") == rid])
        self.assertTrue(found)
        line = found[0]
        self.assertEqual(set(line), {"time", "level", "app", "pid", "request_id", "login", "method", "route",
                                     "path", "status", "duration_ms"})
        self.assertEqual((line["level"], line["login"], line["method"], line["route"], line["path"], line["status"]),
                         ("INFO", None, "GET", "/stuff/<sid:int>", "/stuff/1", 400))
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertNotIn(secret, MULTI.output())
        # every line the workers wrote is one JSON object
        for raw in MULTI.output().splitlines():
            if '"app":"kiva"' in raw:
                json.loads(raw)

    def test_slow_query_and_slow_request_lines_name_them(self):
        MULTI.psql("""
            CREATE OR REPLACE FUNCTION it_slow() RETURNS TRIGGER LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.stuff LIKE 'slow-%' THEN PERFORM pg_sleep(0.3); END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER it_slow BEFORE INSERT ON Stuff FOR EACH ROW EXECUTE FUNCTION it_slow();""")
        try:
            rid = "slow-" + uuid.uuid4().hex[:20]
            c = Client(MULTI.port)
            r = c.request("POST", "/stuff", data={"stuff": rid}, headers={"X-Request-ID": rid})
            c.close()
            self.assertEqual(r.status, 201)
        finally:
            MULTI.psql("DROP TRIGGER it_slow ON Stuff; DROP FUNCTION it_slow()")
        mine = lambda: [x for x in json_lines(MULTI) if x.get("request_id") == rid and x["level"] == "WARNING"]
        self.assertTrue(eventually(lambda: len(mine()) == 2), mine())
        messages = sorted(x["message"] for x in mine())
        self.assertRegex(messages[0], r"^slow query add_stuff \d+\.\d{3}ms$")
        self.assertRegex(messages[1], r"^slow request POST /stuff 201 \d+\.\d{3}ms$")


if __name__ == "__main__":
    unittest.main()
