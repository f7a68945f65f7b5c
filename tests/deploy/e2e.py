#!/usr/bin/env python3
"""The deployment test (support.py: checks and HTTP client; target.py: the target itself):
a production-like target on this machine, all on loopback, built
from the shipped files, then `make deploy` against it, checked over HTTPS through Apache
(mod_fcgid, and the mod_proxy_fcgi variant) and nginx.

  - a test CA and a server certificate (openssl);
  - PostgreSQL: a private cluster with ssl = on, prepared by deploy/prepare-db.sh (sql/roles.sql,
    the pg_hba snippet at the top of its pg_hba.conf);
  - the app user kiva-e2e made by deploy/prepare-target.sh (ssh key, .pgpass, token secret,
    Apache's access), reached by an sshd on a loopback port with its own host key;
  - the standalone worker under tests/deploy/fake_systemd.py, which honours the shipped
    deploy/systemd/kiva@.socket, kiva@.service and kiva-jobs@.service (the jobs worker);
  - Apache 2.4 (mod_fcgid; mod_proxy_fcgi) and nginx from Debian, configured with the shipped
    apache/*.conf.in and nginx/kiva-site.conf.in (+ kiva-api.conf.in) rendered by
    deploy/render-site.sh, inside minimal main configuration files.

Then: make deploy DRY_RUN=1, make deploy before init (refused), make deploy-init (twice: the
second is refused), make deploy, the HTTPS checks, failing migrations (nothing switched), a
second deploy of a new binary while requests run against every front end (no failure), killing
worker processes under Apache and under the supervisor, a rollback, and the day-2 operations
of day2.py (least privilege, safer deploys, backups and restore, rotation, move). Everything it started is
stopped and the user removed at the end, also on failure (KIVA_DEPLOY_KEEP=1 keeps it all).
Prints one line per check and "deploy test: N checks passed, M failed" last.
Environment: KIVA_DEPLOY_BUILD_DIR (build directory of make deploy, default build-release).
"""

import fcntl
import grp
import datetime
import hashlib
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

from support import (FCGID_POOL, BODY_LIMIT, CHECKS, DB, HOME, INSTANCE, PGBIN, ROOT, START, Abort, Load, Reply, connection,
                     request, say, sh)
from day2 import Day2
from day2_schema import Day2Schema
from day2_hosts import Day2Hosts
from suexec import SuexecInstances
from target import Target


