"""The typed queries: the build step that checks sql/queries.sql against the schema and writes
the header (framework/tools/querygen.sh with a throwaway cluster), what the compiler refuses, and the
worker's start-up check that the queries file is the one compiled in."""

import glob
import json
import os
import shlex
import subprocess
import tempfile
import unittest

import harness
from harness import ROOT

FRAMEWORK_SQL = os.path.join(ROOT, "framework/sql")
COURSE = os.path.join(ROOT, "examples/course")
SCHEMA = sorted(glob.glob(os.path.join(FRAMEWORK_SQL, "migrations/*.sql"))) + \
    [os.path.join(COURSE, "sql/create.sql")] + sorted(glob.glob(os.path.join(COURSE, "sql/migrations/*.sql")))


def build_dir():
    return harness.STACK.build


def generate(queries_text, directory, env=None):
    """Runs the build step on an application's queries file, as kiva_add_queries does;
    (exit code, output, header text)."""
    queries = os.path.join(directory, "queries.sql")
    out = os.path.join(directory, "queries.hpp")
    with open(queries, "w") as f:
        f.write(queries_text)
    run = subprocess.run([os.path.join(ROOT, "framework/tools/querygen.sh"),
                          os.path.join(build_dir(), "kiva-querygen"), out, queries] + SCHEMA +
                         ["--", "--after", os.path.join(FRAMEWORK_SQL, "queries.sql"),
                          "--namespace", "api", "--context"],
                         capture_output=True, text=True, timeout=120, env=env)
    header = open(out).read() if os.path.exists(out) else ""
    return run.returncode, run.stdout + run.stderr, header


def original_queries():
    with open(os.path.join(COURSE, "sql/queries.sql")) as f:
        return f.read()


class TestQueryGenerator(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kiva-qg-")

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.dir])

    def test_the_queries_file_gives_typed_members(self):
        parent = tempfile.mkdtemp(prefix="kiva-qg-clusters-", dir="/var/tmp")
        os.chmod(parent, 0o755)  # the postgres account enters it
        try:
            code, output, header = generate(original_queries(), self.dir,
                                            env=dict(os.environ, KIVA_QUERYGEN_TMP=parent))
            self.assertEqual(os.listdir(parent), [], "the throwaway cluster is removed")
        finally:
            subprocess.run(["rm", "-rf", parent])
        self.assertEqual(code, 0, output)
        for member in ["std::optional<StuffRow> get_stuff_sid(in::Int sid)",
                       "int64_t add_stuff(in::Text stuff)",
                       "RowStream<StuffRow> get_stuff_all()",
                       "int64_t del_stuff_sid(in::Int sid)",
                       "int64_t upd_stuff_sid(in::Text stuff, in::Int sid)",
                       "std::optional<std::string> now()",  # an expression may be NULL
                       "int64_t add_user(in::Text login, in::Text pword, in::Bool admin)"]:
            self.assertIn(member, header)
        # NOT NULL columns are plain, expressions optional
        self.assertIn("    std::string stuff;", header)
        self.assertIn("    std::optional<bool> owned;", header)

    def test_an_unknown_column_fails_with_file_line_and_postgres_message(self):
        text = original_queries().replace("SELECT sid, stuff FROM Stuff WHERE sid = :sid;",
                                          "SELECT sid,\n  stuf FROM Stuff WHERE sid = :sid;")
        line = text.splitlines().index("  stuf FROM Stuff WHERE sid = :sid;") + 1
        code, output, header = generate(text, self.dir)
        self.assertNotEqual(code, 0)
        self.assertIn(f"queries.sql:{line}: query get_stuff_sid: ERROR: column \"stuf\" does not exist",
                      output)
        self.assertEqual(header, "")

    def test_a_renamed_parameter_type_mismatch_and_a_missing_table_fail(self):
        text = original_queries() + "\n-- name: bad_type^\nSELECT sid FROM Stuff WHERE stuff = :n + 1;\n" \
            "\n-- name: no_table\nSELECT * FROM Nothing;\n"
        code, output, _ = generate(text, self.dir)
        self.assertNotEqual(code, 0)
        self.assertIn("query bad_type: ERROR: operator does not exist: text = integer", output)
        self.assertIn("query no_table: ERROR: relation \"nothing\" does not exist", output)

    def test_a_name_the_framework_uses_is_refused(self):
        code, output, header = generate(original_queries() + "\n-- name: token_state^\nSELECT 1 AS one;\n",
                                        self.dir)
        self.assertNotEqual(code, 0)
        self.assertIn("query token_state is already defined at kiva/sql/queries.sql", output.replace(
            os.path.join(FRAMEWORK_SQL, "queries.sql"), "kiva/sql/queries.sql"))
        self.assertEqual(header, "")

    def test_the_application_header_follows_the_framework_queries(self):
        code, output, header = generate(original_queries(), self.dir)
        self.assertEqual(code, 0, output)
        with open(os.path.join(FRAMEWORK_SQL, "queries.sql")) as f:
            framework = sum(1 for line in f if line.startswith("-- name:"))
        self.assertIn(f"static constexpr std::size_t first = {framework};", header)
        self.assertIn("struct Context : ::kiva::Context {", header)
        self.assertNotIn("auth_throttle", header, "the framework's queries are not the application's")

    def test_a_row_query_without_columns_is_refused(self):
        code, output, _ = generate("-- name: oops^\nDELETE FROM Stuff WHERE sid = :sid;\n", self.dir)
        self.assertNotEqual(code, 0)
        self.assertIn("query oops returns no column", output)

    def test_arrays_dates_and_uuids_get_their_types(self):
        code, output, header = generate(
            "-- name: by_ids\nSELECT sid, stuff FROM Stuff WHERE sid = ANY(:ids) ORDER BY sid;\n"
            "-- name: by_names\nSELECT sid FROM Stuff WHERE stuff = ANY(:names);\n"
            "-- name: day$\nSELECT :d::DATE + 1;\n"
            "-- name: at$\nSELECT :t::TIMESTAMPTZ;\n"
            "-- name: uid$\nSELECT :u::UUID;\n", self.dir)
        self.assertEqual(code, 0, output)
        self.assertIn("RowStream<StuffRow> by_ids(in::IntList ids)", header)
        self.assertIn("by_names(in::TextList names)", header)
        self.assertIn("std::optional<std::string> day(in::Date d)", header)
        self.assertIn("at(in::DateTime t)", header)
        self.assertIn("uid(in::Uuid u)", header)


