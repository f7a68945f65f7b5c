"""The OpenAPI 3.1 document: `kiva --openapi` and GET /openapi.json through nginx give the same
document (but for the mount point), it validates against the OpenAPI 3.1 schema (the npm
validator of tests/node, installed by make test), and it describes every route."""

import copy
import json
import os
import subprocess
import tempfile
import unittest

import harness
from harness import ApiTest, ROOT

VALIDATOR = os.path.join(ROOT, "build-node/node_modules/.bin/validate-api")
DOCS = os.path.join(ROOT, "build-node/node_modules/swagger-ui-dist")
# the stack serves /docs when Swagger UI is installed: the command line gets the same routes
ENV = dict(os.environ, **({"KIVA_DOCS_DIR": DOCS} if os.path.isdir(DOCS) else {}))
ERRORS = ["400", "401", "403", "404", "405", "409", "413", "415", "429", "503"]


def cli_document():
    run = subprocess.run([os.path.join(harness.STACK.build, "kiva"), "--openapi"], capture_output=True,
                         text=True, timeout=30, cwd="/", env=ENV)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def routes():
    """(method, path) of every route, from `kiva --routes` (the route table itself)."""
    run = subprocess.run([os.path.join(harness.STACK.build, "kiva"), "--routes"], capture_output=True,
                         text=True, timeout=30, cwd=ROOT, env=dict(ENV, KIVA_DATABASE="dbname=none",
                                                                    KIVA_TEST_MODE="true"))
    assert run.returncode == 0, run.stderr
    return [tuple(line.split()[:2]) for line in run.stdout.splitlines()]


def validate(document):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(document, f)
    try:
        run = subprocess.run([VALIDATOR, f.name], capture_output=True, text=True, timeout=60)
        return run.returncode == 0 and '"valid": true' in run.stdout, run.stdout + run.stderr
    finally:
        os.unlink(f.name)


def openapi_path(pattern):
    parts = []
    for seg in pattern.strip("/").split("/"):
        parts.append("{" + seg[1:-1].split(":")[0] + "}" if seg.startswith("<") else seg)
    return "/" + "/".join(parts)


