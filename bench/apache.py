"""The Apache scenarios of `make bench`: one Apache 2.4 (mpm_event, Debian's defaults) serving
the shipped vhost templates, rendered by deploy/render-site.sh, each on a port of its own:

  apache-fcgid             kiva run by mod_fcgid (apache/kiva-fcgid.conf.in)
  apache-fcgid-hello       the same vhost running bench/hello.cpp instead: mod_fcgid's own ceiling
  apache-fcgid-4           kiva under mod_fcgid with 4 processes for 16 connections (the issue's
                           measure): the one-second stall, shown rather than hidden
  apache-proxy-fcgi        mod_proxy_fcgi to the stack's worker (apache/kiva-proxy-fcgi.conf.in),
                           the very process the nginx scenarios measure
  apache-proxy-fcgi-hello  the same vhost to bench/hello.cpp on a socket (4 threads)
  flask-wsgi-seed          Flask + psycopg under mod_wsgi, the course's vhost (processes=1 threads=1)
  flask-wsgi-4             the same with processes=4

Every scenario is plain HTTP, like the nginx ones: the templates' redirect vhost and TLS lines
are left out (the bench compares the modules, not the ciphers), and their access logs are
replaced by one per scenario with only the status and Apache's own time (%D, microseconds):
the latencies as the server saw them, counted next to wrk's (bench/README.md). Nothing else of
the templates changes. The mod_fcgid pools are filled by deploy/fcgid-warm.sh, as after a start.
"""

import os
import re
import shutil
import subprocess
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)

# mod_fcgid's best setting (deploy/README.md): more processes than requests in flight (wrk's
# 16 connections); the template itself lifts the spawn score's brake.
FCGID_PROCESSES = int(os.environ.get("BENCH_FCGID_PROCESSES") or 24)


class Failure(Exception):
    pass


def http_only(rendered, port, access_log):
    """The HTTPS vhost of a rendered template, served over HTTP on port (see the docstring)."""
    blocks = re.findall(r"<VirtualHost \*:\d+>.*?</VirtualHost>", rendered, re.S)
    if len(blocks) != 2:
        raise Failure("a rendered vhost file no longer has its redirect and HTTPS virtual hosts")
    keep = [l for l in blocks[1].splitlines()
            if not re.match(r"\s*(SSL\w+|Protocols|CustomLog|Header always set Strict-Transport-Security)\b", l)]
    vhost = re.sub(r"<VirtualHost \*:\d+>", f"<VirtualHost 127.0.0.1:{port}>\n    CustomLog {access_log} \"%>s %D\"",
                   "\n".join(keep), count=1)
    # The template's server-wide lines (mod_fcgid's spawn limits and scans) apply as shipped.
    outside = re.sub(r"<VirtualHost \*:\d+>.*?</VirtualHost>", "", rendered, flags=re.S)
    server_wide = [l for l in outside.splitlines() if re.match(r"(Fcgid|Mutex)\w*\s", l)]
    return "\n".join(server_wide + [vhost]) + "\n"


def fill(template, **values):
    with open(template) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise Failure(f"{template}: placeholders left: {left}")
    return text


