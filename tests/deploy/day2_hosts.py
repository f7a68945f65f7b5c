"""Logs and the database host of the deployment test (deploy/README.md: "Logs", "The database
host"), on the target of e2e.py: the logrotate rules prepare-target.sh installs, the worker's
lines named after the instance under mod_fcgid and systemd, the connection limits against
max_connections, and verify-full against the private CA only."""

import fnmatch
import os
import pwd
import re
import time

from support import CHECKS, DB, DEPLOYER, HOME, INSTANCE, ROOT, request, say, sh

ROTATE_RULES = f"/etc/logrotate.d/kiva-{INSTANCE}"


class Day2Hosts:
    """Mixed into DeployTest (e2e.py): needs its target (ports, paths, fronts, ca)."""

    # ----------------------------------------------------------------------- logs
    def worker_log_names(self):
        say("logs: the worker's lines carry the instance name (mod_fcgid: Apache's error log; systemd worker)")
        for front in self.fronts:
            request(self.ctx, front.https, "GET", f"/api/log-name-{os.getpid()}")   # a 404, logged with its path
        ours = re.compile(r"Z " + re.escape(INSTANCE) + r"\[\d+\] ")
        for what, path in (("mod_fcgid (Apache's main error log)", self.path("apache", "log", "error.log")),
                           ("the systemd worker", self.worker_log)):
            found = []
            for _ in range(20):   # the worker writes its lines in batches
                with open(path, errors="replace") as f:
                    found = [x for x in f.read().splitlines() if f"log-name-{os.getpid()}" in x]
                if found:
                    break
                time.sleep(0.25)
            CHECKS.check(f"{what}: the worker's request lines carry the instance name ({INSTANCE}[pid])",
                         found and all(ours.search(x) for x in found), found[:3])

    def log_rotation(self):
        say("logs: the logrotate rules of prepare-target.sh (logrotate -d, then a forced rotation)")
        st = os.stat(ROTATE_RULES) if os.path.exists(ROTATE_RULES) else None
        CHECKS.check(f"prepare-target.sh installs {ROTATE_RULES} (root, 0644)",
                     st and st.st_uid == 0 and st.st_mode & 0o777 == 0o644)
        state = self.path("logrotate.state")
        r = sh(["logrotate", "-d", "-s", state, ROTATE_RULES], check=False, cwd="/")
        CHECKS.check("logrotate -d accepts the rules and considers log/deploy.log",
                     r.returncode == 0 and f"{HOME}/log/deploy.log" in r.stdout and "error" not in r.stdout.lower(), r.stdout)
        # Apache's and nginx's logs of the instance (default directories) fall under their packages' rules.
        sh([f"{ROOT}/deploy/render-site.sh", "--instance", INSTANCE, "--server-name", "localhost", "--cert", self.cert,
            "--key", self.key, "--body-limit", "256K", "--out", self.path("render-defaults")])
        paths = []
        for name in os.listdir(self.path("render-defaults")):
            with open(self.path("render-defaults", name)) as f:
                paths += re.findall(r"(?:ErrorLog|CustomLog|access_log|error_log)\s+(\S+\.log)", f.read())
        paths = [p.replace("${APACHE_LOG_DIR}", "/var/log/apache2") for p in paths]
        globs = []
        for pkg in ("apache2", "nginx"):
            with open(f"/etc/logrotate.d/{pkg}") as f:
                globs += re.findall(r"^(/\S+)\s*\{?\s*$", f.read(), re.M)
        uncovered = [p for p in paths if not any(fnmatch.fnmatch(p, g) for g in globs)]
        CHECKS.check("every Apache and nginx log of the rendered vhosts is rotated by its package's rules",
                     paths and not uncovered, (uncovered, globs))

    def forced_rotation(self):
        """Last: deploy.log rotated, then written again by the deploy account."""
        state = self.path("logrotate.state")
        r = sh(["logrotate", "-f", "-s", state, ROTATE_RULES], check=False, cwd="/")
        st = os.stat(f"{HOME}/log/deploy.log") if os.path.exists(f"{HOME}/log/deploy.log") else None
        w = self.as_deployer(f"echo \"$(date -u +%FT%TZ) after the rotation\" >>{HOME}/log/deploy.log && echo written")
        CHECKS.check("a rotation keeps deploy.log.1 and a new deploy.log the deploy account writes (0640)",
                     r.returncode == 0 and os.path.exists(f"{HOME}/log/deploy.log.1") and st
                     and pwd.getpwuid(st.st_uid).pw_name == DEPLOYER and st.st_mode & 0o777 == 0o640
                     and "written" in w.stdout, (r.stdout, w.stdout))

    # ----------------------------------------------------------------------- the database host
    def prepare_db_args(self, connections):
        return [f"{ROOT}/deploy/prepare-db.sh", "--instance", INSTANCE, "--app-host", "127.0.0.1",
                "--pg-hba", self.path("pg", "data", "pg_hba.conf"), "--secrets-dir", self.path("secrets"),
                "--pg-socket-dir", self.path("pg"), "--pg-port", str(self.ports["pg"]),
                "--runtime-connections", str(connections)]

    def connection_limits(self):
        say("database host: the roles' connection limits against max_connections")
        max_conn = int(self.psql_admin("SHOW max_connections", db="postgres").stdout)
        r = sh(self.prepare_db_args(max_conn), check=False)
        over = r.returncode == 0 and "add up to" in r.stdout and f"max_connections = {max_conn}" in r.stdout
        r2 = sh(self.prepare_db_args(40), check=False)
        CHECKS.check("prepare-db.sh warns when the connection limits add up to more than max_connections, not otherwise",
                     over and r2.returncode == 0 and "add up to" not in r2.stdout and "connection limits: 43 of" in r2.stdout,
                     r.stdout + r2.stdout)

    def verify_full(self):
        say("database host: sslmode=verify-full against the private CA, and only it")
        base = f"port={self.ports['pg']} dbname={DB} user={DB} sslmode=verify-full"

        def connect(conninfo):
            return sh(["runuser", "-u", INSTANCE, "--", "psql", "-X", "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                       conninfo], check=False, cwd="/")
        ok = connect(f"host=127.0.0.1 {base} sslrootcert={self.ca}")   # .pgpass: the line of 127.0.0.1
        CHECKS.check("the worker's user connects with sslmode=verify-full, sslrootcert = the private CA",
                     ok.returncode == 0 and ok.stdout.strip() == "t", ok.stdout)
        name = connect(f"host=db.invalid hostaddr=127.0.0.1 {base} sslrootcert={self.ca}")
        CHECKS.check("verify-full refuses a certificate for another name",
                     name.returncode != 0 and "does not match host name" in name.stdout, name.stdout)
        public = connect(f"host=localhost {base} sslrootcert=/etc/ssl/certs/ca-certificates.crt")
        CHECKS.check("verify-full with the public CAs instead of the private one is refused",
                     public.returncode != 0 and "certificate verify failed" in public.stdout, public.stdout)
