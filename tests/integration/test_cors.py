"""CORS through nginx: a preflight from an allowed origin gets 204 with the path's methods
from the route table, the allowed headers, Max-Age and Vary: Origin; a simple request gets
its origin back (never "*"); another origin gets no CORS header; OPTIONS without
Access-Control-Request-Method is still 405, an unknown path still 404."""

import unittest

from harness import ApiTest

APP = "https://app.example"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "PUT",
             "Access-Control-Request-Headers": "authorization, content-type"}


class TestCors(ApiTest):
    def test_a_preflight_from_an_allowed_origin(self):
        r = self.call("OPTIONS", "/stuff/1", 204, headers=PREFLIGHT)
        self.assertEqual(r.headers.get("access-control-allow-origin"), APP)
        self.assertEqual(r.headers.get("access-control-allow-methods"), "DELETE, GET, HEAD, PATCH, PUT")
        # The shared stack also carries tokens in cookies: credentials and the CSRF header.
        self.assertEqual(r.headers.get("access-control-allow-headers"),
                         "Authorization, Content-Type, X-Request-ID, If-Match, If-None-Match, X-Requested-With")
        self.assertEqual(r.headers.get("access-control-max-age"), "600")
        self.assertEqual(r.headers.get("vary"), "Origin")
        self.assertEqual(r.headers.get("access-control-allow-credentials"), "true")
        r = self.call("OPTIONS", "/login", 204, headers=dict(PREFLIGHT, Origin="http://localhost:3000"))
        self.assertEqual(r.headers.get("access-control-allow-origin"), "http://localhost:3000")
        self.assertEqual(r.headers.get("access-control-allow-methods"), "GET, HEAD")

    def test_a_preflight_from_another_origin_gets_no_cors_header(self):
        for origin in ("https://evil.example", "https://app.example.evil", "null", "HTTPS://APP.EXAMPLE"):
            r = self.error("OPTIONS", "/stuff/1", 403, "origin not allowed", headers=dict(PREFLIGHT, Origin=origin))
            self.assertFalse([h for h in r.headers if h.startswith("access-control-")], r.headers)
            self.assertEqual(r.headers.get("vary"), "Origin")

    def test_actual_requests_get_the_allowed_origin_only(self):
        r = self.call("GET", "/stuff", 200, headers={"Origin": APP})
        self.assertEqual(r.headers.get("access-control-allow-origin"), APP)
        self.assertIn("X-Request-ID", r.headers.get("access-control-expose-headers", ""))
        self.assertIn("Origin", r.headers.get("vary").split(", "))  # and nginx's Accept-Encoding
        r = self.call("GET", "/hello", 401, headers={"Origin": APP})  # errors too: the browser may read them
        self.assertEqual(r.headers.get("access-control-allow-origin"), APP)
        r = self.call("GET", "/stuff", 200, headers={"Origin": "https://evil.example"})
        self.assertFalse([h for h in r.headers if h.startswith("access-control-")], r.headers)
        r = self.call("GET", "/stuff", 200)
        self.assertNotIn("access-control-allow-origin", r.headers)

    def test_options_that_is_no_preflight_and_unknown_paths(self):
        r = self.error("OPTIONS", "/stuff/1", 405, "method OPTIONS not allowed", headers={"Origin": APP})
        self.assertEqual(r.headers.get("access-control-allow-origin"), APP)
        self.error("OPTIONS", "/no/such/path", 404, "not found", headers=PREFLIGHT)


if __name__ == "__main__":
    unittest.main()