def source_get(ctx, port, path, source):
    """GET over HTTPS from a given loopback source address (the front ends see REMOTE_ADDR)."""
    conn = connection(ctx, port, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


class DeployTest(Day2, Day2Schema, Day2Hosts, SuexecInstances, Target):
    """The scenario and its checks, on the target."""

    # ----------------------------------------------------------------------- checks
    def version_of(self, front):
        r = request(self.ctx, front.https, "GET", "/api/version")
        return r.status, (r.json() or {}).get("app")

    def wait_version(self, app, timeout=15):
        deadline = time.time() + timeout
        seen = {}
        while time.time() < deadline:
            seen = {f.name: self.version_of(f) for f in self.fronts}
            if all(v == (200, app) for v in seen.values()):
                return True, seen
            time.sleep(0.2)
        return False, seen

    def https_checks(self, front):
        say(f"HTTPS checks through {front.name} (port {front.https})")
        ctx = self.ctx
        r = request(ctx, front.https, "GET", "/api/version")
        CHECKS.check(f"{front.name}: GET /api/version over HTTPS is 200 from the deployed worker",
                     r.status == 200 and (r.json() or {}).get("app") == "kiva-e2e-v1", (r.status, r.body[:200]))
        CHECKS.check(f"{front.name}: HSTS header", "max-age=63072000" in r.headers.get("strict-transport-security", ""),
                     r.headers)
        r = request(None, front.http, "GET", "/api/version")
        CHECKS.check(f"{front.name}: http:// redirects to https://",
                     r.status == 301 and r.headers.get("location", "").startswith(f"https://localhost:{front.https}/"),
                     (r.status, r.headers.get("location")))
        self.unknown_host_checks(front)
        # TLS: HTTP/2 offered by ALPN, TLS 1.1 refused.
        with socket.create_connection(("127.0.0.1", front.https), timeout=10) as raw:
            c = ssl.create_default_context(cafile=self.ca)
            c.set_alpn_protocols(["h2", "http/1.1"])
            with c.wrap_socket(raw, server_hostname="localhost") as s:
                alpn, version = s.selected_alpn_protocol(), s.version()
        CHECKS.check(f"{front.name}: TLS 1.2+ with HTTP/2 by ALPN", alpn == "h2" and version in ("TLSv1.2", "TLSv1.3"),
                     (alpn, version))
        try:
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
            old.set_ciphers("ALL:@SECLEVEL=0")
            with socket.create_connection(("127.0.0.1", front.https), timeout=10) as raw:
                with old.wrap_socket(raw, server_hostname="localhost"):
                    refused = False
        except (ssl.SSLError, OSError):
            refused = True
        CHECKS.check(f"{front.name}: TLS 1.1 is refused", refused)
        # Authentication: the Authorization header really reaches the worker.
        r = request(ctx, front.https, "GET", "/api/whoami", auth=("calvin", "hobbes"))
        CHECKS.check(f"{front.name}: Basic authentication reaches the worker", r.status == 200 and r.json() == "calvin",
                     (r.status, r.body[:200]))
        r = request(ctx, front.https, "GET", "/api/whoami", auth=("calvin", "wrong"))
        CHECKS.check(f"{front.name}: a wrong password is 401 with a challenge",
                     r.status == 401 and "www-authenticate" in r.headers, (r.status, r.headers))
        r = request(ctx, front.https, "GET", "/api/login", auth=("hobbes", "susie"))
        token = r.json() if r.status == 200 else None
        r = request(ctx, front.https, "GET", "/api/qui-suis-je", token=token or "none")
        CHECKS.check(f"{front.name}: Bearer token from /login is accepted by /qui-suis-je",
                     token and r.status == 200 and r.json() == "hobbes", (r.status, r.body[:200]))
        # Create, read, delete.
        name = f"e2e-{front.name}-{os.getpid()}"
        r = request(ctx, front.https, "POST", "/api/stuff", body={"stuff": name})
        sid = (r.json() or {}).get("sid") if r.status == 201 else None
        ok = sid is not None
        if ok:
            g = request(ctx, front.https, "GET", f"/api/stuff/{sid}")
            d = request(ctx, front.https, "DELETE", f"/api/stuff/{sid}")
            g2 = request(ctx, front.https, "GET", f"/api/stuff/{sid}")
            ok = g.status == 200 and g.json() == {"sid": sid, "stuff": name} and d.status == 204 and g2.status == 404
            detail = (g.status, g.body[:100], d.status, g2.status)
        else:
            detail = (r.status, r.body[:200])
        CHECKS.check(f"{front.name}: create / read / delete round trip", ok, detail)
        r = request(ctx, front.https, "POST", "/api/stuff", body=b"stuff=" + b"x" * BODY_LIMIT,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        CHECKS.check(f"{front.name}: a body over the worker's limit is 413 in JSON",
                     r.status == 413 and r.headers.get("content-type", "").startswith("application/json")
                     and "error" in (r.json() or {}), (r.status, r.headers.get("content-type"), r.body[:120]))

    def unknown_host_checks(self, front):
        """The default server/vhost (render-site.sh's nginx-default.conf, apache-default.conf):
        a name that is no instance's is refused, never served by the instance."""
        def raw(port, host, sni, tls=True):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            try:
                if tls:
                    c = ssl.create_default_context(cafile=self.ca)
                    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
                    sock = c.wrap_socket(sock, server_hostname=sni)
                sock.sendall(f"GET /api/version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            finally:
                sock.close()
            head, _, body = data.partition(b"\r\n\r\n")
            return int(head.split()[1]), head.decode(errors="replace").lower(), body
        status, head, body = raw(front.https, "preprod.example", "localhost")
        CHECKS.check(f"{front.name}: a known TLS name with an unknown Host is 421, not served",
                     status == 421 and b"kiva-e2e" not in body, (status, body[:200]))
        try:
            status, head, body = raw(front.https, "preprod.example", "preprod.example")
            detail = (status, body[:200])
            refused = status == 421 and body.strip() == b'{"error": "unknown host"}' and "application/json" in head
        except (ssl.SSLError, OSError) as e:  # nginx: ssl_reject_handshake
            refused, detail = front.name == "nginx", repr(e)
        CHECKS.check(f"{front.name}: an unknown TLS name is refused (nginx: in the handshake; Apache: 421 JSON)",
                     refused, detail)
        status, head, body = raw(front.http, "preprod.example", None, tls=False)
        CHECKS.check(f"{front.name}: an unknown Host over HTTP is 421 JSON, not redirected",
                     status == 421 and body.strip() == b'{"error": "unknown host"}', (status, body[:200]))

    def verify_units(self):
        """The shipped units, checked offline by systemd itself (no init system runs here)."""
        if not shutil.which("systemd-analyze"):
            say("systemd-analyze not installed: the units are only checked by the supervisor")
            return
        d = self.path("units")
        os.makedirs(d)
        for kind in ("socket", "service"):
            shutil.copy(f"{ROOT}/deploy/systemd/kiva@.{kind}", f"{d}/kiva@{INSTANCE}.{kind}")
        shutil.copy(f"{ROOT}/deploy/systemd/kiva-jobs@.service", f"{d}/kiva-jobs@{INSTANCE}.service")
        r = sh(["systemd-analyze", "verify", "--man=no", f"{d}/kiva@{INSTANCE}.socket", f"{d}/kiva@{INSTANCE}.service",
                f"{d}/kiva-jobs@{INSTANCE}.service"], check=False)
        CHECKS.check("systemd-analyze verify accepts kiva@.socket, kiva@.service and kiva-jobs@.service",
                     r.returncode == 0 and not r.stdout.strip(), r.stdout)

    def db_checks(self):
        say("database checks")
        r = sh(["runuser", "-u", INSTANCE, "--", "psql", "-X", "-At", "-c", "DROP TABLE stuff",
                f"host=127.0.0.1 port={self.ports['pg']} dbname={DB} user={DB} sslmode=verify-full sslrootcert={self.ca}"],
               check=False)
        CHECKS.check("the runtime role cannot drop a table", r.returncode != 0 and "must be owner" in r.stdout, r.stdout)
        r = sh(["runuser", "-u", INSTANCE, "--", "psql", "-X", "-At", "-c", "DELETE FROM audit",
                f"host=127.0.0.1 port={self.ports['pg']} dbname={DB} user={DB} sslmode=verify-full sslrootcert={self.ca}"],
               check=False)
        CHECKS.check("the runtime role cannot delete the audit trail (migration 0002)",
                     r.returncode != 0 and "permission denied" in r.stdout, r.stdout)
        r = sh(["runuser", "-u", INSTANCE, "--", "psql", "-X", "-At", "-c",
                "INSERT INTO audit(login, operation, tab, data) VALUES ('calvin', 'DELETE', 'stuff', '{}')",
                f"host=127.0.0.1 port={self.ports['pg']} dbname={DB} user={DB} sslmode=verify-full sslrootcert={self.ca}"],
               check=False)
        CHECKS.check("the runtime role cannot forge an audit row (migration 0005)",
                     r.returncode != 0 and "permission denied" in r.stdout, r.stdout)
        r = sh(["runuser", "-u", INSTANCE, "--", "psql", "-X", "-At", "-c", "SELECT 1",
                f"host=127.0.0.1 port={self.ports['pg']} dbname={DB} user={DB} sslmode=disable"], check=False)
        CHECKS.check("pg_hba refuses the runtime role without TLS", r.returncode != 0 and "no encryption" in r.stdout,
                     r.stdout)
        rows = self.psql_admin(f"SELECT a.application_name, s.ssl, s.version FROM pg_stat_activity a "
                               f"JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '{DB}'").stdout.splitlines()
        CHECKS.check("the workers are connected to PostgreSQL over TLS", rows and all("|t|TLSv1." in x for x in rows), rows)
        rows = self.psql_admin("SELECT version || ' ' || name FROM kiva_meta.schema_version ORDER BY version").stdout
        CHECKS.check("the schema version table lists the migrations",
                     "1 0001-initial-schema" in rows and "2 0002-audit-append-only" in rows
                     and "3 0003-audit-request-id" in rows, rows)
        with open(f"{HOME}/conf/kiva.conf") as f:
            conf = f.read()
        CHECKS.check("the deployed kiva.conf holds no password",
                     "password=" not in conf.replace("password_cost", "") and "listen =" in conf, conf)

    def observability_checks(self):
        say("health, metrics (mod_fcgid processes summed, access restricted) and request ids")
        with open(f"{HOME}/VERSION") as f:
            release = f.read().strip()
        for front in self.fronts:
            r = request(self.ctx, front.https, "GET", "/api/health")
            CHECKS.check(f"{front.name}: GET /api/health is 200 with the deployed release, never cached",
                         r.status == 200 and r.json() == {"status": "ok", "database": "ok", "release": release}
                         and r.headers.get("cache-control") == "no-store", (r.status, r.body[:200], release))
            allowed = {"127.0.0.1": 200, "127.0.0.2": 403, "127.0.0.3": 403 if front is self.proxy else 200}
            seen = {src: source_get(self.ctx, front.https, "/api/metrics", src) for src in allowed}
            CHECKS.check(f"{front.name}: /api/metrics from loopback and the monitoring network only, 403 JSON otherwise",
                         {src: r.status for src, r in seen.items()} == allowed
                         and seen["127.0.0.2"].json() == {"error": "forbidden"}
                         and seen["127.0.0.2"].headers.get("content-type", "").startswith("application/json"),
                         {src: (r.status, r.body[:80]) for src, r in seen.items()})
            rid = f"e2e-{front.name}-{time.time_ns()}"
            r = request(self.ctx, front.https, "GET", "/api/stuff/1", headers={"X-Request-ID": rid})
            CHECKS.check(f"{front.name}: a client's X-Request-ID comes back", r.headers.get("x-request-id") == rid,
                         r.headers)
        # Apache's own id (mod_unique_id) when the client sends none, in its access log and the worker's line.
        r = request(self.ctx, self.fcgid.https, "GET", "/api/stuff/1")
        rid = r.headers.get("x-request-id", "")
        time.sleep(1)
        logs = {name: open(self.path("apache", "log", name), errors="replace").read()
                for name in ("error.log", "kiva-e2e-fcgid-ssl-access.log")}
        CHECKS.check("apache-fcgid: the request id is Apache's UNIQUE_ID, in its access log and the worker's line",
                     len(rid) >= 20 and not re.fullmatch(r"[0-9a-f]{32}", rid)
                     and rid in logs["kiva-e2e-fcgid-ssl-access.log"] and f"rid={rid} - GET /stuff/1 200" in logs["error.log"],
                     rid)
        # Several processes under mod_fcgid: each request counted once, whichever process answers the scrape.
        def count(text):
            m = re.search(r'^kiva_http_requests_total\{route="/owned",method="GET",status="401"\} (\d+)$', text, re.M)
            return int(m.group(1)) if m else 0
        before = count(source_get(self.ctx, self.fcgid.https, "/api/metrics", "127.0.0.1").body.decode())
        # Six clients for 4 s (at most 300 requests each): mod_fcgid starts more processes when
        # requests wait for a free one.
        sent = []
        def burst():
            n, end = 0, time.time() + 4
            while time.time() < end and n < 300:
                request(self.ctx, self.fcgid.https, "GET", "/api/owned")
                n += 1
            sent.append(n)
        # mod_fcgid's spawning is a heuristic (its spawn score): when one burst was served by a
        # single process, another follows, three at most.
        for _ in range(3):
            workers = [threading.Thread(target=burst) for _ in range(6)]
            for t in workers:
                t.start()
            for t in workers:
                t.join()
            time.sleep(1)  # the workers' log lines are written in batches
            with open(self.path("apache", "log", "error.log"), errors="replace") as f:
                served = set(re.findall(r"\[(\d+)\] INFO rid=\S+ - GET /owned 401 ", f.read()))
            if len(served) >= 2:
                break
        scrapes = [source_get(self.ctx, self.fcgid.https, "/api/metrics", "127.0.0.1").body.decode() for _ in range(8)]
        counts = [count(text) - before for text in scrapes]
        CHECKS.check(f"apache-fcgid: every scrape sums the {len(served)} mod_fcgid processes that served "
                     f"{sum(sent)} requests", len(served) >= 2 and counts == [sum(sent)] * len(counts),
                     (served, counts))
        # Shared with the supervised worker and the jobs worker too (metrics_file in kiva.conf):
        # whoever made it, it is the app's group's, 0660 (the units' UMask=0077 notwithstanding).
        st = os.stat(f"{HOME}/run/metrics")
        CHECKS.check("the worker processes share the metrics file in the app's run/ directory (app group, 0660)",
                     pwd.getpwuid(st.st_uid).pw_name in ("www-data", INSTANCE)
                     and grp.getgrgid(st.st_gid).gr_name == INSTANCE and st.st_mode & 0o777 == 0o660, st)
        r = subprocess.run(["promtool", "check", "metrics"], input=scrapes[-1].encode(), capture_output=True)
        CHECKS.check("promtool check metrics accepts the deployed worker's /metrics", r.returncode == 0 and not r.stdout
                     and not r.stderr, r.stdout + r.stderr)
        for front in (self.nginx, self.proxy):
            text = source_get(self.ctx, front.https, "/api/metrics", "127.0.0.1").body.decode()
            CHECKS.check(f"{front.name}: the systemd worker's /metrics counts its requests",
                         'route="/stuff/<sid:int>",method="GET",status="200"' in text, text[:200])

    def process_checks(self):
        say("worker processes")
        # A request through each front end so that both kinds of workers run.
        for front in (self.fcgid, self.nginx):
            request(self.ctx, front.https, "GET", "/api/version")
        procs = self.worker_processes()
        apache_children = {pid: p for pid, p in procs.items() if p[0] == "www-data"}
        spid = self.supervised_pid()
        CHECKS.check("under the supervisor the worker runs as the app user",
                     spid in procs and procs[spid][0] == INSTANCE, (spid, procs))
        # THREADS=2 in kiva.conf, KIVA_THREADS=1 from the vhost: one thread fewer under mod_fcgid.
        supervised_threads = procs[spid][2] if spid in procs else 0
        CHECKS.check("under mod_fcgid the worker runs as Apache's user with one request thread",
                     apache_children and all(p[2] == supervised_threads - 1 for p in apache_children.values()), procs)
        jobs = self.jobs_pid()
        CHECKS.check("make deploy started the jobs worker (kiva-jobs@.service) as the app user",
                     jobs in procs and procs[jobs][0] == INSTANCE, (jobs, procs))
        # It serves no HTTP: its slot in run/metrics is what the worker's /metrics shows of it.
        text = source_get(self.ctx, self.nginx.https, "/api/metrics", "127.0.0.1").body.decode()
        CHECKS.check("the systemd worker's /metrics counts the jobs worker (kiva_jobs_worker_processes 1)",
                     "\nkiva_jobs_worker_processes 1\n" in text,
                     [line for line in text.splitlines() if "kiva_jobs_" in line][:10])

    def credentials_not_logged(self):
        """A password sent in a query string (the param scheme) stays out of every log."""
        secret = f"pw-{os.getpid()}-{time.time_ns()}"
        for front in self.fronts:
            request(self.ctx, front.https, "GET", f"/api/whoami?USER=hobbes&PASS={secret}")
        time.sleep(0.5)  # the worker's log lines are written in batches
        found = []
        for top in (self.dir, f"{HOME}/log"):
            for base, _, files in os.walk(top):
                for name in files:
                    if name.endswith(".log"):
                        path = os.path.join(base, name)
                        with open(path, errors="replace") as f:
                            if secret in f.read():
                                found.append(path)
        CHECKS.check("a password in a query string appears in no access or worker log", not found, found)

    # ----------------------------------------------------------------------- scenario
    def run(self):
        self.certificates()
        self.postgres()
        self.prepare_db()
        self.backup_setup()
        self.prepare_target()
        self.sshd()
        self.supervisor()
        self.web_servers()
        self.write_deploy_conf("kiva-e2e-v1")

        rc, out = self.make("deploy", "DRY_RUN=1")
        CHECKS.check("make deploy DRY_RUN=1 prints the commands and runs none",
                     rc == 0 and "+ rsync" in out and "psql" in out and "+ cmake" in out
                     and not os.path.exists(f"{HOME}/bin/kiva"), self.tail(out))

        with open(self.deploy_conf) as f:
            conf = f.read()
        with open(self.deploy_conf, "a") as f:
            f.write("CONF_db_replica=host=db.example dbname=kiva password=not-here\n")
        rc, out = self.make("deploy", "DRY_RUN=1")
        with open(self.deploy_conf, "w") as f:
            f.write(conf)
        CHECKS.check("make deploy refuses a password in CONF_db_replica (it belongs in ~/.pgpass)",
                     rc != 0 and "CONF_db_replica must not contain a password" in out and "+ rsync" not in out,
                     self.tail(out))

        rc, out = self.make("deploy")
        CHECKS.check("make deploy on a database never initialized stops, nothing switched",
                     rc != 0 and "never initialized" in out and "make deploy-init" in out
                     and not os.path.exists(f"{HOME}/bin/kiva"), self.tail(out))

        rc, out = self.make("deploy-init")
        CHECKS.require("make deploy-init creates the schema", rc == 0, self.tail(out))
        counts = self.psql_admin("SELECT (SELECT count(*) FROM utilisateur) || ' ' || (SELECT count(*) FROM stuff) "
                                 "|| ' ' || (SELECT count(*) FROM owned)").stdout.strip()
        CHECKS.check("without DEMO_DATA=1, deploy-init creates no user and no demo row", counts == "0 0 0", counts)
        # Again from scratch with the demo users, which the checks below log in with.
        # Every table of the schema, whichever migrations made them.
        self.psql_admin("DROP SCHEMA kiva_meta CASCADE; DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM "
                        "pg_tables WHERE schemaname = 'public' LOOP EXECUTE format('DROP TABLE %I CASCADE', t); "
                        "END LOOP; END $$; DROP FUNCTION kiva_audit()")
        rc, out = self.make("deploy-init", "DEMO_DATA=1")
        CHECKS.require("make deploy-init DEMO_DATA=1 creates the schema and loads the demo data and users",
                       rc == 0 and self.psql_admin("SELECT count(*) FROM utilisateur").stdout.strip() == "3", self.tail(out))
        rc, out = self.make("deploy-init")
        CHECKS.check("make deploy-init refuses a database that has the tables",
                     rc != 0 and "already has tables" in out, self.tail(out))

        rc, out = self.make("deploy")
        CHECKS.require("make deploy: release build, unit tests, upload, migrations, switch, restart",
                       rc == 0 and "deploy done" in out, self.tail(out, 40))
        for step in ("building the release binary", "running the unit tests", "uploading", "applying the pending migrations",
                     "switching to the new release", "restarting the worker gracefully",
                     "restarting the jobs worker gracefully"):
            CHECKS.check(f"make deploy says what it does: {step}", step in out)
        ok, seen = self.wait_version("kiva-e2e-v1")
        CHECKS.require("every front end answers from the deployed worker", ok, seen)
        self.fcgid_pool_checks(out)

        self.verify_units()
        for front in self.fronts:
            self.https_checks(front)
        self.db_checks()
        self.first_admin()
        self.schema_drift()
        self.verify_full()
        self.connection_limits()
        self.log_rotation()
        self.process_checks()
        self.observability_checks()
        self.credentials_not_logged()
        self.worker_log_names()
        self.failed_migration()
        self.redeploy_under_load()
        self.kill_checks()
        self.rollback()
        self.day2()
        self.old_processes_retired()
        self.suexec_instances()
        with open(f"{HOME}/log/deploy.log") as f:
            lines = f.read().splitlines()
        CHECKS.check("each deploy is recorded in the target's log/deploy.log",
                     sum(" deploy of " in x for x in lines) >= 2 and any(" rollback to " in x for x in lines), lines)
        self.forced_rotation()

    def fcgid_pool(self):
        """The processes mod_fcgid runs now of the current binary: pid -> parent."""
        current = os.stat(f"{HOME}/bin/kiva").st_ino
        return {pid: p[1] for pid, p in self.worker_processes().items() if p[0] == "www-data" and p[3] == current}

    def fcgid_pool_checks(self, deploy_out):
        say(f"mod_fcgid's pool is full ({FCGID_POOL}) after a deploy, a graceful reload and a start")
        pool = self.fcgid_pool()
        CHECKS.check(f"make deploy reports the pool size reached ({FCGID_POOL}/{FCGID_POOL}) and it is so",
                     f"pool {FCGID_POOL}/{FCGID_POOL}" in deploy_out and len(pool) == FCGID_POOL, (len(pool), self.tail(deploy_out, 8)))
        # logrotate's reload: apache2.service's ExecReload then the drop-in's, as the supervisor runs them.
        r = sh(["python3", self.path("fake_systemd.py"), "reload-apache2", "--control", self.control], check=False)
        after = self.fcgid_pool()
        CHECKS.check(f"after a graceful reload the pool is full again, of new processes ({FCGID_POOL})",
                     r.returncode == 0 and len(after) == FCGID_POOL and not set(after) & set(pool), (r.stdout, len(after)))
        # A start: Apache stopped and started, then the drop-in's ExecStartPost.
        self.procs["apache"].terminate()
        self.procs["apache"].wait(30)
        self.procs["apache"] = subprocess.Popen(["apache2", "-f", self.path("apache", "httpd.conf"), "-DFOREGROUND"],
                                                stdout=open(self.path("apache", "stdout.log"), "a"), stderr=subprocess.STDOUT)
        for front in (self.fcgid, self.proxy):
            self.wait_port(front.https, front.name)
        r = sh(self.dropin("ExecStartPost").lstrip("-").split(), check=False)
        started = self.fcgid_pool()
        CHECKS.check(f"after Apache starts, the drop-in fills the pool ({FCGID_POOL})",
                     r.returncode == 0 and len(started) == FCGID_POOL, (r.stdout, len(started)))

    def fcgid_times(self, since):
        """Requests of the mod_fcgid vhost that started at `since` or later, as Apache logged them:
        (start, %D in ms); not the warm-up's (agent kiva-fcgid-warm), which wait by design."""
        times = []
        with open(self.path("apache", "log", f"{INSTANCE}-fcgid-ssl-access.log")) as f:
            for line in f:
                if '"kiva-fcgid-warm"' in line:
                    continue
                m = re.search(r"\[([^\]]+)\].* (\d+) \S+$", line)
                if m:
                    start = datetime.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
                    if start >= since:
                        times.append((start, int(m.group(2)) / 1000))
        return times

    def failed_migration(self):
        say("failing migrations: nothing is switched, the worker keeps the running release")
        bad = self.path("migrations-bad")
        shutil.copytree(f"{ROOT}/examples/course/sql/migrations", bad)
        with open(f"{bad}/0098-e2e-fine.sql", "w") as f:
            f.write("CREATE TABLE e2e_fine(x int);\n")
        with open(f"{bad}/0099-e2e-fails.sql", "w") as f:
            f.write("CREATE TABLE e2e_half_done(x int);\nSELECT 1/0;\n")
        inode = os.stat(f"{HOME}/bin/kiva").st_ino
        exists = "SELECT to_regclass('e2e_fine') IS NOT NULL, to_regclass('e2e_half_done') IS NOT NULL, " \
                 "(SELECT count(*) FROM kiva_meta.schema_version WHERE version >= 98)"
        # All pending migrations in one transaction: nothing of them stays.
        self.write_deploy_conf("kiva-e2e-never", "MIGRATION_TRANSACTIONS=single\n")
        rc, out = self.make("deploy", env={"KIVA_MIGRATIONS_DIR": bad})
        state = self.psql_admin(exists).stdout.strip()
        CHECKS.check("a failing migration (single transaction) stops make deploy, none applied",
                     rc != 0 and "division by zero" in out and "none was applied, nothing was switched" in out
                     and state == "f|f|0", (state, self.tail(out)))
        # One transaction each (the default): the migration before the failing one stays.
        self.write_deploy_conf("kiva-e2e-never")
        rc, out = self.make("deploy", env={"KIVA_MIGRATIONS_DIR": bad})
        state = self.psql_admin(exists).stdout.strip()
        CHECKS.check("a failing migration (one transaction each) stops make deploy, rolled back alone",
                     rc != 0 and "division by zero" in out and "nothing was switched" in out and state == "t|f|1",
                     (state, self.tail(out)))
        CHECKS.check("after them, the same binary and release still answer",
                     os.stat(f"{HOME}/bin/kiva").st_ino == inode and self.version_of(self.fcgid) == (200, "kiva-e2e-v1")
                     and self.version_of(self.nginx) == (200, "kiva-e2e-v1"))
        # Leave the database as the real release expects it.
        self.psql_admin("DROP TABLE e2e_fine; DELETE FROM kiva_meta.schema_version WHERE version = 98")
        self.write_deploy_conf("kiva-e2e-v2")

    def redeploy_under_load(self):
        say("second deploy (new binary, new configuration) while requests run against every front end")
        with open(f"{HOME}/bin/kiva", "rb") as f:
            old_sha = hashlib.sha256(f.read()).hexdigest()
        old_inode = os.stat(f"{HOME}/bin/kiva").st_ino
        old_supervised = self.supervised_pid()
        old_jobs = self.jobs_pid()
        load = Load(self.ctx, [(self.fcgid, 2), (self.nginx, 2), (self.proxy, 1)]).start()
        since = int(time.time())
        time.sleep(1)
        rc, out = self.make("deploy")
        done = time.time()
        time.sleep(5)
        load.stop()
        CHECKS.check("second make deploy succeeds", rc == 0 and "deploy done" in out, self.tail(out))
        # As Apache saw them (%D): a request that waited for mod_fcgid's pool took a second. The
        # deploy reloads nothing: the new binary's pool is filled in the other class from loopback
        # before clients move to it (fcgid-warm.sh --switch), so no request may wait, during the
        # deploy or after it.
        times = self.fcgid_times(since)
        slow = [round(t) for _, t in times if t >= 900]
        after = [(s_, round(t)) for s_, t in times if s_ >= int(done) + 1]
        say(f"apache-fcgid during the deploy (2 clients): {len(times)} requests, {len(slow)} >= 900 ms {slow[:20]} "
            f"(server side), pool after it {len(self.fcgid_pool())}")
        CHECKS.check(f"apache-fcgid: no request >= 900 ms during make deploy and after it ({len(times)} requests, "
                     f"{len(after)} in the 5 s after)", after and not slow, slow[:10])
        CHECKS.check(f"apache-fcgid: the pool of the new binary is full after the deploy ({FCGID_POOL})",
                     len(self.fcgid_pool()) == FCGID_POOL, len(self.fcgid_pool()))
        total = sum(load.ok.values())
        say(f"request loop: {load.ok} successes, {len(load.failures)} failures, answers by app: {load.apps}")
        CHECKS.check(f"zero failed requests during the deploy ({total} requests)", total > 200 and not load.failures,
                     load.failures[:10])
        for front in (self.fcgid, self.nginx, self.proxy):
            CHECKS.check(f"{front.name}: the old release answered during the deploy and the new one after",
                         load.apps.get((front.name, "kiva-e2e-v1"), 0) > 0 and load.apps.get((front.name, "kiva-e2e-v2"), 0) > 0,
                         load.apps)
        ok, seen = self.wait_version("kiva-e2e-v2", timeout=5)
        CHECKS.check("the new release answers through every front end", ok, seen)
        with open(f"{HOME}/bin/kiva", "rb") as f:
            data = f.read()
        new_inode = os.stat(f"{HOME}/bin/kiva").st_ino
        with open(f"{HOME}/VERSION") as f:
            release = f.read().strip()
        CHECKS.check("a new binary was installed (new inode, new content carrying its release)",
                     new_inode != old_inode and hashlib.sha256(data).hexdigest() != old_sha and release.encode() in data,
                     release)
        procs = self.worker_processes()
        spid = self.supervised_pid()
        CHECKS.check("the supervised worker was restarted on the new binary",
                     spid != old_supervised and spid in procs and procs[spid][3] == new_inode, (old_supervised, spid, procs))
        jobs = self.jobs_pid()
        CHECKS.check("the jobs worker was restarted on the new binary (JOBS_RESTART_COMMAND)",
                     jobs != old_jobs and jobs in procs and procs[jobs][3] == new_inode, (old_jobs, jobs, procs))
        request(self.ctx, self.fcgid.https, "GET", "/api/version")
        fresh = [pid for pid, p in self.worker_processes().items() if p[0] == "www-data" and p[3] == new_inode]
        CHECKS.check("mod_fcgid started processes of the new binary", bool(fresh), self.worker_processes())

    def kill_checks(self):
        say("killing worker processes (SIGKILL) while requests run")
        for front, kill in ((self.fcgid, "apache"), (self.nginx, "supervisor")):
            before = self.worker_processes()
            if kill == "apache":
                victims = [pid for pid, p in before.items() if p[0] == "www-data"]
            else:
                victims = [self.supervised_pid()]
            load = Load(self.ctx, [(front, 1)]).start()
            time.sleep(0.5)
            killed_at = time.time()
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(3)
            load.stop()
            late = [f for f in load.failures if f[1] > killed_at + 1.5]
            after = self.worker_processes()
            new = [pid for pid in after if pid not in before]
            say(f"{front.name}: killed {victims}; {sum(load.ok.values())} requests served, "
                f"{len(load.failures)} failed (requests in flight at the kill), new workers {new}")
            CHECKS.check(f"{front.name}: after killing the worker ({kill}), requests are served again",
                         victims and not late and load.ok.get(front.name, 0) > 20 and new, (late[:5], new))
            seq = [request(self.ctx, front.https, "GET", "/api/stuff/1").status for _ in range(10)]
            CHECKS.check(f"{front.name}: ten requests after the kill all succeed", seq == [200] * 10, seq)
        with open(self.path("supervisor.log")) as f:
            CHECKS.check("the supervisor restarted the killed worker (Restart=on-failure)",
                         "exited (signal SIGKILL), restarting" in f.read())

    def rollback(self):
        say("deploy/deploy.sh rollback: the previous release comes back")
        e = dict(os.environ, DEPLOY_CONF=self.deploy_conf)
        r = subprocess.run([f"{ROOT}/deploy/deploy.sh", "rollback"], text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=e)
        with open(self.make_log, "a") as f:
            f.write(f"\n===== deploy.sh rollback -> {r.returncode}\n{r.stdout}")
        CHECKS.check("deploy.sh rollback succeeds", r.returncode == 0 and "rollback done" in r.stdout, self.tail(r.stdout))
        ok, seen = self.wait_version("kiva-e2e-v1")
        CHECKS.check("after the rollback, the previous release answers through every front end", ok, seen)
        r = subprocess.run([f"{ROOT}/deploy/deploy.sh", "status"], text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=e)
        CHECKS.check("deploy.sh status shows the running release and the schema version",
                     r.returncode == 0 and "runs: " in r.stdout and "3 0003-audit-request-id" in r.stdout, self.tail(r.stdout))

    def old_processes_retired(self):
        say("mod_fcgid retires the processes of replaced binaries once idle")
        current = os.stat(f"{HOME}/bin/kiva").st_ino
        deadline = time.time() + 30
        stale = None
        while time.time() < deadline:
            stale = {pid: p for pid, p in self.worker_processes().items() if p[0] == "www-data" and p[3] != current}
            if not stale:
                break
            time.sleep(1)
        CHECKS.check("no mod_fcgid process of an old binary is left", not stale, stale)


def preflight():
    missing = [t for t in ("apache2", "nginx", "/usr/sbin/sshd", "ssh", "rsync", "openssl", "psql", "make", "cmake")
               if not shutil.which(t)]
    if not os.path.exists("/usr/lib/apache2/modules/mod_fcgid.so"):
        missing.append("libapache2-mod-fcgid")
    if not PGBIN:
        missing.append("postgresql")
    return missing


def main():
    if os.geteuid() != 0:
        print("deploy test: skipped: it needs root (it creates the unix user kiva-e2e, runs sshd, Apache and nginx)")
        print("deploy test: 0 checks passed, 0 failed")
        return 0
    missing = preflight()
    if missing:
        print(f"deploy test: missing {', '.join(missing)} (deploy/dev/install-deps.sh deploy run)")
        print("deploy test: 0 checks passed, 1 failed")
        return 1
    # One deployment test at a time on this machine: it owns the user kiva-e2e and its socket.
    os.makedirs("/run/lock", exist_ok=True)
    lock = open("/run/lock/kiva-deploy-test.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    test = DeployTest()
    say(f"deploy test in {test.dir}; ports {test.ports}")

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    try:
        test.run()
    except Abort as e:
        print(f"  stopped: {str(e).splitlines()[0] if str(e) else e}", flush=True)
        if not CHECKS.failed:
            CHECKS.failed.append(str(e))
    except (Exception, KeyboardInterrupt) as e:
        import traceback
        traceback.print_exc()
        CHECKS.failed.append(f"error: {e!r}")
    finally:
        if CHECKS.failed:
            for name, path in (("make", test.make_log), ("Apache", test.path("apache", "log", "error.log")),
                               ("supervisor", test.path("supervisor.log")), ("systemd worker", test.path("systemd-worker.log")),
                               ("nginx", test.path("nginx", "log", "error.log"))):
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        lines = f.read().splitlines()[-30:]
                    print(f"--- last lines of the {name} log ({path}):")
                    print("\n".join(lines))
        test.cleanup()
    elapsed = time.time() - START
    print(f"deploy test: {CHECKS.passed} checks passed, {len(CHECKS.failed)} failed ({elapsed:.0f}s)")
    if CHECKS.failed:
        print("failed: " + "; ".join(CHECKS.failed))
    return 1 if CHECKS.failed else 0


if __name__ == "__main__":
    sys.exit(main())
