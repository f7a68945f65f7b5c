"""Jobs (docs/jobs.md): POST /stuff/import -> 202 + Location, GET /jobs/<id> and who sees it,
bad input, a job exists iff its request committed, and exactly-once under faults: a jobs
worker SIGKILLed in the middle of 1,000 jobs, PostgreSQL restarted during 1,000 jobs.
The stack runs no jobs worker of its own (run.py: JOBS=0): each test starts the ones it needs."""

import os
import signal
import subprocess
import time
import uuid

import harness
from harness import ApiTest, eventually

CALVIN = ("calvin", "hobbes")  # ADMIN
HOBBES = ("hobbes", "susie")
SUSIE = ("susie", "derkins")


class JobsWorker:
    """`kiva --jobs` on the stack's configuration, with a short lease and poll."""

    def __init__(self, threads=2, **extra):
        stack = harness.STACK
        self.log_path = os.path.join(stack.state, f"jobs-{uuid.uuid4().hex[:6]}.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, KIVA_JOBS_LEASE="1s", KIVA_JOBS_POLL="200ms",
                   KIVA_JOBS_THREADS=str(threads), KIVA_JOBS_RETRY_BASE="50ms", **extra)
        self.process = subprocess.Popen(
            [os.path.join(stack.build, "kiva"), "--config", os.path.join(stack.state, "run/kiva.conf"),
             "--jobs"], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log_path, errors="backslashreplace") as f:
            return f.read()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if not self.log.closed:
            self.log.close()

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.log.close()
        return code


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class JobsTest(ApiTest):
    def setUp(self):
        super().setUp()
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            w.kill()
            # As run.py does for the stack's log: no sanitizer report, no crash.
            for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                self.assertNotIn(marker, w.output())
        super().tearDown()

    def worker(self, threads=2, **extra):
        w = JobsWorker(threads, **extra)
        self.workers.append(w)
        return w

    def sql(self, query):
        return harness.STACK.psql(query)

    def jobs_count(self):
        return int(self.sql("SELECT count(*) FROM kiva_jobs"))

    def import_names(self, names, auth=HOBBES, key=None):
        body = {"names": names} if key is None else {"names": names, "key": key}
        r = self.call("POST", "/stuff/import", 202, json_body=body, auth=auth)
        self.assertEqual(set(r.json), {"job"})
        job = r.json["job"]
        self.assertEqual(r.headers["location"], f"{harness.PREFIX}/jobs/{job}")
        return job, r

    def finished(self, job, auth=HOBBES):
        state = eventually(lambda: (s := self.call("GET", f"/jobs/{job}", 200, auth=auth).json)["state"]
                           in ("done", "failed") and s, timeout=30)
        self.assertTrue(state, f"job {job} did not finish")
        return state


