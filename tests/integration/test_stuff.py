"""The Stuff API: every route x method x outcome, through nginx, against PostgreSQL."""

import uuid

from harness import ApiTest


def unique(prefix="thing"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class TestStuff(ApiTest):
    def create(self, name):
        r = self.call("POST", "/stuff", 201, data={"stuff": name})
        self.assertEqual(set(r.json), {"sid"})
        self.assertIsInstance(r.json["sid"], int)
        return r.json["sid"]

    def test_version(self):
        r = self.call("GET", "/version", 200)
        self.assertEqual(r.json["app"], "kiva")
        self.assertIsNone(r.json["user"])
        self.assertRegex(r.json["now"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")

    def test_list_is_ordered_rows_with_sid_and_stuff(self):
        self.create(unique())
        rows = self.call("GET", "/stuff", 200).json
        self.assertIsInstance(rows, list)
        self.assertEqual([r["sid"] for r in rows], sorted(r["sid"] for r in rows))
        for row in rows:
            self.assertEqual(set(row), {"sid", "stuff"})
        names = [r["stuff"] for r in rows]
        self.assertIn("Chair", names)

    def test_filter_like_pattern_in_query_string_form_body_and_json(self):
        name = unique("Filtered")
        sid = self.create(name)
        expected = [{"sid": sid, "stuff": name}]
        # curl -X GET -d filter=... : a form body on GET
        self.assertEqual(self.call("GET", "/stuff", 200, data=f"filter={name[:-3]}%").json, expected)
        self.assertEqual(self.call("GET", f"/stuff?filter={name[:-3]}%25", 200).json, expected)
        self.assertEqual(self.call("GET", "/stuff", 200, json_body={"filter": name}).json, expected)
        self.assertEqual(self.call("GET", "/stuff", 200, data="filter=No-such-thing-at-all%").json, [])

    def test_filter_lenient_percent_decoding(self):
        # filter=C% (a bare %, not an escape) means "C%": everything starting with C.
        rows = self.call("GET", "/stuff", 200, data="filter=C%").json
        self.assertTrue(rows)
        self.assertTrue(all(r["stuff"].startswith("C") for r in rows))
        self.assertIn("Chair", [r["stuff"] for r in rows])

    def test_empty_filter_means_no_filter(self):
        self.assertEqual(self.call("GET", "/stuff", 200, data="filter=").json,
                         self.call("GET", "/stuff", 200).json)

    def test_create_read_update_delete(self):
        name = unique()
        sid = self.create(name)
        self.assertEqual(self.call("GET", f"/stuff/{sid}", 200).json, {"sid": sid, "stuff": name})
        renamed = unique("renamed")
        self.call("PUT", f"/stuff/{sid}", 204, data={"stuff": renamed})
        self.assertEqual(self.call("GET", f"/stuff/{sid}", 200).json["stuff"], renamed)
        patched = unique("patched")
        self.call("PATCH", f"/stuff/{sid}", 204, json_body={"stuff": patched})
        self.assertEqual(self.call("GET", f"/stuff/{sid}", 200).json["stuff"], patched)
        self.call("DELETE", f"/stuff/{sid}", 204)
        self.call("GET", f"/stuff/{sid}", 404)
        self.call("DELETE", f"/stuff/{sid}", 404)

    def test_create_conflict_is_409_and_changes_nothing(self):
        name = unique()
        self.create(name)
        before = self.call("GET", "/stuff", 200).json
        r = self.call("POST", "/stuff", 409, data={"stuff": name})
        self.assertIn("already exists", r.json["error"])
        self.assertEqual(self.call("GET", "/stuff", 200).json, before)

    def test_create_missing_parameter_is_400(self):
        self.error("POST", "/stuff", 400, 'parameter "stuff" is missing')
        self.error("POST", "/stuff", 400, 'parameter "stuff" is missing', json_body={})

    def test_create_with_json_body(self):
        name = unique("json")
        r = self.call("POST", "/stuff", 201, json_body={"stuff": name})
        self.assertEqual(self.call("GET", f"/stuff/{r.json['sid']}", 200).json["stuff"], name)

    def test_create_wrong_json_type_is_400(self):
        self.error("POST", "/stuff", 400, 'parameter "stuff" must be a string', json_body={"stuff": 42})

    def test_read_missing_is_404(self):
        r = self.call("GET", "/stuff/987654321", 404)
        self.assertIn("987654321", r.json["error"])

    def test_bad_or_out_of_range_id_is_404(self):
        for bad in ("abc", "1.5", "99999999999999999999", "-", "1a", "%20"):
            for method in ("GET", "PUT", "PATCH", "DELETE"):
                self.call(method, f"/stuff/{bad}", 404, data={"stuff": "x"} if method in ("PUT", "PATCH") else None)

    def test_update_missing_is_404(self):
        self.call("PUT", "/stuff/987654321", 404, data={"stuff": unique()})
        self.call("PATCH", "/stuff/987654321", 404, data={"stuff": unique()})

    def test_update_missing_parameter_is_400(self):
        sid = self.create(unique())
        self.error("PUT", f"/stuff/{sid}", 400, 'parameter "stuff" is missing')
        self.error("PATCH", f"/stuff/{sid}", 400, 'parameter "stuff" is missing')

    def test_update_conflict_is_409_and_rolled_back(self):
        a, b = unique("a"), unique("b")
        sid_a = self.create(a)
        self.create(b)
        self.call("PUT", f"/stuff/{sid_a}", 409, data={"stuff": b})
        self.call("PATCH", f"/stuff/{sid_a}", 409, data={"stuff": b})
        self.assertEqual(self.call("GET", f"/stuff/{sid_a}", 200).json["stuff"], a)

    def test_sql_injection_strings_are_plain_data(self):
        for name in ["Robert'); DROP TABLE Stuff;--", "' OR '1'='1", "\"; DELETE FROM Stuff; --",
                     "$1 :stuff %s ?", "Ünïcødé ✓ 😀"]:
            name = name + " " + unique()
            sid = self.create(name)
            self.assertEqual(self.call("GET", f"/stuff/{sid}", 200).json["stuff"], name)
            rows = self.call("GET", "/stuff", 200, json_body={"filter": name}).json
            self.assertEqual(rows, [{"sid": sid, "stuff": name}])
        self.assertIn("Chair", [r["stuff"] for r in self.call("GET", "/stuff", 200).json])

    def test_stats_counts_the_stuff(self):
        import harness
        before = self.call("GET", "/stats", 200).json
        self.assertEqual(set(before), {"stuff"})
        self.assertEqual(before["stuff"], int(harness.STACK.psql("SELECT count(*) FROM Stuff")))
        self.create(unique("counted"))
        self.assertEqual(self.call("GET", "/stats", 200).json, {"stuff": before["stuff"] + 1})
        r = self.call("POST", "/stats", 405)
        self.assertEqual(r.headers["allow"], "GET, HEAD")

    def test_methods_not_allowed_are_405_with_allow(self):
        r = self.call("DELETE", "/stuff", 405)
        self.assertEqual(r.headers["allow"], "GET, HEAD, POST")
        r = self.call("POST", "/stuff/1", 405, data={"stuff": "x"})
        self.assertEqual(r.headers["allow"], "DELETE, GET, HEAD, PATCH, PUT")
        r = self.call("PUT", "/version", 405)
        self.assertEqual(r.headers["allow"], "GET, HEAD")

    def test_unknown_paths_are_404(self):
        for path in ("/nothing", "/stuff/1/more", "/stuff/", "/Stuff", "/"):
            self.call("GET", path, 404)

    def test_head_is_get_without_body(self):
        r = self.api.request("HEAD", "/stuff")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
