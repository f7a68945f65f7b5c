"""HTTP caching, conditional writes and keyset pages, through nginx against PostgreSQL (issue 21,
items 1, 2, 4 and 6's reason phrases): ETag + 304, Cache-Control and Vary, If-Match -> 412 on
PUT/PATCH/DELETE /stuff/<sid>, GET /stuff?limit=N with Link rel=next, and gzip of large JSON."""

import gzip
import http.client
import re
import uuid

import harness
from harness import ApiTest


def unique(prefix="cache"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class TestConditionalGet(ApiTest):
    def create(self, name):
        return self.call("POST", "/stuff", 201, data={"stuff": name}).json["sid"]

    def test_get_carries_a_strong_etag_and_if_none_match_answers_304(self):
        sid = self.create(unique())
        r = self.call("GET", f"/stuff/{sid}", 200)
        tag = r.headers["etag"]
        self.assertRegex(tag, r'^"[0-9a-f]{32}"$')
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertEqual(self.call("GET", f"/stuff/{sid}", 200).headers["etag"], tag)  # stable
        for condition in (tag, f'"other", {tag}', "W/" + tag, "*"):
            r = self.api.request("GET", f"/stuff/{sid}", headers={"If-None-Match": condition})
            self.assertEqual((r.status, r.body, r.headers.get("etag")), (304, b"", tag), condition)
            self.assertEqual(r.headers.get("cache-control"), "no-cache")
        r = self.api.request("HEAD", f"/stuff/{sid}", headers={"If-None-Match": tag})
        self.assertEqual((r.status, r.headers.get("etag")), (304, tag))
        r = self.call("GET", f"/stuff/{sid}", 200, headers={"If-None-Match": '"other"'})
        self.assertEqual(r.headers["etag"], tag)
        # A change gives another tag: the old one no longer matches.
        self.call("PUT", f"/stuff/{sid}", 204, data={"stuff": unique()})
        r = self.call("GET", f"/stuff/{sid}", 200, headers={"If-None-Match": tag})
        self.assertNotEqual(r.headers["etag"], tag)

    def test_malformed_if_none_match_is_a_400(self):
        sid = self.create(unique())
        r = self.error("GET", f"/stuff/{sid}", 400, headers={"If-None-Match": "unquoted"})
        self.assertIn("If-None-Match", r.json["error"])

    def test_errors_and_writes_carry_no_etag(self):
        r = self.error("GET", "/stuff/999999999", 404)
        self.assertNotIn("etag", r.headers)
        r = self.call("POST", "/stuff", 201, data={"stuff": unique()})
        self.assertNotIn("etag", r.headers)

    def test_authenticated_answers_are_private_and_vary_on_credentials(self):
        r = self.call("GET", "/whoami", 200, auth=("calvin", "hobbes"))
        self.assertEqual(r.headers["cache-control"], "private, no-cache")
        # This stack accepts tokens in a cookie too (token_carrier = bearer, cookie).
        vary = r.headers["vary"].split(", ")
        self.assertIn("Authorization", vary)
        self.assertIn("Cookie", vary)
        self.assertIn("Origin", vary)  # this stack has CORS on
        self.assertIn("etag", r.headers)

    def test_health_and_metrics_keep_no_store(self):
        r = self.api.request("GET", "/health")
        self.assertEqual(r.headers.get("cache-control"), "no-store")

    def test_large_json_is_gzipped_by_nginx(self):
        r = self.api.request("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("content-encoding"), "gzip")
        self.assertIn("openapi", gzip.decompress(r.body).decode())
        # nginx weakens the tag of what it compressed; If-None-Match compares weakly: still 304.
        tag = r.headers["etag"]
        self.assertTrue(tag.startswith('W/"'), tag)
        r = self.api.request("GET", "/openapi.json", headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
        self.assertEqual(r.status, 304)
        # A small answer is sent as is (gzip_min_length), with its strong tag.
        r = self.api.request("GET", "/version", headers={"Accept-Encoding": "gzip"})
        self.assertNotIn("content-encoding", r.headers)


class TestConditionalWrites(ApiTest):
    def create(self, name):
        return self.call("POST", "/stuff", 201, data={"stuff": name}).json["sid"]

    def current(self, sid):
        r = self.call("GET", f"/stuff/{sid}", 200)
        return r.headers["etag"], r.json["stuff"]

    def test_put_and_patch_with_a_stale_tag_are_412_and_change_nothing(self):
        for method in ("PUT", "PATCH"):
            sid = self.create(unique())
            tag, name = self.current(sid)
            self.call(method, f"/stuff/{sid}", 204, data={"stuff": unique()})  # someone else's write
            changed_tag, changed = self.current(sid)
            mine = unique("mine")
            r = self.error(method, f"/stuff/{sid}", 412, data={"stuff": mine}, headers={"If-Match": tag})
            self.assertIn("changed", r.json["error"])
            self.assertEqual(r.headers.get("etag"), changed_tag)
            self.assertEqual(self.current(sid), (changed_tag, changed))
            # With the current tag (in a list, too) the write goes through.
            self.call(method, f"/stuff/{sid}", 204, data={"stuff": mine},
                      headers={"If-Match": f'"nope", {changed_tag}'})
            self.assertEqual(self.current(sid)[1], mine)

    def test_a_weak_tag_never_matches_if_match(self):
        sid = self.create(unique())
        tag, name = self.current(sid)
        self.error("PUT", f"/stuff/{sid}", 412, data={"stuff": unique("x")}, headers={"If-Match": "W/" + tag})
        self.assertEqual(self.current(sid)[1], name)

    def test_delete_with_if_match(self):
        sid = self.create(unique())
        tag, name = self.current(sid)
        self.error("DELETE", f"/stuff/{sid}", 412, headers={"If-Match": '"0000"'})
        self.assertEqual(self.current(sid)[1], name)  # still there
        self.call("DELETE", f"/stuff/{sid}", 204, headers={"If-Match": tag})
        self.error("GET", f"/stuff/{sid}", 404)

    def test_if_match_star(self):
        sid = self.create(unique())
        starred = unique("starred")
        self.call("PUT", f"/stuff/{sid}", 204, data={"stuff": starred}, headers={"If-Match": "*"})
        self.assertEqual(self.current(sid)[1], starred)
        self.call("DELETE", f"/stuff/{sid}", 204)
        # No current representation: * fails, as a tag does; without the header, the course's 404.
        r = self.error("PUT", f"/stuff/{sid}", 412, data={"stuff": unique("x")}, headers={"If-Match": "*"})
        self.assertIn("no such", r.json["error"])
        self.error("DELETE", f"/stuff/{sid}", 412, headers={"If-Match": '"abc"'})
        self.error("PUT", f"/stuff/{sid}", 404, data={"stuff": unique("x")})

    def test_malformed_if_match_is_a_400_and_changes_nothing(self):
        sid = self.create(unique())
        tag, name = self.current(sid)
        r = self.error("PUT", f"/stuff/{sid}", 400, data={"stuff": unique("x")}, headers={"If-Match": "abc"})
        self.assertIn("If-Match", r.json["error"])
        self.assertEqual(self.current(sid), (tag, name))

    def test_reason_phrases_reach_the_client(self):
        sid = self.create(unique())
        conn = http.client.HTTPConnection("127.0.0.1", harness.STACK.port, timeout=30)
        try:
            conn.request("DELETE", f"{harness.PREFIX}/stuff/{sid}", headers={"If-Match": '"x"'})
            r = conn.getresponse()
            r.read()
            self.assertEqual((r.status, r.reason), (412, "Precondition Failed"))
            conn.request("GET", f"{harness.PREFIX}/stuff/{sid}", headers={"If-None-Match": "*"})
            r = conn.getresponse()
            r.read()
            self.assertEqual((r.status, r.reason), (304, "Not Modified"))
        finally:
            conn.close()


class TestPages(ApiTest):
    def create(self, name):
        return self.call("POST", "/stuff", 201, data={"stuff": name}).json["sid"]

    def walk(self, first, between=None, **first_kwargs):
        """Follows the Link headers from first; returns the rows seen and the number of pages."""
        rows, pages, path = [], 0, first
        while path:
            r = self.call("GET", path, 200, **(first_kwargs if pages == 0 else {}))
            self.assertIn("etag", r.headers)
            rows += r.json
            pages += 1
            link = r.headers.get("link")
            path = None
            if link:
                m = re.fullmatch(r'<([^>]*)>; rel="next"', link)
                self.assertIsNotNone(m, link)
                self.assertTrue(m.group(1).startswith(harness.PREFIX + "/stuff?"), link)
                path = m.group(1)[len(harness.PREFIX):]
            if between:
                between(pages)
            self.assertLess(pages, 50)
        return rows, pages

    def test_a_walk_visits_every_row_once_while_rows_are_inserted(self):
        prefix = unique("page")
        sids = [self.create(f"{prefix}-{i}") for i in range(7)]
        added = []

        def insert(page):
            if page <= 2:  # rows inserted during the walk: after the cursor, so they are seen
                added.append(self.create(f"{prefix}-late-{page}"))

        rows, pages = self.walk(f"/stuff?filter={prefix}%25&limit=3", insert)
        seen = [r["sid"] for r in rows]
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)), "a row was visited twice")
        self.assertEqual(seen, sorted(sids + added))
        self.assertEqual(pages, 3)  # 9 rows, 3 a page: the last page is full and has no Link

    def test_a_walk_started_with_a_form_body_keeps_its_parameters(self):
        # curl -X GET -d 'filter=...&limit=2': the Link carries them in its query string.
        prefix = unique("form")
        sids = [self.create(f"{prefix}-{i}") for i in range(5)]
        rows, pages = self.walk("/stuff", data=f"filter={prefix}%25&limit=2")
        self.assertEqual([r["sid"] for r in rows], sids)
        self.assertEqual(pages, 3)

    def test_pages_without_filter_and_the_course_answer_without_limit(self):
        everything = self.call("GET", "/stuff", 200)
        self.assertNotIn("link", everything.headers)
        rows, pages = self.walk("/stuff?limit=500")
        self.assertEqual([r["sid"] for r in rows][:len(everything.json)], [r["sid"] for r in everything.json])
        r = self.call("GET", "/stuff?limit=1", 200)
        self.assertEqual(len(r.json), 1)
        self.assertIn('rel="next"', r.headers["link"])

    def test_bad_limits_and_cursors_are_400s(self):
        r = self.error("GET", "/stuff?limit=1001", 400)
        self.assertIn("page_limit_max", r.json["error"])
        self.assertIn("1000", r.json["error"])
        self.error("GET", "/stuff?limit=0", 400)
        self.error("GET", "/stuff?limit=abc", 400)
        link = self.call("GET", "/stuff?limit=1", 200).headers["link"]
        cursor = re.search(r"cursor=([^&>]*)", link).group(1)
        tampered = cursor[:5] + ("0" if cursor[5] != "0" else "1") + cursor[6:]
        r = self.error("GET", f"/stuff?limit=1&cursor={tampered}", 400)
        self.assertIn("cursor", r.json["error"])
        self.error("GET", f"/stuff?limit=1&cursor={cursor[:-1]}", 400)
        self.error("GET", f"/stuff?cursor={cursor}", 400)  # a cursor needs its limit
        self.error("GET", "/stuff?limit=2&ids=1", 400)
