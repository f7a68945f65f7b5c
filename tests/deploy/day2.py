"""Day-2 operations of the deployment test (deploy/README.md: Day 2), on the target of e2e.py:
least privilege of the deploy account, safer deploys (dirty tree, distribution, lock, kept
releases and rollback by id), backups with a point-in-time restore into a fresh cluster,
rotation of the runtime password, and moving the database to another server."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import time

from support import CHECKS, DB, DEPLOYER, HOME, INSTANCE, OWNER, PGBIN, ROOT, free_port, request, say, sh

AS_PG = ["runuser", "-u", "postgres", "--"]


class Cluster:
    """A PostgreSQL cluster of the test, as the postgres account (cwd / : the checkout may be
    below a private directory)."""

    def __init__(self, data, socket_dir, port):
        self.data, self.socket_dir, self.port = data, socket_dir, port

    def psql(self, sql, db=DB, check=True):
        return sh(AS_PG + ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir, "-p", str(self.port),
                           "-d", db, "-c", sql], check=check, cwd="/")

    def snapshot(self):
        """The rows that must survive a backup or a move, exactly."""
        parts = {}
        for name, query in (("stuff", "SELECT sid, stuff FROM stuff ORDER BY sid"),
                            ("audit", "SELECT aid, login, operation, tab, data, previous, at FROM audit ORDER BY aid"),
                            ("schema_version", "SELECT version, name, checksum, applied_at FROM kiva_meta.schema_version ORDER BY version")):
            parts[name] = self.psql(f"SELECT md5(coalesce(string_agg(t::text, '|'), '')) || ' ' || count(*) FROM ({query}) t").stdout.strip()
        return parts

    def stop(self):
        subprocess.run(AS_PG + [f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"], capture_output=True, cwd="/")


class Day2:
    """Mixed into DeployTest (e2e.py): needs its target (ports, paths, make, fronts)."""

    extra_clusters = []

    # ----------------------------------------------------------------------- helpers
    def deploy_sh(self, *args, env=None):
        e = dict(os.environ, DEPLOY_CONF=self.deploy_conf, **(env or {}))
        r = subprocess.run([f"{ROOT}/deploy/deploy.sh", *args], text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=e)
        with open(self.make_log, "a") as f:
            f.write(f"\n===== deploy.sh {' '.join(args)} -> {r.returncode}\n{r.stdout}")
        return r.returncode, r.stdout

    def as_deployer(self, command):
        """A shell command over ssh as the deploy account, the way make deploy logs in."""
        return sh(self.ssh_base + [command], check=False)

    def primary(self):
        return Cluster(self.path("pg", "data"), self.path("pg"), self.ports["pg"])

    def current(self):
        with open(f"{HOME}/VERSION") as f:
            return f.read().strip()

    def kept_releases(self):
        return sorted(r for r in os.listdir(f"{HOME}/releases") if not r.startswith(".") and r != "CURRENT")

    def kill_workers(self):
        """Every worker process (mod_fcgid's and the supervised one): new ones connect anew."""
        for pid in self.worker_processes():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(1.5)

    def all_fronts_serve(self):
        return {f.name: request(self.ctx, f.https, "GET", "/api/stuff/1").status for f in self.fronts}

    def cleanup(self):
        for c in self.extra_clusters:
            c.stop()
        super().cleanup()

    # ----------------------------------------------------------------------- least privilege
    def least_privilege(self):
        say("least privilege: the deploy account is not the worker's and reads none of its secrets")
        r = self.as_deployer("id -un; id -Gn")
        CHECKS.check("deploys log in as their own account, not in the worker's group",
                     r.returncode == 0 and r.stdout.split()[0] == DEPLOYER and INSTANCE not in r.stdout.split()[1:],
                     r.stdout)
        for what, path in (("the token secret", f"{HOME}/conf/token.secret"), ("the worker's .pgpass", f"{HOME}/.pgpass"),
                           ("mod_fcgid's password copy", f"{HOME}/conf/apache.pgpass")):
            r = self.as_deployer(f"cat {path}")
            CHECKS.check(f"the deploy account cannot read {what}", r.returncode != 0 and "Permission denied" in r.stdout,
                         r.stdout)
        r = self.as_deployer("echo 'ssh-ed25519 AAAA intruder' >>~/.ssh/authorized_keys || exit 1; "
                             "mv ~/.ssh ~/.ssh.old || exit 1; echo changed")
        CHECKS.check("the deploy account cannot change its authorized_keys", "changed" not in r.stdout
                     and os.stat(f"/home/{DEPLOYER}/.ssh/authorized_keys").st_uid == 0, r.stdout)
        with open(self.owner_password) as f:
            owner_password = f.read().strip()
        found = []
        for top in (HOME, f"/home/{DEPLOYER}"):
            for base, _, files in os.walk(top):
                for name in files:
                    try:
                        with open(os.path.join(base, name), "rb") as f:
                            if owner_password.encode() in f.read():
                                found.append(os.path.join(base, name))
                    except OSError:
                        pass
        CHECKS.check("the owner (DDL) password is in no file of the target", not found, found)
        # prepare-target.sh refuses a worker .pgpass that holds the owner role.
        with open(f"{HOME}/.pgpass") as f:
            saved = f.read()
        with open(f"{HOME}/.pgpass", "a") as f:
            f.write(f"127.0.0.1:{self.ports['pg']}:{DB}:{OWNER}:x\n")
        r = sh([f"{ROOT}/deploy/prepare-target.sh", "--instance", INSTANCE, "--db-host", "127.0.0.1",
                "--db-port", str(self.ports["pg"]), "--no-packages"], check=False)
        with open(f"{HOME}/.pgpass", "w") as f:
            f.write(saved)
        CHECKS.check("prepare-target.sh refuses the owner role's password in the worker's .pgpass",
                     r.returncode != 0 and "owner role" in r.stdout, r.stdout)

    # ----------------------------------------------------------------------- safer deploys
    def safer_deploys(self):
        say("safer deploys: dirty tree, distribution, lock, kept releases, rollback by id")
        before = self.current()
        was_clean = not sh(["git", "-C", ROOT, "status", "--porcelain"]).stdout.strip()
        marker = os.path.join(ROOT, f"e2e-dirty-{os.getpid()}.tmp")
        with open(marker, "w") as f:
            f.write("an uncommitted file\n")
        try:
            for extra in ((), ("DRY_RUN=1",)):
                rc, out = self.make("deploy", *extra, env={"ALLOW_DIRTY": "0"})
                CHECKS.check(f"make deploy {' '.join(extra)} refuses a working tree with changes",
                             rc != 0 and "working tree has changes" in out and self.current() == before
                             and (os.path.basename(marker) in out or not was_clean), self.tail(out))
            rc, out = self.make("deploy", "DRY_RUN=1")
            CHECKS.check("make deploy DRY_RUN=1 ALLOW_DIRTY=1 names the release dirty",
                         rc == 0 and "-dirty " in out and "ALLOW_DIRTY=1: shipping" in out, self.tail(out))
            rc, out = self.make("deploy", env={"KIVA_BUILD_OS": "debian 11 x86_64"})
            CHECKS.check("make deploy refuses a target of another distribution than the build's",
                         rc != 0 and "builds for debian 11 x86_64, the target runs" in out and self.current() == before,
                         self.tail(out))
            # Another deploy holding the lock: refused, nothing done.
            holder = subprocess.Popen(["runuser", "-u", DEPLOYER, "--", "flock", f"{HOME}/.deploy.lock", "sleep", "60"],
                                      cwd="/", start_new_session=True)
            try:
                deadline = time.time() + 10
                while time.time() < deadline and sh(["flock", "-n", f"{HOME}/.deploy.lock", "true"], check=False).returncode == 0:
                    time.sleep(0.1)
                rc, out = self.deploy_sh("rollback")
            finally:
                os.killpg(holder.pid, signal.SIGKILL)   # flock's child, sleep, holds the lock too
                holder.wait()
            CHECKS.check("a rollback while another deploy holds the target's lock is refused, nothing done",
                         rc != 0 and "another deploy holds the lock" in out and self.current() == before, self.tail(out))
            # A third release, dirty (ALLOW_DIRTY=1 says so), then back two releases by id.
            self.write_deploy_conf("kiva-e2e-v3", "KEEP_RELEASES=3\n")
            rc, out = self.make("deploy")
            CHECKS.check("make deploy ALLOW_DIRTY=1 ships, and the release says dirty",
                         rc == 0 and "-dirty " in self.current(), (self.current(), self.tail(out)))
            CHECKS.check("the target's deploy lock is free once the deploy is done",
                         sh(["flock", "-n", f"{HOME}/.deploy.lock", "true"], check=False).returncode == 0)
        finally:
            os.unlink(marker)
        ok, seen = self.wait_version("kiva-e2e-v3")
        CHECKS.check("the third release answers", ok, seen)
        kept = self.kept_releases()
        CHECKS.require("three releases are kept", len(kept) == 3, kept)
        rc, out = self.make("rollback", f"RELEASE={kept[0]}")
        ok, seen = self.wait_version("kiva-e2e-v1")
        CHECKS.check("make rollback RELEASE=ID goes back two releases and health-checks it",
                     rc == 0 and f"to {kept[0]}" in out and "checking https://" in out and ok, (seen, self.tail(out)))
        rc, out = self.deploy_sh("rollback")
        CHECKS.check("deploy.sh rollback from the oldest kept release is refused",
                     rc != 0 and "no kept release older" in out, self.tail(out))
        rc, out = self.deploy_sh("status")
        CHECKS.check("deploy.sh status lists the kept releases, the running one marked",
                     rc == 0 and f"* {kept[0]}" in out and kept[2] in out, self.tail(out))
        # A health check that fails makes the rollback fail loudly.
        with open(self.deploy_conf) as f:
            conf = f.read()
        with open(self.deploy_conf, "w") as f:
            f.write(re.sub(r"^(HEALTH_URL=\S*?/api/)\S+", r"\1no-such-route", conf, flags=re.M))
        rc, out = self.deploy_sh("rollback", kept[2])
        self.write_deploy_conf("kiva-e2e-v3", "KEEP_RELEASES=3\n")
        CHECKS.check("a rollback whose health check fails says so (non-zero)",
                     rc != 0 and "does not answer 200 after the rollback" in out, self.tail(out))
        ok, seen = self.wait_version("kiva-e2e-v3")
        CHECKS.check("(that rollback switched to the third release, which answers)", ok, seen)

    # ----------------------------------------------------------------------- backups
    def backup_setup(self):
        """Before any deploy: WAL archiving on the database host (deploy/backup-db.sh setup)."""
        say("backups: deploy/backup-db.sh setup (WAL archiving), PostgreSQL restarted")
        self.backup_dir = self.path("backups")
        r = sh([f"{ROOT}/deploy/backup-db.sh", "setup", "--backup-dir", self.backup_dir, "--pg-socket-dir", self.path("pg"),
                "--pg-port", str(self.ports["pg"]), "--archive-timeout", "10s"], check=False)
        CHECKS.check("backup-db.sh setup turns WAL archiving on", r.returncode == 0 and "restart PostgreSQL" in r.stdout, r.stdout)
        sh(AS_PG + [f"{PGBIN}/pg_ctl", "-D", self.path("pg", "data"), "-w", "-t", "60", "restart",
                    "-l", self.path("pg", "postgres.log")], cwd="/")
        CHECKS.check("archive_mode is on after the restart", self.primary().psql("SHOW archive_mode", db="postgres").stdout.strip() == "on")
        if shutil.which("systemd-analyze"):
            d = self.path("backup-units")
            os.makedirs(d)
            for u in ("kiva-db-backup.service", "kiva-db-backup.timer"):
                shutil.copy(f"{ROOT}/deploy/systemd/{u}", d)
            r = sh(["systemd-analyze", "verify", "--man=no", f"{d}/kiva-db-backup.timer", f"{d}/kiva-db-backup.service"],
                   check=False)
            # The service's script is installed by setup on a systemd host only.
            noise = [x for x in r.stdout.splitlines() if "/usr/local/lib/kiva/backup-db.sh" not in x and x.strip()]
            CHECKS.check("systemd-analyze verify accepts kiva-db-backup.timer and .service", not noise, r.stdout)

    def backup_script(self):
        """deploy/backup-db.sh installed as `backup-db.sh setup` installs it on a host with
        systemd (/usr/local/lib/kiva/, with lib/common.sh): postgres, which runs it, may not
        reach the checkout (a clone below /root)."""
        lib = self.path("usr-local-lib-kiva")
        if not os.path.exists(os.path.join(lib, "backup-db.sh")):
            os.makedirs(os.path.join(lib, "lib"), exist_ok=True)
            shutil.copy(f"{ROOT}/deploy/backup-db.sh", lib)
            shutil.copy(f"{ROOT}/deploy/lib/common.sh", os.path.join(lib, "lib"))
            for d in (lib, os.path.join(lib, "lib")):
                os.chmod(d, 0o755)
        return os.path.join(lib, "backup-db.sh")

    def unit_backup(self):
        """What kiva-db-backup.service runs (its User, Environment and ExecStart), on the test's cluster."""
        unit = {}
        with open(f"{ROOT}/deploy/systemd/kiva-db-backup.service") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                unit.setdefault(k, []).append(v)
        env = dict(v.split("=", 1) for v in unit["Environment"])
        env.update(KIVA_BACKUP_DIR=self.backup_dir, KIVA_PG_HOST=self.path("pg"), KIVA_PG_PORT=str(self.ports["pg"]))
        args = unit["ExecStart"][0].split()[1:]
        user = unit["User"][0]
        return sh(["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in env.items()],
                   self.backup_script(), *args], check=False, cwd="/")

    def post(self, name):
        r = request(self.ctx, self.nginx.https, "POST", "/api/stuff", body={"stuff": name})
        return (r.json() or {}).get("sid") if r.status == 201 else None

    def backup_restore(self):
        say("backups: base backup by the unit's command, rows written, point-in-time restore into a fresh cluster")
        pg = self.primary()
        r = self.unit_backup()
        r2 = self.unit_backup()   # a second one: retention (KIVA_BACKUP_KEEP) is exercised below
        bases = sorted(os.listdir(os.path.join(self.backup_dir, "base")))
        CHECKS.check("kiva-db-backup.service's command takes a base backup", r.returncode == 0 and r2.returncode == 0
                     and bases, r.stdout + r2.stdout)
        r = sh(["runuser", "-u", "postgres", "--", "env", f"KIVA_BACKUP_DIR={self.backup_dir}", f"KIVA_PG_HOST={self.path('pg')}",
                f"KIVA_PG_PORT={self.ports['pg']}", self.backup_script(), "base", "--keep", "1"], check=False, cwd="/")
        bases = sorted(os.listdir(os.path.join(self.backup_dir, "base")))
        CHECKS.check("retention: --keep 1 leaves one base backup and removes older WAL", r.returncode == 0 and len(bases) == 1
                     and "removing the base backup" in r.stdout, (bases, r.stdout))
        before = [self.post(f"pitr-before-{i}-{os.getpid()}") for i in range(3)]
        request(self.ctx, self.nginx.https, "DELETE", f"/api/stuff/{before[0]}")
        time.sleep(0.5)
        expected = pg.snapshot()
        target = pg.psql("SELECT clock_timestamp()").stdout.strip()
        time.sleep(0.5)
        after = [self.post(f"pitr-after-{i}-{os.getpid()}") for i in range(2)]
        now = pg.snapshot()
        CHECKS.check("rows written before and after the recovery target", all(before) and all(after) and now != expected,
                     (before, after))
        # The WAL with the last commits reaches the archive.
        wal = pg.psql("SELECT pg_walfile_name(pg_switch_wal())").stdout.strip()
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(os.path.join(self.backup_dir, "wal", wal)):
            time.sleep(0.2)
        data = self.path("restored")
        r = sh([f"{ROOT}/deploy/backup-db.sh", "restore", "--backup-dir", self.backup_dir, "--data-dir", data,
                "--target-time", target], check=False)
        CHECKS.check("backup-db.sh restore prepares a fresh data directory up to the target time", r.returncode == 0, r.stdout)
        restored = Cluster(data, self.path("pg"), free_port())
        self.extra_clusters.append(restored)
        r = sh(AS_PG + [f"{PGBIN}/pg_ctl", "-D", data, "-w", "-t", "60", "-l", self.path("pg", "restored.log"),
                        "-o", f"-p {restored.port} -c listen_addresses=''", "start"], check=False, cwd="/")
        deadline = time.time() + 30
        while time.time() < deadline and restored.psql("SELECT pg_is_in_recovery()", check=False).stdout.strip() != "f":
            time.sleep(0.2)
        got = restored.snapshot() if r.returncode == 0 else None
        CHECKS.check("the restored cluster has exactly the rows, Audit and schema_version of the target time",
                     got == expected, (got, expected, r.stdout))
        restored.stop()

    # ----------------------------------------------------------------------- rotation
    def rotate_runtime_password(self):
        say("rotation of the runtime password: prepare-db.sh, then prepare-target.sh (without --apache-user)")
        new = self.path("secrets", "new-runtime.password")
        with open(new, "w") as f:
            f.write(f"rotated-{os.getpid()}-{time.time_ns()}\n")
        os.chmod(new, 0o600)
        with open(self.runtime_password) as f:
            old_password = f.read().strip()
        r = sh([f"{ROOT}/deploy/prepare-db.sh", "--instance", INSTANCE, "--app-host", "127.0.0.1",
                "--pg-hba", self.path("pg", "data", "pg_hba.conf"), "--secrets-dir", self.path("secrets"),
                "--pg-socket-dir", self.path("pg"), "--pg-port", str(self.ports["pg"]), "--runtime-connections", "40",
                "--runtime-password-file", new], check=False)
        t = sh([f"{ROOT}/deploy/prepare-target.sh", "--instance", INSTANCE, "--db-host", "127.0.0.1",
                "--db-port", str(self.ports["pg"]), "--db-password-file", new, "--no-packages"], check=False)
        CHECKS.check("the password changes on the database host, then on the application server",
                     r.returncode == 0 and t.returncode == 0, r.stdout + t.stdout)
        with open(f"{HOME}/conf/apache.pgpass") as f:
            apache = f.read()
        CHECKS.check("mod_fcgid's copy (conf/apache.pgpass) follows, still Apache's",
                     "rotated-" in apache and old_password not in apache
                     and pwd.getpwuid(os.stat(f"{HOME}/conf/apache.pgpass").st_uid).pw_name == "www-data", apache)
        old = sh(["psql", "-X", "-At", "-c", "SELECT 1", f"host=127.0.0.1 port={self.ports['pg']} dbname={DB} user={DB} "
                  f"sslmode=verify-full sslrootcert={self.ca}"], check=False, cwd="/", env=dict(os.environ, PGPASSWORD=old_password))
        CHECKS.check("the old password no longer logs in", old.returncode != 0 and "password authentication failed" in old.stdout,
                     old.stdout)
        self.kill_workers()
        seen = self.all_fronts_serve()
        CHECKS.check("new worker processes (mod_fcgid's and the supervised one) log in with the new password",
                     set(seen.values()) == {200}, seen)
        self.runtime_password = new

    # ----------------------------------------------------------------------- move
    def move_database(self):
        say("moving the database to another server: prepare-db.sh with the existing passwords, dump and restore, redeploy")
        d = self.path("pg2")
        os.makedirs(d)
        shutil.chown(d, "postgres", "postgres")
        sh(AS_PG + [f"{PGBIN}/initdb", "-D", f"{d}/data", "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256",
                    "-E", "UTF8", "--locale=C.UTF-8"], cwd="/")
        port = free_port()
        for name in ("server.crt", "server.key"):
            shutil.copy(self.path("pg", name), f"{d}/{name}")
            shutil.chown(f"{d}/{name}", "postgres", "postgres")
        with open(f"{d}/data/postgresql.conf", "a") as f:
            f.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\nssl = on\n"
                    f"ssl_cert_file = '{d}/server.crt'\nssl_key_file = '{d}/server.key'\n"
                    "password_encryption = 'scram-sha-256'\n")
        new = Cluster(f"{d}/data", d, port)
        self.extra_clusters.append(new)
        sh(AS_PG + [f"{PGBIN}/pg_ctl", "-D", f"{d}/data", "-l", f"{d}/postgres.log", "-w", "-t", "60", "start"], cwd="/")
        r = sh([f"{ROOT}/deploy/prepare-db.sh", "--instance", INSTANCE, "--app-host", "127.0.0.1",
                "--pg-hba", f"{d}/data/pg_hba.conf", "--secrets-dir", self.path("secrets2"), "--pg-socket-dir", d,
                "--pg-port", str(port), "--runtime-connections", "40",
                "--runtime-password-file", self.runtime_password, "--owner-password-file", self.owner_password], check=False)
        CHECKS.check("prepare-db.sh on the new server takes the existing password files",
                     r.returncode == 0 and "generated" not in r.stdout, r.stdout)
        old = self.primary()
        expected = old.snapshot()
        dump = self.path("move.dump")
        sh(["sh", "-c", f"runuser -u postgres -- {PGBIN}/pg_dump -Fc -h {old.socket_dir} -p {old.port} -d {DB} >{dump}"], cwd="/")
        r = sh(["sh", "-c", f"runuser -u postgres -- {PGBIN}/pg_restore --exit-on-error --single-transaction "
                f"-h {d} -p {port} -d {DB} <{dump}"], check=False, cwd="/")
        got = new.snapshot() if r.returncode == 0 else None
        CHECKS.check("pg_dump | pg_restore: the new server has the same rows, Audit and schema_version", got == expected,
                     (got, expected, r.stdout))
        r = sh([f"{ROOT}/deploy/prepare-target.sh", "--instance", INSTANCE, "--db-host", "localhost", "--db-port", str(port),
                "--db-password-file", self.runtime_password, "--no-packages"], check=False)
        with open(f"{HOME}/.pgpass") as f:
            pgpass = f.read()
        CHECKS.check(".pgpass gets the new server's line (keyed on host and port)",
                     r.returncode == 0 and f"localhost:{port}:{DB}:{DB}:" in pgpass, pgpass)
        # The redeploy regenerates kiva.conf; KEEP_RELEASES=2 prunes the older releases.
        self.write_deploy_conf("kiva-e2e-v4", "KEEP_RELEASES=2\n")
        with open(self.deploy_conf) as f:
            conf = f.read()
        with open(self.deploy_conf, "w") as f:
            f.write(conf.replace(f"host=127.0.0.1 port={self.ports['pg']}", f"host=localhost port={port}"))
        rc, out = self.make("deploy")
        with open(f"{HOME}/conf/kiva.conf") as f:
            kiva_conf = f.read()
        CHECKS.check("the redeploy points kiva.conf to the new server",
                     rc == 0 and f"host=localhost port={port}" in kiva_conf, self.tail(out))
        CHECKS.check("KEEP_RELEASES=2: the older releases are removed", len(self.kept_releases()) == 2, self.kept_releases())
        ok, seen = self.wait_version("kiva-e2e-v4")
        CHECKS.check("the release on the new server answers through every front end", ok, seen)
        self.kill_workers()   # mod_fcgid's old processes are still connected to the old server
        sid = self.post(f"moved-{os.getpid()}")
        on_new = new.psql(f"SELECT count(*) FROM stuff WHERE sid = {int(sid or 0)}").stdout.strip()
        on_old = old.psql(f"SELECT count(*) FROM stuff WHERE sid = {int(sid or 0)}").stdout.strip()
        seen = self.all_fronts_serve()
        CHECKS.check("writes go to the new server, not the old one, from every front end",
                     sid and on_new == "1" and on_old == "0" and set(seen.values()) == {200}, (sid, on_new, on_old, seen))

    def day2(self):
        self.least_privilege()
        self.safer_deploys()
        self.backup_restore()
        self.rotate_runtime_password()
        self.move_database()
