"""Rate limits through nginx, on a stack of its own: two worker processes, a redis-server of
the test's own, and `KIVA_RATE_LIMIT=5/1h` in the worker's environment (every key is an
environment variable too).

Each case counts from a client address of its own (new connections, so both processes
answer): the RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10)
count down, the request over the limit is a 429 JSON with Retry-After; the count is Redis's,
shared by both processes (and so by every host); an authenticated client is counted by its
login whatever its address; /health and /metrics are exempt; the refusals are counted per
route in /metrics. Last, Redis killed: every request is still answered (no 5xx), each host
counts alone in memory shared by its processes, and one log line says so."""

import json
import unittest
import uuid
from urllib.parse import urlencode

import harness
from harness import Stack, Redis
from authkit import fresh_request, pids_of

STACK = None
REDIS = None
LIMIT = 5
SOURCES = iter(f"127.0.4.{n}" for n in range(1, 250))


def setUpModule():
    global STACK, REDIS
    REDIS = Redis().start()
    STACK = Stack(harness.STACK.build, PROCESSES="2", THREADS="2", KIVA_RATE_LIMIT=f"{LIMIT}/1h",
                  KIVA_EXTRA=f"log_format = json\npassword_cost = 4\ncache = {REDIS.url}\n"
                             "cache_timeout = 200ms\n").start()


def tearDownModule():
    if STACK:
        STACK.stop()
        STACK.cleanup()
    if REDIS:
        REDIS.cleanup()


def request(method, path, source, **kwargs):
    return fresh_request(STACK, method, path, source=source, **kwargs)


def field(headers, name):
    """{"r": 4, "t": 3600} of `"default";r=4;t=3600`."""
    value = headers[name.lower()]
    name, *params = value.split(";")
    assert name == '"default"', value
    return {k: int(v) for k, v in (p.split("=") for p in params)}


def metric(line_start):
    status, _, body, _ = request("GET", "/metrics", "127.0.0.1")
    assert status == 200
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines()
               if l.startswith(line_start))


class RateLimitTest(unittest.TestCase):
    def exhaust(self, path="/stuff", sources=None, **kwargs):
        """LIMIT answers then a 429, from `sources` in turn; once more if a window ended
        meanwhile (an hour's window: seen when t grows). The replies and request ids."""
        for attempt in range(2):
            sources_ = sources or [next(SOURCES)]
            replies = [request("GET", path, sources_[i % len(sources_)], **kwargs)
                       for i in range(LIMIT + 1)]
            resets = [field(h, "RateLimit")["t"] for _, h, _, _ in replies]
            if resets == sorted(resets, reverse=True):
                return replies
        self.fail("two windows ended during the test")

    def check_counted_down(self, replies):
        for i, (status, headers, body, _) in enumerate(replies[:LIMIT]):
            self.assertEqual(status, 200, body)
            self.assertEqual(field(headers, "RateLimit-Policy"), {"q": LIMIT, "w": 3600})
            self.assertEqual(field(headers, "RateLimit")["r"], LIMIT - 1 - i)
        status, headers, body, _ = replies[LIMIT]
        self.assertEqual(status, 429, body)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertIn("too many requests", json.loads(body)["error"])
        rest = field(headers, "RateLimit")
        self.assertEqual(rest["r"], 0)
        self.assertEqual(int(headers["retry-after"]), rest["t"])
        self.assertTrue(1 <= rest["t"] <= 3600)

    def test_a_client_gets_its_limit_then_429_counted_in_redis_by_both_processes(self):
        before = metric('kiva_rate_limited_total{route="/stuff",counted_by="cluster"}')
        replies = self.exhaust()
        self.check_counted_down(replies)
        pids = pids_of(STACK, [r[3] for r in replies])
        self.assertEqual(len(pids), 2, "both processes answered")
        self.assertTrue(REDIS.keys("kiva:kiva:rate:*"))
        self.assertEqual(metric('kiva_rate_limited_total{route="/stuff",counted_by="cluster"}'),
                         before + 1)

    def test_another_route_and_another_client_have_their_own_count(self):
        source = next(SOURCES)
        self.check_counted_down(self.exhaust(sources=[source]))
        self.assertEqual(request("GET", "/stats", source)[0], 200)
        self.assertEqual(request("GET", "/stuff", next(SOURCES))[0], 200)

    def test_a_login_is_counted_whatever_its_address(self):
        login, password = "rl-" + uuid.uuid4().hex[:8], "pw-" + uuid.uuid4().hex[:10]
        status, _, body, _ = request("POST", "/register", next(SOURCES),
                                     body=urlencode({"login": login, "pword": password}))
        self.assertEqual(status, 201, body)
        self.check_counted_down(self.exhaust("/whoami", sources=[next(SOURCES) for _ in range(3)],
                                             auth=(login, password)))

    def test_health_and_metrics_are_exempt(self):
        source = "127.0.0.1"
        for _ in range(LIMIT + 2):
            for path in ("/health", "/metrics"):
                status, headers, _, _ = request("GET", path, source)
                self.assertEqual(status, 200)
                self.assertNotIn("ratelimit", headers)

    def test_zz_redis_down_each_host_counts_alone(self):
        REDIS.kill()
        replies = self.exhaust()
        self.check_counted_down(replies)
        self.assertTrue(all(r[0] < 500 for r in replies))
        self.assertTrue(harness.eventually(
            lambda: "this host counts alone" in STACK.output()))
        self.assertGreaterEqual(
            metric('kiva_rate_limited_total{route="/stuff",counted_by="host"}'), 1)


if __name__ == "__main__":
    unittest.main()
