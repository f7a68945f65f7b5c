"""The production-like target of the deployment test, built from the shipped files: the test
CA, PostgreSQL (deploy/prepare-db.sh), the app user (deploy/prepare-target.sh), sshd, the
systemd-style supervisor, Apache and nginx (deploy/render-site.sh); running make against it,
looking at its processes, and taking it all down again (see e2e.py)."""

import grp
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from support import (BODY_LIMIT, BUILD_DIR, FCGID_POOL, CHECKS, DB, DEPLOYER, HOME, INSTANCE, KEEP, OWNER, PGBIN, ROOT, SOCKET,
                     Abort, Front, free_port, say, sh)


class Target:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kiva-deploy-test-")
        os.chmod(self.dir, 0o755)  # the postgres account, the app user and www-data read in it
        self.procs = {}            # name -> Popen
        self.pg_started = False
        self.user_created = False
        self.ports = {name: free_port() for name in
                      ("pg", "ssh", "fcgid_https", "fcgid_http", "proxy_https", "proxy_http",
                       "nginx_https", "nginx_http")}
        self.fcgid = Front("apache-fcgid", self.ports["fcgid_https"], self.ports["fcgid_http"])
        self.proxy = Front("apache-proxy-fcgi", self.ports["proxy_https"], self.ports["proxy_http"])
        self.nginx = Front("nginx", self.ports["nginx_https"], self.ports["nginx_http"])
        self.fronts = [self.fcgid, self.proxy, self.nginx]
        self.deploy_conf = os.path.join(self.dir, "deploy.local.conf")
        self.make_log = os.path.join(self.dir, "make.log")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    # ----------------------------------------------------------------------- setup
    def certificates(self):
        say("certificates: a test CA and a server certificate for localhost and 127.0.0.1")
        d = self.path("tls")
        os.makedirs(d)
        sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=kiva deploy test CA", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt"])
        sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=localhost", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr"])
        with open(f"{d}/ext.cnf", "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        sh(["openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{d}/ext.cnf", "-out", f"{d}/server.crt"])
        for name in ("ca.key", "server.key"):
            os.chmod(f"{d}/{name}", 0o600)
        self.ca = f"{d}/ca.crt"
        self.cert, self.key = f"{d}/server.crt", f"{d}/server.key"
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def postgres(self):
        say(f"PostgreSQL: a private cluster on 127.0.0.1:{self.ports['pg']} with ssl = on")
        pg = self.path("pg")
        os.makedirs(pg)
        shutil.chown(pg, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
        sh(as_pg + [f"{PGBIN}/initdb", "-D", f"{pg}/data", "-U", "postgres", "--auth-local=peer",
                    "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
        for src, dst in ((self.cert, "server.crt"), (self.key, "server.key")):
            shutil.copy(src, f"{pg}/{dst}")
            shutil.chown(f"{pg}/{dst}", "postgres", "postgres")
            os.chmod(f"{pg}/{dst}", 0o600)
        with open(f"{pg}/data/postgresql.conf", "a") as f:
            f.write(f"port = {self.ports['pg']}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{pg}'\nssl = on\nssl_cert_file = '{pg}/server.crt'\n"
                    f"ssl_key_file = '{pg}/server.key'\nssl_min_protocol_version = 'TLSv1.2'\n"
                    "password_encryption = 'scram-sha-256'\n")
        sh(as_pg + [f"{PGBIN}/pg_ctl", "-D", f"{pg}/data", "-l", f"{pg}/postgres.log", "-w", "-t", "60", "start"])
        self.pg_started = True

    def psql_admin(self, sql, db=DB, check=True):
        return sh(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                   "-h", self.path("pg"), "-p", str(self.ports["pg"]), "-d", db, "-c", sql], check=check)

    def prepare_db(self):
        say("database host: deploy/prepare-db.sh (roles.sql, pg_hba snippet, reload)")
        cmd = [f"{ROOT}/deploy/prepare-db.sh", "--instance", INSTANCE, "--app-host", "127.0.0.1",
               "--pg-hba", self.path("pg", "data", "pg_hba.conf"), "--secrets-dir", self.path("secrets"),
               "--pg-socket-dir", self.path("pg"), "--pg-port", str(self.ports["pg"]),
               "--runtime-connections", "40"]
        r = sh(cmd, check=False)
        CHECKS.require("prepare-db.sh creates the roles, the database and the pg_hba rules", r.returncode == 0, r.stdout)
        r = sh(cmd, check=False)
        CHECKS.check("prepare-db.sh again: idempotent", r.returncode == 0 and "already has the rules" in r.stdout, r.stdout)
        roles = self.psql_admin(f"SELECT rolname, rolconnlimit, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                                f"WHERE rolname IN ('{DB}', '{OWNER}') ORDER BY 1", db="postgres").stdout.split()
        CHECKS.check("runtime role: connection limit, no superuser/createrole/createdb",
                     f"{DB}|40|f|f|f" in roles and f"{OWNER}|3|f|f|f" in roles, roles)
        self.owner_password = self.path("secrets", f"{INSTANCE}.owner.password")
        self.runtime_password = self.path("secrets", f"{INSTANCE}.runtime.password")

    def remove_user(self):
        for user in (INSTANCE, DEPLOYER):
            self.remove_one_user(user)
        shutil.rmtree(HOME, ignore_errors=True)
        try:
            os.unlink(f"/etc/logrotate.d/kiva-{INSTANCE}")   # installed by prepare-target.sh
        except FileNotFoundError:
            pass

    def remove_one_user(self, user):
        try:
            uid = pwd.getpwnam(user).pw_uid
        except KeyError:
            uid = None
        if uid is not None:
            # The user's processes (its worker, ssh sessions) were all started by this test.
            for pid in os.listdir("/proc"):
                try:
                    if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                        os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
            subprocess.run(["userdel", "-r", user], capture_output=True)
        if subprocess.run(["getent", "group", user], capture_output=True).returncode == 0:
            subprocess.run(["groupdel", user], capture_output=True)
        shutil.rmtree(f"/home/{user}", ignore_errors=True)

    def prepare_target(self):
        say(f"application server: deploy/prepare-target.sh (user {INSTANCE}, ssh key, .pgpass, token secret)")
        self.remove_user()  # a leftover of an interrupted run
        os.makedirs(self.path("client"))
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kiva deploy test", "-f", self.path("client", "id_ed25519")])
        cmd = [f"{ROOT}/deploy/prepare-target.sh", "--instance", INSTANCE, "--db-host", "127.0.0.1",
               "--db-port", str(self.ports["pg"]), "--db-password-file", self.runtime_password,
               "--authorized-key", self.path("client", "id_ed25519.pub"), "--apache-user", "www-data",
               "--no-packages"]
        self.user_created = True
        r = sh(cmd, check=False)
        CHECKS.require("prepare-target.sh creates the app user and its directories", r.returncode == 0, r.stdout)
        r = sh(cmd, check=False)
        CHECKS.check("prepare-target.sh again: idempotent (key and secret kept)",
                     r.returncode == 0 and "key already authorized" in r.stdout and "token secret exists" in r.stdout, r.stdout)

        def mode(p):
            st = os.stat(p)
            return f"{st.st_mode & 0o7777:04o} {pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}"
        keys = f"/home/{DEPLOYER}/.ssh/authorized_keys"
        modes = {p: mode(p) for p in (HOME, f"{HOME}/conf", f"{HOME}/conf/token.secret", f"{HOME}/.pgpass",
                                        f"{HOME}/conf/apache.pgpass", keys)}
        expected = {HOME: "0750 kiva-e2e-deploy:kiva-e2e-deploy", f"{HOME}/conf": "0750 kiva-e2e-deploy:kiva-e2e-deploy",
                    f"{HOME}/conf/token.secret": "0640 kiva-e2e:kiva-e2e", f"{HOME}/.pgpass": "0600 kiva-e2e:kiva-e2e",
                    f"{HOME}/conf/apache.pgpass": "0600 www-data:kiva-e2e", keys: "0644 root:root"}
        CHECKS.check("secrets and directories have least-privilege modes", modes == expected, modes)
        with open(self.runtime_password) as f:
            password = f.read().strip()
        with open(f"{HOME}/.pgpass") as f:
            CHECKS.check(".pgpass holds the runtime role's password",
                         f"127.0.0.1:{self.ports['pg']}:{DB}:{DB}:{password}" in f.read())

    def sshd(self):
        say(f"sshd on 127.0.0.1:{self.ports['ssh']} (its own host key, key authentication only, AllowUsers {DEPLOYER})")
        d = self.path("sshd")
        os.makedirs(d)
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/host_key"])
        with open(f"{d}/sshd_config", "w") as f:
            f.write(f"Port {self.ports['ssh']}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
                    "AuthorizedKeysFile .ssh/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nPermitRootLogin no\n"
                    f"AllowUsers {DEPLOYER}\nUsePAM no\nX11Forwarding no\nAllowTcpForwarding no\n"
                    "PermitTTY no\nLogLevel VERBOSE\n")
        os.makedirs("/run/sshd", exist_ok=True)
        sh(["/usr/sbin/sshd", "-t", "-f", f"{d}/sshd_config"])
        self.procs["sshd"] = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", f"{d}/sshd_config", "-E", f"{d}/sshd.log"])
        self.wait_port(self.ports["ssh"], "sshd")
        self.ssh_base = ["ssh", "-p", str(self.ports["ssh"]), "-i", self.path("client", "id_ed25519"), "-o", "BatchMode=yes",
                         "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={self.path('client', 'known_hosts')}",
                         f"{DEPLOYER}@127.0.0.1"]
        r = sh(self.ssh_base + ["id -un"], check=False)
        CHECKS.require("ssh with the deployer's key logs in as the deploy account",
                       r.returncode == 0 and r.stdout.strip().endswith(DEPLOYER), r.stdout)

    def wait_port(self, port, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise Abort(f"{what} does not listen on {port}")

    def supervisor(self):
        say("the systemd-style supervisor (tests/deploy/fake_systemd.py) with the shipped kiva@.socket/.service")
        # The restart command runs as the app user over ssh: it needs the script where it can read it.
        shutil.copy(f"{ROOT}/tests/deploy/fake_systemd.py", self.path("fake_systemd.py"))
        os.chmod(self.path("fake_systemd.py"), 0o755)
        self.control = self.path("systemd-control")
        self.worker_log = self.path("systemd-worker.log")
        self.procs["supervisor"] = subprocess.Popen(
            [sys.executable, self.path("fake_systemd.py"), "run", "--units", f"{ROOT}/deploy/systemd",
             "--instance", INSTANCE, "--control", self.control, "--log", self.worker_log,
             "--control-group", DEPLOYER, *self.apache_unit()],
            stdout=open(self.path("supervisor.log"), "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(SOCKET) and time.time() < deadline:
            time.sleep(0.05)
        st = os.stat(SOCKET)
        CHECKS.require("the supervisor binds the unit's socket (kiva-e2e:www-data 0660)",
                       st.st_mode & 0o777 == 0o660 and pwd.getpwuid(st.st_uid).pw_name == INSTANCE
                       and grp.getgrgid(st.st_gid).gr_name == "www-data")

    def warm_conf(self):
        return self.path("fcgid-warm.conf")

    def dropin(self, key):
        """A command of the shipped apache2.service drop-in, with the script where this checkout
        has it and this test's pool (in production: /etc/kiva/fcgid-warm.d/)."""
        with open(f"{ROOT}/deploy/systemd/apache2.service.d/kiva-fcgid-warm.conf") as f:
            line = next(l for l in f if l.startswith(key + "="))
        cmd = line.split("=", 1)[1].strip().replace("/usr/local/sbin/kiva-fcgid-warm", f"{ROOT}/deploy/fcgid-warm.sh")
        return f"{cmd} --conf {self.warm_conf()}"

    def apache_unit(self):
        """apache2.service as the supervisor emulates it: its ExecReload (Debian's: apachectl
        graceful), then the drop-in's; the warm-up's pool switch for WARM_COMMAND (sudo in
        production)."""
        graceful = f"apache2 -f {self.path('apache', 'httpd.conf')} -k graceful"
        return ["--exec-reload", graceful, "--exec-reload", self.dropin("ExecReload"),
                "--exec-warm", f"{ROOT}/deploy/fcgid-warm.sh --switch --conf {self.warm_conf()}"]

    def web_servers(self):
        say("Apache (mod_fcgid and mod_proxy_fcgi vhosts) and nginx, from the shipped templates")
        for sub in ("apache", "apache/run", "apache/log", "apache/fcgid", "nginx", "nginx/run", "nginx/log", "nginx/tmp"):
            os.makedirs(self.path(sub), exist_ok=True)
        shutil.chown(self.path("apache/fcgid"), "www-data", "www-data")
        common = ["--instance", INSTANCE, "--server-name", "localhost", "--cert", self.cert, "--key", self.key,
                  "--body-limit", str(BODY_LIMIT // 1024) + "K"]
        # Each variant with its own ports; the fcgid one with a pool of FCGID_POOL (MaxRequestWorkers
        # of the test's Apache is 64: the size is given, as --fcgid-max-processes allows).
        # /metrics: loopback, and 127.0.0.3 as the monitoring network (not for the proxy variant).
        renders = [("fcgid", self.fcgid, ["--fcgid-max-processes", str(FCGID_POOL), "--runtime-connections", "30",
                                          "--metrics-allow", "127.0.0.3"]),
                   ("proxy", self.proxy, []),
                   ("nginx", self.nginx, ["--metrics-allow", "127.0.0.3/32",
                                          "--listen-address", "127.0.0.1", "--nginx-api-conf",
                                          self.path("nginx", "nginx-api.conf"), "--nginx-log-dir", self.path("nginx", "log")])]
        for name, front, extra in renders:
            r = sh([f"{ROOT}/deploy/render-site.sh", *common, "--out", self.path("render-" + name),
                    "--https-port", str(front.https), "--http-port", str(front.http), *extra], check=False)
            CHECKS.require(f"render-site.sh renders the {name} files", r.returncode == 0, r.stdout)
        # Both Apache variants of one instance log to INSTANCE-ssl-access.log: the mod_fcgid one gets a
        # name of its own here, so that its requests (and their %D) can be told apart.
        with open(self.path("render-fcgid", "apache-fcgid.conf")) as f:
            conf = f.read().replace(f"{INSTANCE}-ssl-access.log", f"{INSTANCE}-fcgid-ssl-access.log")
        with open(self.path("apache", "apache-fcgid.conf"), "w") as f:
            f.write(conf)
        # The wrapper mod_fcgid starts the worker through, installed as render-site.sh says (root's,
        # 0755), and the warm-up's settings, with the URL on this test's port.
        os.makedirs(f"{HOME}/fcgid", exist_ok=True)
        os.chmod(f"{HOME}/fcgid", 0o755)
        for name in ("kiva-fcgid", "kiva-fcgid-b"):  # classes a and b
            shutil.copy(self.path("render-fcgid", "kiva-fcgid"), f"{HOME}/fcgid/{name}")
            os.chmod(f"{HOME}/fcgid/{name}", 0o755)
        shutil.copy(self.path("render-fcgid", "fcgid-warm.conf"), self.warm_conf())
        shutil.copy(self.path("render-proxy", "apache-proxy-fcgi.conf"), self.path("apache", "apache-proxy-fcgi.conf"))
        shutil.copy(self.path("render-nginx", "nginx-site.conf"), self.path("nginx", "nginx-site.conf"))
        shutil.copy(self.path("render-nginx", "nginx-api.conf"), self.path("nginx", "nginx-api.conf"))
        # The default server/vhost of each port pair: unknown names are refused.
        shutil.copy(self.path("render-fcgid", "apache-default.conf"), self.path("apache", "apache-default-fcgid.conf"))
        shutil.copy(self.path("render-proxy", "apache-default.conf"), self.path("apache", "apache-default-proxy.conf"))
        shutil.copy(self.path("render-nginx", "nginx-default.conf"), self.path("nginx", "nginx-default.conf"))
        self.render_wrapper("apache-test.conf.in", self.path("apache", "httpd.conf"), DIR=self.path("apache"),
                            FCGID_HTTPS_PORT=self.fcgid.https, FCGID_HTTP_PORT=self.fcgid.http,
                            PROXY_HTTPS_PORT=self.proxy.https, PROXY_HTTP_PORT=self.proxy.http)
        self.render_wrapper("nginx-test.conf.in", self.path("nginx", "nginx.conf"), DIR=self.path("nginx"))
        r = sh(["apache2", "-t", "-f", self.path("apache", "httpd.conf")], check=False)
        CHECKS.require("apachectl -t: the shipped Apache vhosts (mod_fcgid, mod_proxy_fcgi) are valid",
                       r.returncode == 0 and "Syntax OK" in r.stdout, r.stdout)
        r = sh(["nginx", "-t", "-p", self.path("nginx"), "-c", self.path("nginx", "nginx.conf")], check=False)
        CHECKS.require("nginx -t: the shipped site and API location are valid", r.returncode == 0, r.stdout)
        self.two_instances(common)
        self.procs["apache"] = subprocess.Popen(["apache2", "-f", self.path("apache", "httpd.conf"), "-DFOREGROUND"],
                                                stdout=open(self.path("apache", "stdout.log"), "w"), stderr=subprocess.STDOUT)
        self.procs["nginx"] = subprocess.Popen(["nginx", "-p", self.path("nginx"), "-c", self.path("nginx", "nginx.conf"),
                                                "-g", "daemon off;"],
                                               stdout=open(self.path("nginx", "stdout.log"), "w"), stderr=subprocess.STDOUT)
        for front in self.fronts:
            self.wait_port(front.https, front.name)

    def two_instances(self, common):
        """preprod and prod side by side: a second instance's files next to the first's in the
        same Apache and the same nginx (configuration test only)."""
        other = "kiva-e2e-pre"
        d = self.path("two")
        os.makedirs(f"{d}/log", exist_ok=True)
        ports = [free_port() for _ in range(4)]
        args = ["--instance", other, *common[2:]]
        sh([f"{ROOT}/deploy/render-site.sh", *args, "--out", f"{d}/fcgid", "--https-port", str(ports[0]),
            "--http-port", str(ports[1]), "--fcgid-max-processes", "4", "--fcgid-wrapper", f"{d}/kiva-fcgid"])
        shutil.copy(f"{d}/fcgid/kiva-fcgid", f"{d}/kiva-fcgid")
        shutil.copy(f"{d}/fcgid/kiva-fcgid", f"{d}/kiva-fcgid-b")
        sh([f"{ROOT}/deploy/render-site.sh", *args, "--out", f"{d}/nginx", "--https-port", str(ports[2]),
            "--http-port", str(ports[3]), "--listen-address", "127.0.0.1", "--nginx-api-conf", f"{d}/nginx/nginx-api.conf",
            "--nginx-log-dir", f"{d}/log"])
        with open(self.path("apache", "httpd.conf")) as f:
            conf = f.read()
        with open(f"{d}/httpd.conf", "w") as f:
            f.write(conf + f"Listen 127.0.0.1:{ports[0]}\nListen 127.0.0.1:{ports[1]}\nInclude {d}/fcgid/apache-fcgid.conf\n")
        with open(self.path("nginx", "nginx.conf")) as f:
            conf = f.read()
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(conf.rstrip().rstrip("}") + f"    include {d}/nginx/nginx-site.conf;\n}}\n")
        a = sh(["apache2", "-t", "-f", f"{d}/httpd.conf"], check=False)
        n = sh(["nginx", "-t", "-p", self.path("nginx"), "-c", f"{d}/nginx.conf"], check=False)
        CHECKS.check("two instances side by side (kiva-e2e, kiva-e2e-pre) in one Apache and one nginx",
                     a.returncode == 0 and n.returncode == 0, a.stdout + n.stdout)

    def render_wrapper(self, template, out, **values):
        with open(f"{ROOT}/tests/deploy/{template}") as f:
            text = f.read()
        for k, v in values.items():
            text = text.replace(f"@{k}@", str(v))
        with open(out, "w") as f:
            f.write(text)

    def write_deploy_conf(self, app_name, extra=""):
        with open(self.deploy_conf, "w") as f:
            f.write(f"""# The deployment test's target (written by tests/deploy/e2e.py).
INSTANCE={INSTANCE}
TARGET_HOST=127.0.0.1
SSH_PORT={self.ports['ssh']}
SSH_OPTIONS=-i {self.path('client', 'id_ed25519')} -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={self.path('client', 'known_hosts')}
DATABASE=host=127.0.0.1 port={self.ports['pg']} dbname={DB} user={DB} sslmode=verify-full sslrootcert={self.ca}
DB_OWNER_PASSWORD_FILE={self.owner_password}
RESTART_COMMAND=python3 {self.path('fake_systemd.py')} restart --control {self.control}
JOBS_RESTART_COMMAND=python3 {self.path('fake_systemd.py')} restart-jobs --control {self.control}
WARM_COMMAND=python3 {self.path('fake_systemd.py')} warm-fcgid --control {self.control}
HEALTH_URL=https://localhost:{self.nginx.https}/api/health
HEALTH_CA={self.ca}
APP_NAME={app_name}
THREADS=2
BODY_LIMIT={BODY_LIMIT // 1024}K
BUILD_DIR={BUILD_DIR}
CONF_password_cost=4
CONF_token_delay=10m
{extra}""")

    def make(self, target, *args, env=None, timeout=900):
        """Runs make TARGET DEPLOY_CONF=... ARGS; returns (rc, output)."""
        cmd = ["make", "--no-print-directory", "-C", ROOT, target, f"DEPLOY_CONF={self.deploy_conf}", *args]
        say("$ " + " ".join(cmd[3:]))
        # The checkout may have uncommitted work while its tests run: ship it (tests/deploy/day2.py
        # checks the refusal of a dirty tree itself).
        e = dict(os.environ, **dict({"ALLOW_DIRTY": "1"}, **(env or {})))
        e.pop("MAKEFLAGS", None)
        e.pop("MFLAGS", None)
        r = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e, timeout=timeout)
        with open(self.make_log, "a") as f:
            f.write(f"\n===== {' '.join(cmd)} -> {r.returncode}\n{r.stdout}")
        return r.returncode, r.stdout

    @staticmethod
    def tail(text, n=25):
        return "\n" + "\n".join("      | " + line for line in text.rstrip().splitlines()[-n:])

    def worker_processes(self):
        """kiva processes running from the app directory: pid -> (user, parent, threads, inode)."""
        procs = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                if not exe.startswith(f"{HOME}/bin/kiva"):
                    continue
                st = os.stat(f"/proc/{pid}/exe")
                with open(f"/proc/{pid}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
                procs[int(pid)] = (pwd.getpwuid(int(status["Uid"].split()[0])).pw_name, int(status["PPid"]),
                                   int(status["Threads"]), st.st_ino)
            except (OSError, KeyError, ValueError):
                continue
        return procs

    def supervised_pid(self):
        with open(os.path.join(self.control, "status.json")) as f:
            return json.load(f)["pid"]

    def jobs_pid(self):
        """The jobs worker's (kiva-jobs@.service under the supervisor)."""
        with open(os.path.join(self.control, "status.json")) as f:
            return json.load(f).get("jobs_pid")

    # ----------------------------------------------------------------------- cleanup
    def cleanup(self):
        say("cleanup: stopping everything this test started" + (" (KIVA_DEPLOY_KEEP=1: keeping files and user)" if KEEP else ""))
        for name, sig in (("nginx", signal.SIGQUIT), ("apache", signal.SIGTERM), ("supervisor", signal.SIGTERM),
                          ("sshd", signal.SIGTERM)):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.send_signal(sig)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.pg_started:
            subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/pg_ctl", "-D", self.path("pg", "data"),
                            "-m", "fast", "-w", "stop"], capture_output=True, cwd="/")
        # Workers that outlived their parent (they should not), by their binary.
        for pid in self.worker_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for path, remove in ((SOCKET, os.unlink), (os.path.dirname(SOCKET), os.rmdir)):
            try:
                remove(path)  # the directory only if empty (on a real host, systemd owns it)
            except OSError:
                pass
        if not KEEP:
            if self.user_created:
                self.remove_user()
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"kept: {self.dir}, user {INSTANCE}")
