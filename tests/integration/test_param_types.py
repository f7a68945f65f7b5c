"""List parameters (repeated fields, JSON arrays, `= ANY(:ids)` in SQL) and the date,
datetime and uuid types, through nginx."""

import uuid

from harness import ApiTest

U = "123E4567-E89B-12D3-A456-426614174000"


class TestListParameters(ApiTest):
    def make(self, name):
        return self.call("POST", "/stuff", 201, data={"stuff": name}).json["sid"]

    def test_ids_from_repeated_query_fields_select_with_any(self):
        tag = uuid.uuid4().hex[:8]
        a, b, c = (self.make(f"list-{tag}-{i}") for i in range(3))
        rows = self.call("GET", f"/stuff?ids={c}&ids={a}&ids=999999999", 200).json
        self.assertEqual(rows, [{"sid": a, "stuff": f"list-{tag}-0"}, {"sid": c, "stuff": f"list-{tag}-2"}])
        # one value is a list of one; a form body on GET works alike
        self.assertEqual(self.call("GET", f"/stuff?ids={b}", 200).json, [{"sid": b, "stuff": f"list-{tag}-1"}])
        self.assertEqual(len(self.call("GET", "/stuff", 200, data=f"ids={a}&ids={b}").json), 2)

    def test_ids_from_a_json_array(self):
        tag = uuid.uuid4().hex[:8]
        a, b = self.make(f"json-{tag}-a"), self.make(f"json-{tag}-b")
        rows = self.call("GET", "/stuff", 200, json_body={"ids": [b, a]}).json
        self.assertEqual([r["sid"] for r in rows], sorted([a, b]))
        self.assertEqual(self.call("GET", "/stuff", 200, json_body={"ids": []}).json, [])

    def test_a_bad_item_is_a_400_naming_the_parameter(self):
        self.error("GET", "/stuff?ids=1&ids=two", 400, 'parameter "ids" must be an integer')
        self.error("GET", "/stuff", 400, 'parameter "ids" must be an integer', json_body={"ids": [1, "2"]})
        self.error("GET", "/stuff?ids=1&filter=x", 400, "send filter or ids, not both")


class TestDateTimeUuid(ApiTest):
    def test_uuid_segment_date_datetime_and_list(self):
        r = self.call("GET", f"/cmp/echo/{U}?day=2024-02-29&at=2024-02-29T10:11:12Z&n=3&n=-1", 200).json
        self.assertEqual(r, {"id": U.lower(), "day": "2024-02-29", "at": "2024-02-29T10:11:12Z", "n": [3, -1]})
        r = self.call("GET", f"/cmp/echo/{U}", 200, json_body={"day": "2000-01-01", "n": [1, 2]}).json
        self.assertEqual(r, {"id": U.lower(), "day": "2000-01-01", "at": None, "n": [1, 2]})

    def test_bad_values_are_400_naming_the_parameter(self):
        self.error("GET", f"/cmp/echo/{U}?day=2023-02-29", 400, 'parameter "day" must be a date (YYYY-MM-DD)')
        self.error("GET", f"/cmp/echo/{U}?day=2023-02-28&at=noon", 400,
                   'parameter "at" must be a date and time (YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|+HH:MM])')
        self.error("GET", f"/cmp/echo/{U}", 400, 'parameter "day" is missing')
        self.error("GET", f"/cmp/echo/{U}?day=2023-02-28&n=x", 400, 'parameter "n" must be an integer')

    def test_a_segment_that_is_not_a_uuid_is_404(self):
        self.error("GET", "/cmp/echo/not-a-uuid?day=2024-01-01", 404)
        self.error("GET", f"/cmp/echo/{U[:-1]}?day=2024-01-01", 404)