class TestOpenApi(ApiTest):
    @classmethod
    def setUpClass(cls):
        cls.doc = cli_document()

    def test_it_validates_against_the_openapi_3_1_schema(self):
        self.assertTrue(os.path.exists(VALIDATOR), "make test installs it (deploy/dev/install-node-tools.sh)")
        ok, output = validate(self.doc)
        self.assertTrue(ok, output)
        self.assertEqual(self.doc["openapi"], "3.1.0")
        # the validator is not a rubber stamp
        broken = copy.deepcopy(self.doc)
        broken["paths"]["/stuff"]["get"]["responses"]["200"] = {"content": 1}
        self.assertFalse(validate(broken)[0])

    def test_served_the_same_through_the_front_end(self):
        served = self.call("GET", "/openapi.json", 200).json
        self.assertEqual(served["servers"], [{"url": "/api"}])
        served["servers"] = self.doc["servers"]
        self.assertEqual(served, self.doc)

    def test_every_route_and_method_is_there(self):
        table = routes()
        self.assertGreater(len(table), 15)
        for method, pattern in table:
            path = openapi_path(pattern)
            self.assertIn(path, self.doc["paths"], pattern)
            op = self.doc["paths"][path].get(method.lower())
            self.assertIsNotNone(op, f"{method} {pattern}")
            for status in ERRORS:
                self.assertEqual(op["responses"][status], {"$ref": f"#/components/responses/E{status}"})
        count = sum(len(ops) for ops in self.doc["paths"].values())
        self.assertEqual(count, len(table))
        error = self.doc["components"]["schemas"]["Error"]
        self.assertEqual(error["required"], ["error"])

    def test_parameters_have_types_required_and_defaults(self):
        sid = [p for p in self.doc["paths"]["/stuff/{sid}"]["get"]["parameters"] if p["in"] != "header"]
        self.assertEqual(sid, [{"name": "sid", "in": "path", "required": True,
                                "schema": {"type": "integer", "format": "int64"}}])
        echo = {p["name"]: p for p in self.doc["paths"]["/cmp/echo/{id}"]["get"]["parameters"]}
        self.assertEqual(echo["id"]["schema"], {"type": "string", "format": "uuid"})
        self.assertEqual(echo["day"]["schema"], {"type": "string", "format": "date"})
        self.assertTrue(echo["day"]["required"])
        self.assertFalse(echo["at"]["required"])
        self.assertEqual(echo["n"]["schema"]["default"], [])
        ids = {p["name"]: p for p in self.doc["paths"]["/stuff"]["get"]["parameters"]}["ids"]
        self.assertEqual(ids["schema"], {"type": "array", "items": {"type": "integer", "format": "int64"}})
        body = self.doc["paths"]["/register"]["post"]["requestBody"]["content"]
        for content in ("application/json", "application/x-www-form-urlencoded"):
            self.assertEqual(body[content]["schema"]["required"], ["login", "pword"])

    def test_security_and_authorization(self):
        paths = self.doc["paths"]
        schemes = self.doc["components"]["securitySchemes"]
        self.assertEqual(schemes["basic"], {"type": "http", "scheme": "basic"})
        self.assertEqual(schemes["bearer"]["scheme"], "bearer")
        self.assertEqual(schemes["param"]["name"], "USER")
        admin = paths["/admin"]["get"]
        self.assertEqual(admin["x-kiva-authorization"], "AUTH group:ADMIN")
        self.assertIn("AUTH group:ADMIN", admin["description"])
        self.assertNotIn({}, admin["security"])  # credentials required
        self.assertEqual(paths["/object/{oid}"]["get"]["x-kiva-authorization"], "AUTH object:owned(oid)")
        self.assertEqual(paths["/qui-suis-je"]["get"]["security"], [{"bearer": []}])
        self.assertEqual(paths["/login"]["get"]["security"], [{"basic": []}])
        self.assertIn({"param": [], "param_pass": []}, paths["/whoami"]["get"]["security"])
        self.assertEqual(paths["/stuff"]["get"]["security"][0], {})  # OPEN: optional

    def test_success_schemas_come_from_the_typed_query_rows(self):
        row = self.doc["components"]["schemas"]["StuffRow"]
        self.assertEqual(row["properties"], {"sid": {"type": "integer"}, "stuff": {"type": "string"}})
        self.assertEqual(row["required"], ["sid", "stuff"])
        ok = self.doc["paths"]["/stuff/{sid}"]["get"]["responses"]["200"]
        self.assertEqual(ok["content"]["application/json"]["schema"], {"$ref": "#/components/schemas/StuffRow"})
        # and the API answers what it says
        listed = self.call("GET", "/stuff", 200).json
        self.assertTrue(all(set(r) == set(row["properties"]) for r in listed))
        self.assertIn("204", self.doc["paths"]["/stuff/{sid}"]["delete"]["responses"])

    def test_caching_conditions_and_pages_are_described(self):
        paths = self.doc["paths"]
        get_one = paths["/stuff/{sid}"]["get"]
        headers = {p["name"]: p for p in get_one["parameters"] if p["in"] == "header"}
        self.assertEqual(set(headers), {"If-None-Match"})
        self.assertIn("304", get_one["responses"])
        self.assertEqual(set(get_one["responses"]["200"]["headers"]), {"ETag", "Cache-Control"})
        for method in ("put", "patch", "delete"):
            op = paths["/stuff/{sid}"][method]
            self.assertIn("If-Match", [p["name"] for p in op["parameters"] if p["in"] == "header"], method)
            self.assertEqual(op["responses"]["412"]["content"]["application/json"]["schema"],
                             {"$ref": "#/components/schemas/Error"})
        self.assertNotIn("412", paths["/stuff"]["post"]["responses"])
        listing = paths["/stuff"]["get"]
        query = {p["name"]: p for p in listing["parameters"] if p["in"] == "query"}
        self.assertEqual(query["limit"]["schema"]["type"], "integer")
        self.assertEqual(query["limit"]["schema"]["minimum"], 1)
        self.assertFalse(query["limit"]["required"])
        self.assertEqual(query["cursor"]["schema"]["type"], "string")
        self.assertIn("Link", listing["responses"]["200"]["headers"])


if __name__ == "__main__":
    unittest.main()