class TestJobsHttp(JobsTest):
    def test_import_202_then_done_every_name(self):
        self.worker()
        names = [unique("imported") for _ in range(3)]
        job, posted = self.import_names(names)
        state = self.finished(job)
        self.assertEqual(state["state"], "done", state)
        self.assertEqual(state["result"], 3)
        self.assertEqual(state["attempts"], 1)
        self.assertIsNone(state["error"])
        # The enqueuing request's id is the job's, in its row and in the worker's log lines.
        self.assertEqual(state["request_id"], posted.headers["x-request-id"])
        listed = self.call("GET", "/stuff", 200).json
        self.assertTrue(set(names) <= {r["stuff"] for r in listed})
        self.assertTrue(eventually(lambda: f"rid={posted.headers['x-request-id']} job import_stuff#{job}: done"
                                   in self.workers[0].output()), self.workers[0].output()[-2000:])
        # ... and in the audit rows of the job's writes, with the enqueuing user.
        audit = self.sql(f"SELECT DISTINCT login || ' ' || request_id FROM Audit "
                         f"WHERE tab = 'stuff' AND data->>'stuff' = '{names[0]}'")
        self.assertEqual(audit, f"hobbes {posted.headers['x-request-id']}")

    def test_metrics_show_the_queue(self):
        job, _ = self.import_names([unique("metered")])
        text = self.api.request("GET", "/metrics").body.decode()
        for family in ("kiva_jobs_due", "kiva_jobs_scheduled", "kiva_jobs_running", "kiva_jobs_oldest_due_seconds"):
            self.assertIn(f"# TYPE {family} gauge", text)
        due = [line for line in text.splitlines() if line.startswith('kiva_jobs_due{name="import_stuff"}')]
        self.assertTrue(due and float(due[0].split()[-1]) >= 1, due)
        self.worker()
        self.assertEqual(self.finished(job)["state"], "done")

    def test_visible_to_its_user_and_admin_only(self):
        job, _ = self.import_names([unique("seen")])
        self.assertEqual(self.call("GET", f"/jobs/{job}", 200, auth=HOBBES).json["id"], job)
        self.assertEqual(self.call("GET", f"/jobs/{job}", 200, auth=CALVIN).json["id"], job)
        self.error("GET", f"/jobs/{job}", 404, f"no such job: {job}", auth=SUSIE)
        self.error("GET", f"/jobs/{job}", 401)
        self.error("GET", "/jobs/999999999", 404, "no such job: 999999999", auth=HOBBES)
        self.error("GET", "/jobs/999999999", 404, "no such job: 999999999", auth=CALVIN)
        self.call("GET", "/jobs/abc", 404, auth=HOBBES)
        self.error("POST", "/stuff/import", 401, json_body={"names": ["x"]})

    def test_queued_until_a_worker_runs_it(self):
        job, _ = self.import_names([unique("later")])
        state = self.call("GET", f"/jobs/{job}", 200, auth=HOBBES).json
        self.assertEqual((state["state"], state["attempts"], state["result"]), ("queued", 0, None))
        self.worker()
        self.assertEqual(self.finished(job)["state"], "done")

    def metrics(self):
        """{'name{labels}': value} of the stack's /metrics (the HTTP worker's)."""
        text = self.api.request("GET", "/metrics").body.decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                out[series] = float(value)
        return out

    def test_metrics_count_the_worker_runs(self):
        # The jobs worker serves no HTTP: it counts in the instance's metrics file
        # (metrics_file, set by the stack), which the HTTP worker's /metrics sums.
        runs = 'kiva_jobs_runs_total{name="import_stuff",outcome="%s"}'
        took = 'kiva_jobs_run_duration_seconds_count{name="import_stuff"}'
        before = self.metrics()
        self.assertEqual(before.get("kiva_jobs_worker_processes"), 0, before)
        w = self.worker()
        self.assertTrue(eventually(lambda: self.metrics().get("kiva_jobs_worker_processes") == 1, timeout=10),
                        w.output()[-2000:])
        good, _ = self.import_names([unique("counted")])
        dup = unique("dup")
        bad, _ = self.import_names([dup, dup])
        self.assertEqual(self.finished(good)["state"], "done")
        self.assertEqual(self.finished(bad)["state"], "failed")

        def counted():
            m = self.metrics()
            return [m.get(runs % o, 0) - before.get(runs % o, 0) for o in ("done", "failed")] == [1, 1] \
                and m.get(took, 0) - before.get(took, 0) == 2 and m.get("kiva_jobs_workers_busy") == 0 and m
        after = eventually(counted, timeout=10)
        self.assertTrue(after, (before, self.metrics()))
        self.assertEqual(after.get(runs % "retried", 0), before.get(runs % "retried", 0))
        inf = 'kiva_jobs_run_duration_seconds_bucket{name="import_stuff",le="+Inf"}'
        self.assertEqual(after[inf], after[took])
        # The jobs worker is no HTTP worker process; once stopped, it is counted no more.
        self.assertEqual(after["kiva_worker_processes"], before["kiva_worker_processes"])
        self.assertEqual(w.terminate(), 0)
        self.assertEqual(self.metrics().get("kiva_jobs_worker_processes"), 0)
        self.assertEqual(self.metrics()[runs % "done"], after[runs % "done"])  # counts outlive it

    def test_finished_jobs_older_than_jobs_keep_are_purged_in_batches(self):
        name = unique("purged")
        old, recent = "now() - interval '2 hours'", "now() - interval '10 minutes'"
        self.sql(f"INSERT INTO kiva_jobs(name, payload, state, finished_at) "
                 f"SELECT '{name}', '{{}}', 'done', {old} FROM generate_series(1, 2500)")
        self.sql(f"INSERT INTO kiva_jobs(name, payload, state, finished_at) VALUES "
                 f"('{name}', '{{}}', 'failed', {old}), ('{name}', '{{}}', 'cancelled', {old}), "
                 f"('{name}-kept', '{{}}', 'done', {recent}), ('{name}-kept', '{{}}', 'failed', {recent})")
        # Pending jobs stay however old (never finished); so do recent periods.
        self.sql(f"INSERT INTO kiva_jobs(name, payload, state, created_at, run_at) VALUES "
                 f"('{name}-kept', '{{}}', 'queued', now() - interval '1 day', now() + interval '1 day')")
        self.sql("INSERT INTO kiva_job_periods(name, period) VALUES ('stuff_census', 7) ON CONFLICT DO NOTHING")
        try:
            before = self.metrics().get("kiva_jobs_purged_total", 0)
            w = self.worker(KIVA_JOBS_KEEP="1h")
            self.assertTrue(eventually(lambda: self.sql(f"SELECT count(*) FROM kiva_jobs WHERE name = '{name}'") == "0",
                                       timeout=30), w.output()[-2000:])
            self.assertEqual(self.sql(f"SELECT string_agg(state, ',' ORDER BY state) FROM kiva_jobs "
                                      f"WHERE name = '{name}-kept'"), "done,failed,queued")
            self.assertTrue(eventually(lambda: "jobs: purged 2502 finished jobs older than 3600 s (jobs_keep) "
                                               "in 3 batches" in w.output()), w.output()[-2000:])
            self.assertEqual(self.sql("SELECT count(*) FROM kiva_job_periods WHERE name = 'stuff_census' "
                                      "AND period = 7"), "0")
            self.assertTrue(eventually(lambda: self.metrics().get("kiva_jobs_purged_total", 0) - before == 2502))
        finally:
            self.sql(f"DELETE FROM kiva_jobs WHERE name LIKE '{name}%'")

    def test_a_duplicate_fails_the_job_without_partial_rows(self):
        self.worker()
        first, dup = unique("first"), unique("dup")
        job, _ = self.import_names([first, dup, dup])
        state = self.finished(job)
        self.assertEqual(state["state"], "failed", state)
        self.assertEqual(state["attempts"], 1)  # a 409 is final: no retry
        self.assertTrue(state["error"].startswith("409: "), state)
        self.assertIn(dup, state["error"])
        self.assertEqual(self.sql(f"SELECT count(*) FROM Stuff WHERE stuff IN ('{first}', '{dup}')"), "0")

    def test_bad_input_is_a_400_and_enqueues_nothing(self):
        before = self.jobs_count()
        self.error("POST", "/stuff/import", 400, 'job "import_stuff": parameter "payload" must be a string',
                   json_body={"names": [1, 2]}, auth=HOBBES)
        self.error("POST", "/stuff/import", 400, 'job "import_stuff": parameter "payload" must be a list',
                   json_body={"names": "one"}, auth=HOBBES)
        self.error("POST", "/stuff/import", 400, 'parameter "names" is missing', json_body={}, auth=HOBBES)
        self.error("POST", "/stuff/import", 400, None, body=b"[", content_type="application/json",
                   auth=HOBBES)
        self.assertEqual(self.jobs_count(), before)

    def test_a_key_refuses_the_same_import_while_it_is_pending(self):
        key = unique("key")
        job, _ = self.import_names([unique("keyed")], key=key)
        before = self.jobs_count()
        self.error("POST", "/stuff/import", 409, 'a job "import_stuff" with this unique key is already pending',
                   json_body={"names": [unique("keyed")], "key": key}, auth=HOBBES)
        self.assertEqual(self.jobs_count(), before)
        self.import_names([unique("keyed")], key=unique("other-key"))  # another key
        self.import_names([unique("keyed")], key=key, auth=CALVIN)     # another user's key
        self.worker()
        self.assertEqual(self.finished(job)["state"], "done")
        self.import_names([unique("keyed")], key=key)  # done: no longer pending

    def test_a_rolled_back_request_leaves_no_job(self):
        # The handler enqueues, then refuses a name that exists: its 409 rolls back the job too.
        before = self.jobs_count()
        self.error("POST", "/stuff/import", 409, "some names exist already",
                   json_body={"names": [unique("new"), "Chair"]}, auth=HOBBES)
        self.assertEqual(self.jobs_count(), before)

    def test_a_cron_job_is_enqueued_once_for_its_next_instant_with_two_workers(self):
        # stuff_census is "0 * * * *": each scheduler enqueues the next hour's instant ahead,
        # run_at that instant, through kiva_job_periods: one job for both, as on two hosts.
        self.worker()
        self.worker()
        upcoming = ("SELECT unique_key, extract(epoch FROM run_at)::bigint FROM kiva_jobs "
                    "WHERE name = 'stuff_census' AND state = 'queued' AND run_at > now()")
        self.assertTrue(eventually(lambda: self.sql(upcoming) != "", timeout=10))
        time.sleep(1.5)  # both schedulers have been through their loop (once a second)
        rows = self.sql(upcoming).splitlines()
        self.assertEqual(len(rows), 1, rows)
        key, instant = rows[0].split("|")
        instant = int(instant)
        self.assertEqual(instant % 3600, 0)  # at :00, UTC
        self.assertTrue(time.time() < instant <= time.time() + 3600, instant)
        self.assertEqual(key, f"stuff_census@{instant}")
        self.assertEqual(self.sql("SELECT count(*) FROM (SELECT unique_key FROM kiva_jobs "
                                  "WHERE name = 'stuff_census' GROUP BY unique_key HAVING count(*) > 1) AS twice"), "0")
        # Brought forward, it runs at once; the scheduler does not enqueue its instant again.
        self.sql(f"UPDATE kiva_jobs SET run_at = now() WHERE unique_key = '{key}' AND state = 'queued'")
        done = f"SELECT result FROM kiva_jobs WHERE unique_key = '{key}' AND state = 'done'"
        self.assertTrue(eventually(lambda: self.sql(done) != "", timeout=10))
        self.assertGreater(int(self.sql(done)), 0)
        time.sleep(1.5)
        self.assertEqual(self.sql(f"SELECT count(*) FROM kiva_jobs WHERE unique_key = '{key}'"), "1")

    def test_a_failing_attempt_is_retried_then_the_job_fails_for_good(self):
        # A trigger fails inserts of 'flaky-...' names twice (a sequence: not rolled back with
        # them) and of 'doomed-...' names always, with a server error (500: worth retrying).
        self.sql("CREATE SEQUENCE IF NOT EXISTS jobs_test_flaky; "
                 "CREATE OR REPLACE FUNCTION jobs_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF NEW.stuff LIKE 'doomed-%' THEN RAISE EXCEPTION 'injected failure' USING ERRCODE = 'XX000'; END IF; "
                 "IF NEW.stuff LIKE 'flaky-%' THEN IF nextval('jobs_test_flaky') % 3 <> 0 THEN "
                 "RAISE EXCEPTION 'injected failure' USING ERRCODE = 'XX000'; END IF; END IF; RETURN NEW; END $$; "
                 "CREATE OR REPLACE TRIGGER jobs_test_fail BEFORE INSERT ON Stuff "
                 "FOR EACH ROW EXECUTE FUNCTION jobs_test_fail(); SELECT setval('jobs_test_flaky', 1, false)")
        try:
            self.worker()
            flaky, _ = self.import_names([unique("flaky")])
            doomed, _ = self.import_names([unique("doomed")])
            state = self.finished(flaky)
            self.assertEqual((state["state"], state["attempts"]), ("done", 3), state)
            state = self.finished(doomed)
            self.assertEqual((state["state"], state["attempts"]), ("failed", 5), state)
            self.assertTrue(state["error"].startswith("500: ") and "injected failure" in state["error"], state)
        finally:
            self.sql("DROP TRIGGER jobs_test_fail ON Stuff; DROP FUNCTION jobs_test_fail(); "
                     "DROP SEQUENCE jobs_test_flaky")

    def test_undeclared_jobs_are_reported_not_run(self):
        name = unique("retired").replace("-", "_")
        self.sql(f"INSERT INTO kiva_jobs(name, payload) VALUES ('{name}', '[]'), ('{name}', '[]')")
        w = self.worker()
        self.assertTrue(eventually(lambda: f'2 pending jobs named "{name}", which this binary does not '
                                   'declare: not run' in w.output(), timeout=10), w.output())
        job, _ = self.import_names([unique("after-retired")])
        self.assertEqual(self.finished(job)["state"], "done")
        self.assertEqual(self.sql(f"SELECT string_agg(state || attempts, ',') FROM kiva_jobs WHERE name = '{name}'"),
                         "queued0,queued0")
        self.sql(f"DELETE FROM kiva_jobs WHERE name = '{name}'")

    def test_sigterm_stops_the_worker(self):
        w = self.worker()
        self.assertTrue(eventually(lambda: "declared jobs" in w.output(), timeout=10), w.output())
        self.assertEqual(w.terminate(), 0, w.output())
        self.assertIn("jobs: stopped", w.output())


