"""The first admin and the schema of the deployment test (deploy/README.md: "The first admin",
sql/migrations/README.md), on the target of e2e.py: kiva-admin run as the worker's user on
the target, then logins with it over HTTPS; and the schema of the instance made by
deploy-init compared with an instance of the first release migrated step by step and with
sql/create.sql (make run's), by their normalized `pg_dump --schema-only`."""

import hashlib
import os
import re
import shutil
import subprocess
import time

from support import CHECKS, DB, HOME, INSTANCE, OWNER, PGBIN, ROOT, request, say, sh

AS_PG = ["runuser", "-u", "postgres", "--"]

# sql/migrations/0001-initial-schema.sql as the first release shipped it (checksums.former).
OLD_0001 = ("-- The schema of the first release: sql/create.sql (idempotent), included rather than copied.\n"
            "\\ir ../create.sql\n")


class Day2Schema:
    """Mixed into DeployTest (e2e.py): needs its target (ports, paths, fronts, psql_admin)."""

    # ----------------------------------------------------------------------- the first admin
    def kiva_admin(self, *args, stdin=""):
        """kiva-admin of the deployed release, as the worker's user (cwd /: its .pgpass, its kiva.conf)."""
        return sh(["runuser", "-u", INSTANCE, "--", f"{HOME}/bin/kiva-admin", "--config", f"{HOME}/conf/kiva.conf",
                   *args], check=False, cwd="/", input=stdin)

    def first_admin(self):
        say("the first admin: kiva-admin on the target as the worker's user, then logins over HTTPS")
        login, password = "e2e-admin", f"first-admin-{os.getpid()}-{time.time_ns()}"
        r = self.kiva_admin("create-user", login, "--admin", "--password-file", "-", stdin=password + "\n")
        CHECKS.check("kiva-admin create-user --admin --password-file - creates the admin",
                     r.returncode == 0 and f"created admin {login}" in r.stdout, r.stdout)
        row = self.psql_admin(f"SELECT isadmin, pword FROM utilisateur WHERE login = '{login}'").stdout.strip()
        CHECKS.check("its password is stored as a bcrypt hash of the worker's password_cost (4 in this kiva.conf)",
                     row.startswith("t|$2b$04$") and password not in row, row)
        who = self.psql_admin(f"SELECT login FROM audit WHERE tab = 'utilisateur' AND data->>'login' = '{login}'").stdout
        CHECKS.check("the audit trail records kiva-admin and the unix account that created it",
                     who.strip() == f"kiva-admin:{int(sh(['id', '-u', INSTANCE]).stdout)}", who)
        for front in self.fronts:
            r = request(self.ctx, front.https, "GET", "/api/admin", auth=(login, password))
            t = request(self.ctx, front.https, "GET", "/api/login", auth=(login, password))
            w = request(self.ctx, front.https, "GET", "/api/whoami", token=t.json() if t.status == 200 else "none")
            CHECKS.check(f"{front.name}: the new admin logs in over HTTPS (Basic on /admin, then a token)",
                         r.status == 200 and r.json() == f"hello admin {login}!" and w.status == 200 and w.json() == login,
                         (r.status, r.body[:100], t.status, w.status))
        # A plain user, its password from a file only the worker's user reads; a quote in the login.
        pw_file = self.path("user.password")
        with open(pw_file, "w") as f:
            f.write("a password from a file\n")
        os.chmod(pw_file, 0o600)
        shutil.chown(pw_file, INSTANCE)
        quoted = "o'brien;--"
        r = self.kiva_admin("create-user", quoted, "--password-file", pw_file)
        a = request(self.ctx, self.nginx.https, "GET", "/api/admin", auth=(quoted, "a password from a file"))
        w = request(self.ctx, self.nginx.https, "GET", "/api/whoami", auth=(quoted, "a password from a file"))
        CHECKS.check("kiva-admin create-user --password-file FILE: a user, not an admin (quotes kept as data)",
                     r.returncode == 0 and w.status == 200 and w.json() == quoted and a.status == 403,
                     (r.stdout, w.status, a.status))
        r = self.kiva_admin("create-user", login, "--password-file", "-", stdin="another password\n")
        s = self.kiva_admin("create-user", "e2e-short", "--password-file", "-", stdin="short\n")
        n = self.kiva_admin("create-user", "e2e-nopw")
        CHECKS.check("kiva-admin refuses an existing login, a short password, no password file",
                     r.returncode == 1 and "already exists" in r.stdout and s.returncode == 1 and "fewer than 8" in s.stdout
                     and n.returncode == 2 and "--password-file" in n.stdout, r.stdout + s.stdout + n.stdout)

    # ----------------------------------------------------------------------- schema drift
    def pg(self, *args, db="postgres", stdin=None):
        return sh(AS_PG + [f"{PGBIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.path("pg"),
                           "-p", str(self.ports["pg"]), "-d", db, *args], check=False, cwd="/", input=stdin)

    def new_database(self, name):
        """A database prepared like the instance's by sql/roles.sql (same roles, privileges)."""
        with open(f"{ROOT}/deploy/postgres/roles.sql") as f:
            roles = f.read()
        r = self.pg("-v", f"database={name}", "-v", f"owner={OWNER}", "-v", f"runtime={DB}", "-v", "runtime_connections=40",
                    "-f", "-", stdin=roles)
        CHECKS.require(f"sql/roles.sql prepares the database {name}", r.returncode == 0, r.stdout)

    def as_owner(self, db, script):
        """Runs a psql script file in db as the owner role (SET ROLE from postgres), as deploy.sh runs it."""
        return self.pg("-v", f"owner={OWNER}", "-v", f"runtime={DB}", "-c", f'SET ROLE "{OWNER}"', "-f", script, db=db)

    def generated(self, function, *args):
        """A psql script of deploy/lib/migrations.sh (what deploy.sh stages), as text."""
        return sh(["bash", "-c", f'die() {{ echo "$*" >&2; exit 1; }}; . "$0"/deploy/lib/migrations.sh; {function} "$@"',
                   ROOT, *args], stderr=subprocess.PIPE).stdout

    def schema(self, db, *only):
        """pg_dump --schema-only of db, without comments, blank lines and the dump's random \\restrict key."""
        r = sh(AS_PG + [f"{PGBIN}/pg_dump", "--schema-only", *only, "-h", self.path("pg"), "-p", str(self.ports["pg"]), "-d", db],
               cwd="/", stderr=subprocess.PIPE)
        return "\n".join(x for x in r.stdout.splitlines()
                         if x.strip() and not x.startswith("--") and not re.match(r"\\(un)?restrict ", x))

    def schema_drift(self):
        say("schema drift: deploy-init's schema = the first release's migrated step by step = sql/create.sql's")
        sql = self.path("sql-copy")        # the checkout may be below a private directory: postgres reads here
        shutil.copytree(f"{ROOT}/examples/course/sql", sql)
        shutil.copytree(f"{ROOT}/framework/sql", f"{sql}/kiva")  # as make deploy stages it
        includes = re.findall(r"^\\ir migrations/(\S+)$", open(f"{sql}/create.sql").read(), re.M)
        files = sorted(f for f in os.listdir(f"{sql}/migrations") if re.match(r"\d{4}-.*\.sql$", f))
        CHECKS.check("sql/create.sql includes every migration, in order, and nothing else", includes == files,
                     (includes, files))
        # The first release: 0001 read ../create.sql, whose content is today's 0001.
        old = self.path("first-release", "sql")
        os.makedirs(f"{old}/migrations")
        shutil.copy(f"{sql}/migrations/0001-initial-schema.sql", f"{old}/create.sql")
        with open(f"{old}/migrations/0001-initial-schema.sql", "w") as f:
            f.write(OLD_0001)
        former = open(f"{sql}/migrations/checksums.former").read()
        CHECKS.check("the first release's 0001 has the checksum that checksums.former accepts",
                     hashlib.sha256(OLD_0001.encode()).hexdigest() in former)
        with open(f"{old}/migrations/init.psql", "w") as f:
            f.write(self.generated("init_script", f"{old}/migrations"))
        with open(f"{sql}/migrations/migrate.psql", "w") as f:
            f.write(self.generated("migrate_script", f"{sql}/migrations"))
        with open(f"{sql}/kiva/migrations/migrate.psql", "w") as f:
            f.write(self.generated("framework_migrate_script", f"{sql}/kiva/migrations"))
        os.chmod(self.path("first-release"), 0o755)
        old_db, dev_db = f"{DB}_first", f"{DB}_dev"
        try:
            self.new_database(old_db)
            r = self.as_owner(old_db, f"{old}/migrations/init.psql")
            # make deploy: the framework's migrations (this instance predates them), then the application's
            k = self.as_owner(old_db, f"{sql}/kiva/migrations/migrate.psql")
            m = self.as_owner(old_db, f"{sql}/migrations/migrate.psql")
            CHECKS.check("an instance of the first release (0001 only) migrates step by step to this release",
                         r.returncode == 0 and k.returncode == 0 and m.returncode == 0
                         and "applying the framework migration 0001-auth-state" in k.stdout
                         and "applying 0002-audit-append-only" in m.stdout
                         and "applying 0001" not in m.stdout, r.stdout + k.stdout + m.stdout)
            self.new_database(dev_db)
            d = self.as_owner(dev_db, f"{sql}/kiva/create.sql")
            d = d if d.returncode else self.as_owner(dev_db, f"{sql}/create.sql")  # as make run loads them
            CHECKS.check("sql/create.sql (make run's schema) loads", d.returncode == 0, d.stdout)
            new, migrated = self.schema(DB), self.schema(old_db)
            # make run has no migrations table (kiva_meta): the tables, functions, grants of public.
            new_public, dev = self.schema(DB, "--schema=public"), self.schema(dev_db, "--schema=public")
            CHECKS.check("pg_dump --schema-only: deploy-init's instance = the first release migrated step by step",
                         new == migrated and "CREATE TABLE public.audit" in new, self.diff(new, migrated))
            CHECKS.check("pg_dump --schema-only: deploy-init's instance = sql/create.sql's (schema public)",
                         new_public == dev and "CREATE TABLE public.audit" in dev, self.diff(new_public, dev))
        finally:
            for db in (old_db, dev_db):
                self.pg("-c", f'DROP DATABASE IF EXISTS "{db}"')

    @staticmethod
    def diff(a, b):
        import difflib
        return "\n" + "\n".join(list(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm=""))[:40])