def compile_snippet(code):
    """Compiles a handler snippet with the flags of app/api/stuff.cpp; (ok, compiler output)."""
    with open(os.path.join(build_dir(), "compile_commands.json")) as f:
        commands = json.load(f)
    entry = next(c for c in commands if c["file"].endswith("examples/course/app/api/stuff.cpp"))
    args = shlex.split(entry["command"])
    source = tempfile.NamedTemporaryFile("w", suffix=".cpp", delete=False)
    source.write('#include "api/api.hpp"\nnamespace api {\nusing namespace kiva;\n' + code + "\n}\n")
    source.close()
    try:
        flags = [a for a in args[1:] if a.startswith(("-I", "-D", "-std", "-W", "-isystem"))
                 or a in ("-isystem",)]
        # keep "-isystem DIR" pairs together
        full = []
        i = 1
        while i < len(args):
            if args[i] == "-isystem":
                full += args[i:i + 2]
                i += 2
                continue
            if args[i] in flags:
                full.append(args[i])
            i += 1
        run = subprocess.run([args[0], "-fsyntax-only"] + full + [source.name], capture_output=True,
                             text=True, timeout=300, cwd=entry["directory"])
        return run.returncode == 0, run.stderr
    finally:
        os.unlink(source.name)


@unittest.skipUnless(os.environ.get("KIVA_COMPILE_TESTS", "1") == "1", "compile tests disabled")
class TestWhatTheCompilerRefuses(unittest.TestCase):
    def test_a_right_call_compiles(self):
        ok, output = compile_snippet(
            "Response f(Context& c, int64_t sid) { auto s = c.q.get_stuff_sid(sid);"
            " return json(*s); }")
        self.assertTrue(ok, output)

    def test_an_unknown_query_or_a_wrong_argument_does_not(self):
        ok, output = compile_snippet("Response f(Context& c) { return json(*c.q.get_stuf_sid(1)); }")
        self.assertFalse(ok)
        self.assertIn("get_stuf_sid", output)
        ok, output = compile_snippet(
            "Response f(Context& c) { return json(*c.q.get_stuff_sid(std::string(\"1\"))); }")
        self.assertFalse(ok)
        ok, output = compile_snippet("Response f(Context& c) { return json(c.q.add_user(\"a\", \"b\", 1)); }")
        self.assertFalse(ok, "an int is not a bool parameter")


class TestStartUpCheck(unittest.TestCase):
    def check(self, queries_text):
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write(queries_text)
        env = dict(os.environ, KIVA_DATABASE="dbname=none", KIVA_QUERIES=f.name, KIVA_TEST_MODE="true")
        try:
            return subprocess.run([os.path.join(build_dir(), "kiva"), "--check"], env=env,
                                  capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)

    def test_the_compiled_queries_file_passes(self):
        run = self.check(original_queries())
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_a_changed_query_stops_the_worker_with_its_line(self):
        text = original_queries().replace("FROM Stuff ORDER BY sid;", "FROM Stuff ORDER BY sid DESC;", 1)
        line = text.splitlines().index("-- name: get_stuff_all") + 1
        run = self.check(text)
        self.assertEqual(run.returncode, 2)
        self.assertIn(f".sql:{line}: query get_stuff_all changed", run.stderr)

    def test_a_missing_query_stops_the_worker(self):
        text = original_queries()
        text = text[:text.index("-- name: get_owned_uid")]
        run = self.check(text)
        self.assertEqual(run.returncode, 2)
        self.assertIn("query get_owned_uid is missing", run.stderr)


if __name__ == "__main__":
    unittest.main()