class Apache:
    def __init__(self, state, free_port, kiva, hello, conninfo, stack_conf, stack_socket, spawn):
        self.dir = os.path.join(state, "apache")
        self.state, self.kiva, self.hello, self.conninfo = state, kiva, hello, conninfo
        self.stack_conf, self.stack_socket, self.spawn = stack_conf, stack_socket, spawn
        self.hello_socket = os.path.join(state, "run", "hello.sock")
        names = ("apache-fcgid", "apache-fcgid-hello", "apache-fcgid-4", "apache-proxy-fcgi",
                 "apache-proxy-fcgi-hello", "flask-wsgi-seed", "flask-wsgi-4")
        self.ports = {n: free_port() for n in names}
        self.proc = None

    def path(self, *p):
        return os.path.join(self.dir, *p)

    # --- what the vhosts serve -----------------------------------------------------------
    def fcgid_app(self, name, binary):
        """An application directory as prepare-target.sh lays it out, readable by www-data
        (mod_fcgid runs the worker as Apache's user)."""
        app = self.path("apps", name)
        for sub in ("bin", "conf", "sql", "www", "run", "fcgid"):
            os.makedirs(os.path.join(app, sub), exist_ok=True)
        shutil.copy(binary, os.path.join(app, "bin", "kiva"))
        shutil.copy(os.path.join(ROOT, "examples", "course", "sql", "queries.sql"), os.path.join(app, "sql", "queries.sql"))
        with open(self.stack_conf) as f:
            lines = f.read().splitlines()
        secret = None
        conf = []
        for line in lines:
            m = re.match(r"\s*(\w+)\s*=\s*(.*)", line)
            if m and m.group(1) == "listen":
                continue  # mod_fcgid passes the socket as fd 0
            if m and m.group(1) == "docs_dir":
                continue  # /docs is not measured, and www-data cannot enter a private checkout
            if m and m.group(1) == "token_secret_file":
                secret = m.group(2).strip()
                line = f"token_secret_file = {app}/conf/token.secret"
            if m and m.group(1) == "queries":
                line = f"queries = {app}/sql/queries.sql"
            conf.append(line)
        if secret:
            shutil.copy(secret, os.path.join(app, "conf", "token.secret"))
        with open(os.path.join(app, "conf", "kiva.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")
        open(os.path.join(app, "conf", "apache.pgpass"), "w").close()  # trust auth: no password
        os.chmod(self.path("apps"), 0o755)
        for dirpath, _, files in os.walk(app):
            os.chmod(dirpath, 0o755)
            for fn in files:
                os.chmod(os.path.join(dirpath, fn), 0o755 if dirpath.endswith("bin") else 0o644)
        os.chmod(os.path.join(app, "conf", "apache.pgpass"), 0o600)
        shutil.chown(os.path.join(app, "conf", "apache.pgpass"), "www-data", "www-data")
        shutil.chown(os.path.join(app, "run"), "www-data", "www-data")  # the shared metrics file
        return app

    def flask_app(self, name):
        app = self.path("apps", name)
        os.makedirs(app, exist_ok=True)
        shutil.copy(os.path.join(BENCH, "flask", "app.py"), app)
        with open(os.path.join(app, "kiva.wsgi"), "w") as f:
            f.write(fill(os.path.join(BENCH, "flask", "kiva.wsgi.in"), CONNINFO=self.conninfo))
        os.chmod(self.path("apps"), 0o755)
        os.chmod(app, 0o755)
        return app

    def render(self, name, template_out, port, app_dir, extra=()):
        out = self.path("render", name)
        r = subprocess.run([os.path.join(ROOT, "deploy", "render-site.sh"), "--instance", name,
                            "--server-name", "localhost", "--cert", "/nonexistent.pem", "--key", "/nonexistent.key",
                            "--app-dir", app_dir, "--prefix", "/api", "--https-port", str(port),
                            "--http-port", str(port), "--out", out, *extra], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"render-site.sh failed for {name}:\n{r.stderr}")
        if template_out == "apache-fcgid.conf":  # the wrapper the vhost names, where render-site.sh puts it
            for wrapper_name in ("kiva-fcgid", "kiva-fcgid-b"):  # the vhost's classes a and b
                wrapper = os.path.join(app_dir, "fcgid", wrapper_name)
                shutil.copy(os.path.join(out, "kiva-fcgid"), wrapper)
                os.chmod(wrapper, 0o755)
            pool = int(re.search(r"^POOL=(\d+)$", open(os.path.join(out, "fcgid-warm.conf")).read(), re.M).group(1))
            with open(os.path.join(app_dir, "fcgid-warm.conf"), "w") as f:
                f.write(f"INSTANCE={name}\nPOOL={pool}\nURL={self.url(name)}/api/health\nAPP_DIR={app_dir}\n")
        with open(os.path.join(out, template_out)) as f:
            return http_only(f.read(), port, self.access_log(name))

    # --- Apache ------------------------------------------------------------------------
    def start(self):
        for sub in ("run", "log", "fcgid", "apps/none/www", "render"):
            os.makedirs(self.path(sub), exist_ok=True)
        os.chmod(self.dir, 0o755)
        shutil.chown(self.path("fcgid"), "www-data", "www-data")
        self.spawn("hello", [self.hello, self.hello_socket, "4"])
        fcgid = ["--fcgid-max-processes", str(FCGID_PROCESSES)]
        vhosts = {
            "apache-fcgid": self.render("apache-fcgid", "apache-fcgid.conf", self.ports["apache-fcgid"],
                                        self.fcgid_app("apache-fcgid", self.kiva), fcgid),
            "apache-fcgid-hello": self.render("apache-fcgid-hello", "apache-fcgid.conf",
                                              self.ports["apache-fcgid-hello"],
                                              self.fcgid_app("apache-fcgid-hello", self.hello), fcgid),
            "apache-fcgid-4": self.render("apache-fcgid-4", "apache-fcgid.conf", self.ports["apache-fcgid-4"],
                                          self.fcgid_app("apache-fcgid-4", self.kiva), ["--fcgid-max-processes", "4"]),
            "apache-proxy-fcgi": self.render("apache-proxy-fcgi", "apache-proxy-fcgi.conf",
                                             self.ports["apache-proxy-fcgi"], self.path("apps", "none"),
                                             ["--socket", self.stack_socket]),
            "apache-proxy-fcgi-hello": self.render("apache-proxy-fcgi-hello", "apache-proxy-fcgi.conf",
                                                   self.ports["apache-proxy-fcgi-hello"], self.path("apps", "none"),
                                                   ["--socket", self.hello_socket]),
        }
        for name, processes in (("flask-wsgi-seed", 1), ("flask-wsgi-4", 4)):
            vhosts[name] = fill(os.path.join(BENCH, "apache", "flask-wsgi.conf.in"), NAME=name,
                                DISPLAY_NAME=self.display_name(name), PROCESSES=processes,
                                PORT=self.ports[name], APP_DIR=self.flask_app(name),
                                ACCESS_LOG=self.access_log(name))
        includes = []
        for name, text in vhosts.items():
            with open(self.path(f"{name}.conf"), "w") as f:
                f.write(text)
            includes.append(f"Include {self.path(name + '.conf')}")
        conf = fill(os.path.join(BENCH, "apache", "httpd.conf.in"), DIR=self.dir,
                    LISTEN="\n".join(f"Listen 127.0.0.1:{p}" for p in self.ports.values()),
                    INCLUDES="\n".join(includes))
        with open(self.path("httpd.conf"), "w") as f:
            f.write(conf)
        r = subprocess.run(["apache2", "-t", "-f", self.path("httpd.conf")], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"apache2 -t: {r.stdout}{r.stderr}")
        self.proc = self.spawn("apache", ["apache2", "-f", self.path("httpd.conf"), "-DFOREGROUND"],
                               cwd="/")
        deadline = time.time() + 20
        while not os.path.exists(self.path("run", "httpd.pid")):
            if self.proc.poll() is not None or time.time() > deadline:
                raise Failure("Apache did not start: see " + self.path("log", "error.log"))
            time.sleep(0.05)

    def restart(self):
        """A graceful reload, as logrotate's: mod_fcgid stops every pool; back when they are empty."""
        subprocess.run(["apache2", "-f", self.path("httpd.conf"), "-k", "graceful"], check=True, cwd="/")
        deadline = time.time() + 30
        while any(self.fcgid_processes(n) for n in self.ports if n.startswith("apache-fcgid")):
            if time.time() > deadline:
                raise Failure("mod_fcgid's processes are still there 30 s after a graceful reload")
            time.sleep(0.1)
        time.sleep(1)  # the new generation of Apache's children and mod_fcgid's process manager

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Apache stops its children, mod_fcgid's and mod_wsgi's
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def url(self, name):
        return f"http://127.0.0.1:{self.ports[name]}"

    # --- mod_fcgid's pool and the server's own times ----------------------------------------
    def warm(self, name):
        """deploy/fcgid-warm.sh on a scenario's pool, as after a start: (processes, seconds)."""
        t0 = time.time()
        subprocess.run([os.path.join(ROOT, "deploy", "fcgid-warm.sh"), "--conf",
                        self.path("apps", name, "fcgid-warm.conf"), "--timeout", "30"],
                       capture_output=True, text=True)
        return self.fcgid_processes(name), round(time.time() - t0, 1)

    def access_log(self, name):
        return self.path("log", f"{name}-access.log")

    def log_offset(self, name):
        try:
            return os.path.getsize(self.access_log(name))
        except OSError:
            return 0

    def server_times(self, name, offset):
        """Apache's %D (ms) of every request logged for a scenario since offset."""
        with open(self.access_log(name)) as f:
            f.seek(offset)
            return [int(line.split()[1]) / 1000 for line in f if len(line.split()) == 2]

    def sample_processes(self, name, stop, every=0.5):
        """mod_fcgid's process count of a scenario, every `every` s until stop is set (a thread)."""
        samples = []

        def loop():
            while not stop.wait(every):
                samples.append(self.fcgid_processes(name))
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        return t, samples

    def app_match(self, name):
        """What bench/cpu.py counts as the application of a scenario (a command line's first word)."""
        if name.startswith("apache-fcgid"):
            return self.path("apps", name, "bin", "kiva")
        if name.startswith("flask"):
            return self.display_name(name)
        return None

    @staticmethod
    def display_name(name):
        """mod_wsgi's display-name for a Flask scenario: it overwrites Apache's argv[0] in
        place, so only as many characters as "apache2" show in /proc/PID/cmdline."""
        return "flask-4" if name.endswith("-4") else "flask-1"

    def fcgid_processes(self, name):
        """How many processes mod_fcgid runs for a scenario now."""
        binary = self.path("apps", name, "bin", "kiva")
        n = 0
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        n += f.read().split(b"\0")[0].decode(errors="replace") == binary
                except OSError:
                    pass
        return n

    def error_log(self, tail=40):
        try:
            with open(self.path("log", "error.log"), errors="replace") as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return ""
