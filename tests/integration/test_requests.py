"""Request decoding and errors: parameters from every source, bad input -> clear 4xx JSON."""

import uuid

from harness import STACK, ApiTest  # noqa: F401


class TestParameters(ApiTest):
    def test_query_string_and_body_are_merged(self):
        name = "merged-" + uuid.uuid4().hex[:8]
        r = self.call("POST", f"/stuff?stuff={name}", 201)
        self.assertEqual(self.call("GET", f"/stuff/{r.json['sid']}", 200).json["stuff"], name)

    def test_plus_and_percent_escapes_decode(self):
        name = "a b+c/é " + uuid.uuid4().hex[:8]
        encoded = name.replace("%", "%25").replace("+", "%2B").replace(" ", "+").replace("/", "%2F")
        encoded = encoded.replace("é", "%C3%A9")
        r = self.call("POST", "/stuff", 201, data=f"stuff={encoded}")
        self.assertEqual(self.call("GET", f"/stuff/{r.json['sid']}", 200).json["stuff"], name)

    def test_invalid_utf8_is_400(self):
        self.error("POST", "/stuff", 400, "form body is not valid UTF-8", data="stuff=%FF%FE")
        self.error("POST", "/stuff?stuff=%C3%28", 400, "query string is not valid UTF-8")
        self.error("POST", "/stuff", 400, "JSON body is not valid UTF-8",
                   body=b'{"stuff": "\xff"}', content_type="application/json")

    def test_malformed_json_is_400(self):
        for body in (b"{", b'{"stuff": }', b"not json", b'{"stuff": "x"} trailing'):
            r = self.call("POST", "/stuff", 400, body=body, content_type="application/json")
            self.assertTrue(r.json["error"].startswith("invalid JSON body"), repr(r))

    def test_json_body_must_be_an_object(self):
        for body in (b'["stuff"]', b'"stuff"', b"42", b"null"):
            self.error("POST", "/stuff", 400, "JSON body must be an object", body=body,
                       content_type="application/json")

    def test_json_with_charset_is_json(self):
        name = "charset-" + uuid.uuid4().hex[:8]
        self.call("POST", "/stuff", 201, body=f'{{"stuff": "{name}"}}'.encode(),
                  content_type="application/json; charset=utf-8")

    def test_unsupported_content_type_is_415(self):
        self.call("POST", "/stuff", 415, body=b"stuff=x", content_type="text/plain")

    def test_unexpected_parameter_is_400(self):
        self.error("GET", "/stuff", 400, 'unexpected parameter "filtre"', data="filtre=C%")
        self.error("POST", "/stuff", 400, 'unexpected parameter "colour"',
                   json_body={"stuff": "x" + uuid.uuid4().hex, "colour": "red"})

    def test_wrong_types_are_400_naming_the_parameter(self):
        self.error("GET", "/stuff", 400, 'parameter "filter" must be a string', json_body={"filter": 3})
        self.error("GET", "/stuff", 400, 'parameter "filter" must be a string', json_body={"filter": ["a"]})

    def test_json_null_for_an_optional_parameter_means_absent(self):
        self.assertEqual(self.call("GET", "/stuff", 200, json_body={"filter": None}).json,
                         self.call("GET", "/stuff", 200).json)

    def test_path_segment_wins_over_body(self):
        name = "path-" + uuid.uuid4().hex[:8]
        sid = self.call("POST", "/stuff", 201, data={"stuff": name}).json["sid"]
        # the sid of the body is ignored: the path names the resource
        self.call("GET", f"/stuff/{sid}", 200, json_body={"sid": 1})


class TestLimits(ApiTest):
    def test_worker_body_limit_is_413_json_and_connection_survives(self):
        body = b"stuff=" + b"x" * (100 * 1024)  # over the worker's 64K, under nginx's 1M
        r = self.error("POST", "/stuff", 413, "request body too large (limit 65536 bytes)", data=body)
        self.call("GET", "/version", 200)  # same persistent connection, same worker
        for _ in range(8):
            self.call("GET", "/stuff/1", 200)

    def test_nginx_body_limit_is_413_json(self):
        self.error("POST", "/stuff", 413, "request body too large", data=b"stuff=" + b"x" * (2 * 1024 * 1024))

    def test_body_just_under_the_limit_is_accepted(self):
        name = "big-" + uuid.uuid4().hex + "y" * (60 * 1024)
        r = self.call("POST", "/stuff", 201, data={"stuff": name})
        self.call("DELETE", f"/stuff/{r.json['sid']}", 204)

    def test_garbage_in_paths_is_404(self):
        for path in ("/stuff/%00", "/stuff/%FF", "/stuff/1%2F2", "/%FF%FE"):
            r = self.api.request("GET", path)
            self.assertIn(r.status, (400, 404), f"{path}: {r!r}")
            self.assertEqual(list(r.json), ["error"])


class TestLogs(ApiTest):
    def test_one_line_per_request_without_query_string(self):
        secret = "s3cr3t-" + uuid.uuid4().hex
        before = len(STACK.log_lines(" GET /stuff "))
        self.call("GET", f"/stuff?filter={secret}", 200)
        line = STACK.next_log_line(" GET /stuff ", before)
        self.assertRegex(line, r" - GET /stuff 200 \d+\.\d{3}ms$")
        self.assertNotIn(secret, STACK.output())