class TestJobsFaults(JobsTest):
    """1,000 jobs, each inserting one unique name: every job done exactly once is 1,000 done
    jobs and 1,000 rows (a second run of a job would fail it on the unique name)."""

    LOAD = 1000

    def enqueue_load(self):
        tag = unique("load")
        self.sql(f"INSERT INTO kiva_jobs(name, payload) SELECT 'import_stuff', "
                 f"jsonb_build_array('{tag}-' || i) FROM generate_series(1, {self.LOAD}) AS i")
        return tag

    def counts(self, tag):
        done = int(self.sql(f"SELECT count(*) FROM kiva_jobs WHERE payload->>0 LIKE '{tag}-%' AND state = 'done'"))
        rows = int(self.sql(f"SELECT count(*) FROM Stuff WHERE stuff LIKE '{tag}-%'"))
        return done, rows

    def check_exactly_once(self, tag):
        pending = f"SELECT count(*) FROM kiva_jobs WHERE payload->>0 LIKE '{tag}-%' AND state IN ('queued', 'running')"
        self.assertTrue(eventually(lambda: self.sql(pending) == "0", timeout=120),
                        f"done, rows: {self.counts(tag)}")
        self.assertEqual(self.counts(tag), (self.LOAD, self.LOAD))
        self.assertEqual(self.sql(f"SELECT count(*) FROM kiva_jobs WHERE payload->>0 LIKE '{tag}-%' "
                                  "AND state <> 'done'"), "0")
        self.assertEqual(self.sql(f"SELECT count(DISTINCT stuff) FROM Stuff WHERE stuff LIKE '{tag}-%'"),
                         str(self.LOAD))
        again = self.sql(f"SELECT count(*) FROM kiva_jobs WHERE payload->>0 LIKE '{tag}-%' AND attempts > 1")
        print(f"({again} of {self.LOAD} jobs claimed again after the fault) ", end="", flush=True)

    def test_sigkill_of_a_worker_loses_and_doubles_nothing(self):
        tag = self.enqueue_load()
        victim = self.worker(threads=3)
        self.worker(threads=1)
        self.assertTrue(eventually(lambda: self.counts(tag)[0] >= 150, timeout=60), self.counts(tag))
        # Stopped at an instant when it holds claimed jobs, then SIGKILLed: in the middle of them.
        held = ""
        for _ in range(500):
            victim.process.send_signal(signal.SIGSTOP)
            held = self.sql(f"SELECT string_agg(id::text, ',') FROM kiva_jobs WHERE state = 'running' "
                            f"AND worker LIKE '%:{victim.process.pid}:%'")
            if held:
                break
            victim.process.send_signal(signal.SIGCONT)
            time.sleep(0.01)
        victim.kill()
        self.assertTrue(held, "the victim never held a job")
        self.assertLess(self.counts(tag)[0], self.LOAD, "the kill came too late to mean anything")
        self.check_exactly_once(tag)
        # Its jobs were claimed again after their lease, and done once.
        self.assertEqual(self.sql(f"SELECT count(*) FROM kiva_jobs WHERE id IN ({held}) "
                                  "AND state = 'done' AND attempts >= 2"), str(len(held.split(","))))

    def test_sigterm_under_load_finishes_its_jobs_and_exits(self):
        tag = self.enqueue_load()
        first = self.worker(threads=2)
        self.assertTrue(eventually(lambda: self.counts(tag)[0] >= 150, timeout=60), self.counts(tag))
        self.assertEqual(first.terminate(), 0, first.output()[-2000:])
        self.assertIn("jobs: stopped", first.output())
        # It left nothing claimed: its jobs were finished, the rest are queued for the next.
        self.assertEqual(self.sql(f"SELECT count(*) FROM kiva_jobs WHERE payload->>0 LIKE '{tag}-%' "
                                  "AND state = 'running'"), "0")
        self.assertLess(self.counts(tag)[0], self.LOAD, "the stop came too late to mean anything")
        self.worker(threads=2)
        self.check_exactly_once(tag)

    def test_postgres_restart_loses_and_doubles_nothing(self):
        tag = self.enqueue_load()
        self.worker(threads=2)
        self.assertTrue(eventually(lambda: self.counts(tag)[0] >= 150, timeout=60), self.counts(tag))
        harness.STACK.pg_ctl("restart", "-m", "fast", "-w", "-t", "60")
        self.check_exactly_once(tag)
        # The HTTP worker comes back too.
        eventually(lambda: self.api.request("GET", "/health").status == 200, timeout=30)
