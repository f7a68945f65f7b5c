"""Two kiva instances on one Apache under mod_fcgid and suEXEC (render-site.sh --suexec): each
instance's worker runs as its own account, reads its own token secret and database password,
and cannot read the other's. The deployed instance (kiva-e2e) is one; a second account,
kiva-e2e-b, gets a copy of its release with secrets of its own. A second Apache (mod_suexec,
Debian's apache2-suexec-custom: programs below /var/www only) serves both on fresh ports."""

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time

from support import CHECKS, HOME, INSTANCE, ROOT, free_port, request, say, sh

OTHER = f"{INSTANCE}-b"
OTHER_HOME = f"/home/{OTHER}"
SUEXEC_ROOT = "/var/www/kiva"   # below suexec-custom's document root (/etc/apache2/suexec/www-data)


class SuexecInstances:
    def suexec_instances(self):
        say(f"two instances under suEXEC on one Apache ({INSTANCE}, {OTHER}): each under its own account")
        if not os.path.exists("/usr/lib/apache2/modules/mod_suexec.so") or not os.path.exists("/usr/lib/apache2/suexec"):
            CHECKS.check("apache2-suexec-custom is installed (deploy/dev/install-deps.sh deploy)", False)
            return
        self.suexec_created = []
        try:
            self.suexec_setup()
            self.suexec_checks()
            self.suexec_exhausted()
        finally:
            self.suexec_cleanup()

    def suexec_setup(self):
        d = self.path("suexec")
        for sub in ("run", "log", "fcgid"):
            os.makedirs(f"{d}/{sub}", exist_ok=True)
        shutil.chown(f"{d}/fcgid", "www-data", "www-data")
        # The second account: the first one's release, its own secrets (a token secret of its own,
        # its own copy of the runtime password), nothing readable by anyone else.
        self.remove_one_user(OTHER)
        sh(["useradd", "--system", "--user-group", "--home-dir", OTHER_HOME, "--shell", "/usr/sbin/nologin", OTHER])
        self.suexec_created.append("user")
        for sub in ("", "bin", "conf", "sql", "run", "www"):
            os.makedirs(f"{OTHER_HOME}/{sub}", exist_ok=True)
            shutil.chown(f"{OTHER_HOME}/{sub}", OTHER, OTHER)
            os.chmod(f"{OTHER_HOME}/{sub}", 0o750 if sub != "www" else 0o755)
        shutil.copy(f"{HOME}/bin/kiva", f"{OTHER_HOME}/bin/kiva")
        for f in os.listdir(f"{HOME}/sql"):
            if os.path.isfile(f"{HOME}/sql/{f}"):
                shutil.copy(f"{HOME}/sql/{f}", f"{OTHER_HOME}/sql/{f}")
        with open(f"{HOME}/conf/kiva.conf") as f:
            conf = f.read().replace(f"{HOME}/", f"{OTHER_HOME}/")
        with open(f"{OTHER_HOME}/conf/kiva.conf", "w") as f:
            f.write(conf)
        for name in os.listdir(f"{HOME}/conf"):
            if name.startswith("token"):   # the token secret and keys: its own, never the first's
                with open(f"{OTHER_HOME}/conf/{name}", "w") as f:
                    f.write(secrets.token_hex(32) + "\n" if os.path.getsize(f"{HOME}/conf/{name}") else "")
        shutil.copy(f"{HOME}/.pgpass", f"{OTHER_HOME}/.pgpass")
        for root, dirs, files in os.walk(OTHER_HOME):
            for n in dirs + files:
                shutil.chown(os.path.join(root, n), OTHER, OTHER)
        for f in ("conf/kiva.conf", ".pgpass") + tuple(f"conf/{n}" for n in os.listdir(f"{OTHER_HOME}/conf") if n.startswith("token")):
            os.chmod(f"{OTHER_HOME}/{f}", 0o600)
        os.chmod(f"{OTHER_HOME}/bin/kiva", 0o750)
        # Each rendered with --suexec; the wrapper installed as render-site.sh prints it.
        os.makedirs(SUEXEC_ROOT, exist_ok=True)
        self.suexec_ports = {}
        includes = []
        for inst, home in ((INSTANCE, HOME), (OTHER, OTHER_HOME)):
            https, http = free_port(), free_port()
            self.suexec_ports[inst] = https
            out = f"{d}/render-{inst}"
            r = sh([f"{ROOT}/deploy/render-site.sh", "--instance", inst, "--server-name", "localhost",
                    "--cert", self.cert, "--key", self.key, "--app-dir", home, "--out", out, "--suexec",
                    "--https-port", str(https), "--http-port", str(http), "--fcgid-max-processes", "2"], check=False)
            CHECKS.require(f"render-site.sh --suexec renders {inst}", r.returncode == 0, r.stdout)
            wdir = f"{SUEXEC_ROOT}/{inst}"
            os.makedirs(wdir, exist_ok=True)
            self.suexec_created.append(wdir)
            shutil.copy(f"{out}/kiva-fcgid", f"{wdir}/kiva-fcgid")
            shutil.copy(f"{out}/kiva-fcgid", f"{wdir}/kiva-fcgid-b")
            for p in (wdir, f"{wdir}/kiva-fcgid", f"{wdir}/kiva-fcgid-b"):
                shutil.chown(p, inst, inst)
                os.chmod(p, 0o755)
            with open(f"{out}/apache-fcgid.conf") as f:  # a log of its own per instance
                vhost = f.read().replace("${APACHE_LOG_DIR}", f"{d}/log")
            if inst == INSTANCE:  # suexec_exhausted: a stopped process outlives mod_fcgid's wait
                vhost = vhost.replace("FcgidIOTimeout 60", "FcgidIOTimeout 100")
            with open(f"{d}/{inst}.conf", "w") as f:
                f.write(vhost)
            includes += [f"Listen 127.0.0.1:{https}", f"Listen 127.0.0.1:{http}", f"Include {d}/{inst}.conf"]
        with open(self.path("apache", "httpd.conf")) as f:
            main = f.read()
        # The test's Apache configuration without its own vhosts, with mod_suexec.
        conf = "\n".join(l for l in main.splitlines() if not re.match(r"\s*(Listen|Include)\b", l))
        conf = conf.replace(self.path("apache"), d)
        conf += "\nLoadModule suexec_module /usr/lib/apache2/modules/mod_suexec.so\n" + "\n".join(includes) + "\n"
        with open(f"{d}/httpd.conf", "w") as f:
            f.write(conf)
        r = sh(["apache2", "-t", "-f", f"{d}/httpd.conf"], check=False)
        CHECKS.require("apachectl -t: two --suexec vhosts in one Apache", r.returncode == 0, r.stdout)
        self.procs["apache-suexec"] = subprocess.Popen(["apache2", "-f", f"{d}/httpd.conf", "-DFOREGROUND"],
                                                       stdout=open(f"{d}/stdout.log", "w"), stderr=subprocess.STDOUT)
        for inst, port in self.suexec_ports.items():
            self.wait_port(port, f"suEXEC vhost {inst}")

    def suexec_workers(self):
        """uid -> binaries of the kiva processes whose parent is the suEXEC Apache's process manager."""
        apache = self.procs["apache-suexec"].pid
        seen = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                with open(f"/proc/{pid}/status") as f:
                    st = dict(l.split(":", 1) for l in f if ":" in l)
                with open(f"/proc/{st['PPid'].strip()}/status") as f:
                    pst = dict(l.split(":", 1) for l in f if ":" in l)
            except (OSError, KeyError):
                continue
            if int(pst.get("PPid", "0").strip() or 0) == apache and exe.endswith("/bin/kiva"):
                seen.setdefault(pwd.getpwuid(int(st["Uid"].split()[0])).pw_name, set()).add(exe)
        return seen

    def suexec_checks(self):
        answers = {inst: request(self.ctx, port, "GET", "/api/health") for inst, port in self.suexec_ports.items()}
        for inst, r in answers.items():
            CHECKS.check(f"suEXEC: {inst} answers /api/health through its own vhost (its own secrets read)",
                         r.status == 200, (r.status, r.body[:200]))
        workers = self.suexec_workers()
        CHECKS.check("suEXEC: each instance's worker runs as its own account, from its own directory",
                     workers.get(INSTANCE) == {f"{HOME}/bin/kiva"} and workers.get(OTHER) == {f"{OTHER_HOME}/bin/kiva"}
                     and "www-data" not in workers, workers)
        # Neither account can read the other's secrets; nor can Apache's user read the second's.
        def can_read(user, path):
            return subprocess.run(["runuser", "-u", user, "--", "head", "-c1", path], cwd="/",
                                  capture_output=True).returncode == 0
        pairs = [(OTHER, f"{HOME}/conf/token.secret"), (OTHER, f"{HOME}/.pgpass"),
                 (INSTANCE, f"{OTHER_HOME}/conf/token.secret"), (INSTANCE, f"{OTHER_HOME}/.pgpass"),
                 ("www-data", f"{OTHER_HOME}/conf/token.secret")]
        readable = [(u, p) for u, p in pairs if can_read(u, p)]
        own = [can_read(OTHER, f"{OTHER_HOME}/conf/token.secret"), can_read(INSTANCE, f"{HOME}/conf/token.secret")]
        CHECKS.check("suEXEC: each account reads its own token secret and not the other's (nor www-data the second's)",
                     not readable and all(own), (readable, own))
        # Through the worker itself: the second instance pointed at the first's token secret cannot
        # start.
        conf = f"{OTHER_HOME}/conf/kiva.conf"
        with open(conf) as f:
            saved = f.read()
        with open(conf, "w") as f:
            f.write(saved.replace(f"{OTHER_HOME}/conf/token", f"{HOME}/conf/token"))
        sh(["apache2", "-f", self.path("suexec", "httpd.conf"), "-k", "graceful"])
        time.sleep(2)
        r = request(self.ctx, self.suexec_ports[OTHER], "GET", "/api/health")
        with open(conf, "w") as f:
            f.write(saved)
        # mod_fcgid answers a process that exits at start with 500 (it read nothing from it), a
        # pool it cannot get a process from with 503 (+ Retry-After): JSON either way, never HTML.
        CHECKS.check(f"suEXEC: {OTHER} pointed at {INSTANCE}'s token secret cannot read it: mod_fcgid's error, in JSON",
                     r.status in (500, 503) and r.headers.get("content-type", "").startswith("application/json")
                     and b"<html" not in r.body.lower() and (r.status != 503 or r.headers.get("retry-after") == "1"),
                     (r.status, r.headers, r.body[:200]))

    def suexec_exhausted(self):
        """mod_fcgid's own 503, when no process of the pool can be had, is JSON with Retry-After,
        never Apache's HTML page. mod_fcgid 2.3.9 refuses only after 32 rounds of two tries a
        second apart (about 64 s): the pool (2 processes of kiva-e2e) is held by requests sent to
        stopped processes (SIGSTOP), and this vhost's FcgidIOTimeout raised to 100 s (60 shipped)
        so that they stay held that long."""
        say("suEXEC vhost: mod_fcgid's pool exhausted (its processes stopped): 503 JSON after its wait")
        out = self.path("suexec", f"render-{INSTANCE}")
        r = sh([f"{ROOT}/deploy/fcgid-warm.sh", "--conf", f"{out}/fcgid-warm.conf", "--timeout", "30"], check=False)
        apache = self.procs["apache-suexec"].pid
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/status") as f:
                    st = dict(l.split(":", 1) for l in f if ":" in l)
                with open(f"/proc/{st['PPid'].strip()}/status") as f:
                    pst = dict(l.split(":", 1) for l in f if ":" in l)
                if (int(pst["PPid"].strip()) == apache and os.readlink(f"/proc/{pid}/exe") == f"{HOME}/bin/kiva"):
                    pids.append(int(pid))
            except (OSError, KeyError, ValueError):
                continue
        CHECKS.require(f"suEXEC: the pool of {INSTANCE} is full (2) before it is held", len(pids) == 2, (r.stdout, pids))
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        port = self.suexec_ports[INSTANCE]
        replies = {}

        def get(name):
            try:
                replies[name] = request(self.ctx, port, "GET", "/api/health", timeout=150)
            except OSError as e:
                replies[name] = e
        holders = [threading.Thread(target=get, args=(f"holder{i}",)) for i in range(2)]
        for t in holders:
            t.start()
        time.sleep(1)   # both processes taken before the probe looks for one
        started = time.time()
        get("probe")
        waited = time.time() - started
        for pid in pids:   # the held requests end; mod_fcgid starts new processes on demand
            os.kill(pid, signal.SIGKILL)
        for t in holders:
            t.join(60)
        p = replies["probe"]
        say(f"  the probe waited {waited:.0f} s: {getattr(p, 'status', p)}")
        CHECKS.check("mod_fcgid: no process to be had for a minute is 503 JSON with Retry-After: 1, never HTML",
                     not isinstance(p, Exception) and p.status == 503 and p.json() == {"error": "service unavailable"}
                     and p.headers.get("retry-after") == "1"
                     and p.headers.get("content-type", "").startswith("application/json") and waited >= 30,
                     (waited, getattr(p, "status", p), getattr(p, "headers", None), getattr(p, "body", b"")[:200]))
        deadline, after = time.time() + 30, None
        while time.time() < deadline:
            after = request(self.ctx, port, "GET", "/api/health")
            if after.status == 200:
                break
            time.sleep(1)
        CHECKS.check("mod_fcgid: the pool serves again once the stopped processes are gone", after and after.status == 200,
                     getattr(after, "status", None))

    def suexec_cleanup(self):
        p = self.procs.pop("apache-suexec", None)
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for what in reversed(getattr(self, "suexec_created", [])):
            if what == "user":
                self.remove_one_user(OTHER)
            else:
                shutil.rmtree(what, ignore_errors=True)
        try:
            os.rmdir(SUEXEC_ROOT)   # only if this test left it empty
        except OSError:
            pass
