#!/usr/bin/env python3
"""A systemd stand-in for the deployment test, where no init system runs: it reads the
SHIPPED units deploy/systemd/kiva@.socket and kiva@.service for one instance and honours what
the worker depends on:

  socket   ListenStream (a unix socket path), SocketUser, SocketGroup, SocketMode,
           DirectoryMode, Backlog: the supervisor binds the socket itself and keeps it open
           for its whole life, across every restart of the worker;
  service  ExecStart, Environment, User, Group (with the user's supplementary groups),
           WorkingDirectory, UMask, Restart (no, on-failure, always), RestartSec, KillSignal,
           TimeoutStopSec; the worker gets the socket as fd 3 with LISTEN_FDS=1 and
           LISTEN_PID=<its pid>, like socket activation. It is started by the first
           connection (or by a restart request), restarted after a failure (non-zero exit,
           or a signal other than SIGTERM/SIGINT/SIGHUP/SIGPIPE) when Restart= says so.

A restart (`systemctl restart`) is a stop then a start: KillSignal to the old worker, which
finishes its requests in flight; meanwhile the socket stays open, so new connections wait in
the backlog and nothing is refused. Ask for one with SIGHUP to the supervisor, or with
`fake_systemd.py restart --control DIR`, which waits until it is done (what deploy.conf's
RESTART_COMMAND runs as the deploy account; the control directory is writable by the unit's
group, or the --control-group, only: what the sudo rule of deploy/sudoers.example allows). Other settings of the units (hardening) are listed as not emulated.

The jobs worker's unit, kiva-jobs@.service, likewise (no socket: ExecStart, Environment, User,
Group, WorkingDirectory, UMask, Restart, RestartSec, KillSignal, TimeoutStopSec): started by
the first `fake_systemd.py restart-jobs --control DIR` (what JOBS_RESTART_COMMAND runs), which
is a stop then a start as well, and restarted after a failure as Restart= says.

`run --setenv NAME=VALUE` (repeatable) adds a variable to both units' environment, as
`systemctl set-environment` does for the units started after it (make cluster: the demo's
COURSE_TALLY_SECONDS).

Apache's unit is emulated too, as far as the deploys need it: `fake_systemd.py reload-apache2`
runs, as root, the --exec-reload commands in order (apache2.service's own ExecReload, then the
shipped drop-in's, deploy/systemd/apache2.service.d/), and `warm-fcgid` the --exec-warm ones
(what `sudo kiva-fcgid-warm` runs in production); the answer carries their last output line.

  fake_systemd.py run --units DIR --instance NAME --control DIR [--control-group G] [--log FILE]
                      [--exec-reload CMD]... [--exec-warm CMD]... [--setenv NAME=VALUE]...
  fake_systemd.py restart|restart-jobs|reload-apache2|warm-fcgid --control DIR [--timeout SECONDS]
  fake_systemd.py status --control DIR
"""

import argparse
import grp
import json
import os
import pwd
import select
import shlex
import signal
import socket
import subprocess
import sys
import time

EMULATED = {
    "Socket": {"ListenStream", "SocketUser", "SocketGroup", "SocketMode", "DirectoryMode", "Backlog", "Accept"},
    "Service": {"Type", "User", "Group", "WorkingDirectory", "Environment", "ExecStart", "Restart",
                "RestartSec", "KillSignal", "TimeoutStopSec", "UMask", "StandardError", "SyslogIdentifier"},
}
CLEAN_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE}


def log(message):
    print(f"fake-systemd: {message}", file=sys.stderr, flush=True)


def parse_unit(path, instance):
    """INI-like unit file -> {section: [(key, value), ...]} with %i and %% expanded."""
    sections, current = {}, None
    with open(path) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for raw in lines:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        value = value.strip().replace("%i", instance).replace("%%", "%")
        current.append((key.strip(), value))
    return sections


def one(section, key, default=None):
    values = [v for k, v in section if k == key]
    return values[-1] if values else default


def seconds(text):
    text = text.strip()
    for suffix, factor in (("ms", 0.001), ("min", 60), ("s", 1), ("m", 60)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


class JobsService:
    """kiva-jobs@.service: the same binary run with --jobs, no socket (see the module's doc)."""

    def __init__(self, path, instance, log_path, setenv=None):
        self.svc = parse_unit(path, instance).get("Service", [])
        self.setenv = setenv or {}
        ignored = sorted({k for k, _ in self.svc} - EMULATED["Service"])
        if ignored:
            log(f"[Service] of kiva-jobs@.service not emulated: {', '.join(ignored)}")
        self.instance = instance
        self.log_path = log_path
        self.process = None
        self.restart_at = None
        self.starts = 0

    def start(self):
        exec_start = shlex.split(one(self.svc, "ExecStart"))
        exec_start[0] = exec_start[0].lstrip("-@+!")
        user = one(self.svc, "User", "root")
        pw = pwd.getpwnam(user)
        group = one(self.svc, "Group")
        gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "HOME": pw.pw_dir, "USER": user, "LOGNAME": user, "SHELL": pw.pw_shell,
               "INVOCATION_ID": os.urandom(16).hex(), **self.setenv}
        for _, value in (kv for kv in self.svc if kv[0] == "Environment"):
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
        umask = int(one(self.svc, "UMask", "0022"), 8)
        out = open(self.log_path, "ab", buffering=0)
        self.process = subprocess.Popen(
            exec_start, env=env, cwd=one(self.svc, "WorkingDirectory", "/"), user=pw.pw_uid, group=gid,
            extra_groups=os.getgrouplist(user, gid), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            preexec_fn=lambda: os.umask(umask), start_new_session=True)
        out.close()
        self.starts += 1
        log(f"started kiva-jobs@{self.instance}.service as pid {self.process.pid} (user {user})")

    def stop(self):
        if not self.process or self.process.poll() is not None:
            self.process = None
            return
        sig = getattr(signal, one(self.svc, "KillSignal", "SIGTERM"))
        timeout = seconds(one(self.svc, "TimeoutStopSec", "90s"))
        log(f"stopping the jobs worker, pid {self.process.pid}, with {sig.name}")
        self.process.send_signal(sig)
        try:
            rc = self.process.wait(timeout)
        except Exception:
            log(f"pid {self.process.pid} did not stop in {timeout}s: SIGKILL")
            self.process.kill()
            rc = self.process.wait()
        log(f"the jobs worker, pid {self.process.pid}, stopped ({Supervisor.describe(rc)})")
        self.process = None

    def restart(self):
        log(f"restart of kiva-jobs@{self.instance}.service requested")
        self.restart_at = None
        self.stop()
        self.start()

    def reap(self):
        """True when the state changed (status to write)."""
        if self.restart_at and time.time() >= self.restart_at:
            self.restart_at = None
            self.start()
            return True
        if not self.process or self.process.poll() is None:
            return False
        rc, pid = self.process.returncode, self.process.pid
        self.process = None
        clean = rc == 0 or (rc < 0 and signal.Signals(-rc) in CLEAN_SIGNALS)
        policy = one(self.svc, "Restart", "no")
        again = policy == "always" or (policy == "on-failure" and not clean)
        log(f"the jobs worker, pid {pid}, exited ({Supervisor.describe(rc)}){', restarting' if again else ''}")
        if again and self.starts < 50:
            self.restart_at = time.time() + seconds(one(self.svc, "RestartSec", "100ms"))
        return True


class Supervisor:
    def __init__(self, units, instance, control, log_path, control_group=None, commands=None, setenv=None):
        sock_unit = parse_unit(os.path.join(units, "kiva@.socket"), instance)
        svc_unit = parse_unit(os.path.join(units, "kiva@.service"), instance)
        self.sock_cfg = sock_unit.get("Socket", [])
        self.svc = svc_unit.get("Service", [])
        for name, section in (("Socket", self.sock_cfg), ("Service", self.svc)):
            ignored = sorted({k for k, _ in section} - EMULATED[name])
            if ignored:
                log(f"[{name}] not emulated: {', '.join(ignored)}")
        self.instance = instance
        self.control = control
        self.control_group = control_group
        self.log_path = log_path
        self.process = None
        self.started_at = []
        self.restart_at = None
        self.stopping = False
        self.hup = False
        self.starts = 0
        self.commands = commands or {}  # request -> the shell commands it runs, in order
        self.setenv = setenv or {}      # systemctl set-environment: both units get it
        jobs_unit = os.path.join(units, "kiva-jobs@.service")
        self.jobs = JobsService(jobs_unit, instance, log_path, self.setenv) if os.path.exists(jobs_unit) else None

    # --- the socket -----------------------------------------------------------------------
    def bind(self):
        path = one(self.sock_cfg, "ListenStream")
        if not path or not path.startswith("/"):
            raise SystemExit(f"fake-systemd: only a unix socket path is emulated (ListenStream={path})")
        self.path = path
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, int(one(self.sock_cfg, "DirectoryMode", "0755"), 8))
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        user = one(self.sock_cfg, "SocketUser", "root")
        group = one(self.sock_cfg, "SocketGroup", "root")
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
        os.chmod(path, int(one(self.sock_cfg, "SocketMode", "0666"), 8))
        self.sock.listen(int(one(self.sock_cfg, "Backlog", "128")))
        log(f"listening on {path} ({user}:{group} {one(self.sock_cfg, 'SocketMode', '0666')})")

    # --- the service ----------------------------------------------------------------------
    def start(self):
        exec_start = shlex.split(one(self.svc, "ExecStart"))
        if exec_start[0][0] in "-@+!":
            exec_start[0] = exec_start[0].lstrip("-@+!")
        user = one(self.svc, "User", "root")
        pw = pwd.getpwnam(user)
        group = one(self.svc, "Group")
        gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "HOME": pw.pw_dir, "USER": user, "LOGNAME": user, "SHELL": pw.pw_shell,
               "LISTEN_FDS": "1", "LISTEN_FDNAMES": f"kiva@{self.instance}.socket",
               "INVOCATION_ID": os.urandom(16).hex(), **self.setenv}
        for _, value in (kv for kv in self.svc if kv[0] == "Environment"):
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
        umask = int(one(self.svc, "UMask", "0022"), 8)
        fd = self.sock.fileno()

        def child_setup():
            os.dup2(fd, 3)
            os.set_inheritable(3, True)
            os.umask(umask)

        # LISTEN_PID must be the worker's own pid: a shell sets it and execs the worker.
        argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'] + exec_start
        out = open(self.log_path, "ab", buffering=0)
        self.process = subprocess.Popen(
            argv, env=env, cwd=one(self.svc, "WorkingDirectory", "/"), user=pw.pw_uid, group=gid,
            extra_groups=os.getgrouplist(user, gid), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            pass_fds=(3,), preexec_fn=child_setup, start_new_session=True)
        out.close()
        self.starts += 1
        now = time.time()
        self.started_at = [t for t in self.started_at if now - t < 10] + [now]
        log(f"started kiva@{self.instance}.service as pid {self.process.pid} (user {user})")
        self.write_status()

    def stop(self):
        if not self.process or self.process.poll() is not None:
            self.process = None
            return
        sig = getattr(signal, one(self.svc, "KillSignal", "SIGTERM"))
        timeout = seconds(one(self.svc, "TimeoutStopSec", "90s"))
        log(f"stopping pid {self.process.pid} with {sig.name}")
        self.process.send_signal(sig)
        try:
            rc = self.process.wait(timeout)
        except Exception:
            log(f"pid {self.process.pid} did not stop in {timeout}s: SIGKILL")
            self.process.kill()
            rc = self.process.wait()
        log(f"pid {self.process.pid} stopped ({self.describe(rc)})")
        self.process = None

    @staticmethod
    def describe(rc):
        return f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"

    def restart(self):
        log(f"restart of kiva@{self.instance}.service requested")
        self.restart_at = None
        self.stop()
        self.start()

    def reap(self):
        if not self.process:
            return
        rc = self.process.poll()
        if rc is None:
            return
        pid = self.process.pid
        self.process = None
        clean = rc == 0 or (rc < 0 and signal.Signals(-rc) in CLEAN_SIGNALS)
        policy = one(self.svc, "Restart", "no")
        again = policy == "always" or (policy == "on-failure" and not clean)
        log(f"pid {pid} exited ({self.describe(rc)}){', restarting' if again else ''}")
        if again:
            if len(self.started_at) >= 5:
                log("start limit hit (5 starts in 10 s): not restarting until the next connection")
            else:
                self.restart_at = time.time() + seconds(one(self.svc, "RestartSec", "100ms"))
        self.write_status()

    def write_status(self):
        status = {"pid": self.process.pid if self.process else None, "starts": self.starts}
        if self.jobs:
            status.update(jobs_pid=self.jobs.process.pid if self.jobs.process else None,
                          jobs_starts=self.jobs.starts)
        tmp = os.path.join(self.control, ".status.tmp")
        with open(tmp, "w") as f:
            json.dump(status, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(self.control, "status.json"))

    # --- control ----------------------------------------------------------------------------
    def requests(self):
        for name in sorted(os.listdir(self.control)):
            if not name.startswith("request."):
                continue
            ident = name[len("request."):]
            path = os.path.join(self.control, name)
            try:
                with open(path) as f:
                    what = f.read().strip()
                os.unlink(path)
            except OSError:
                continue
            if what == "restart":
                try:
                    self.restart()
                    answer = "ok"
                except Exception as e:  # reported to the client
                    answer = f"failed: {e}"
            elif what == "restart-jobs" and self.jobs:
                try:
                    self.jobs.restart()
                    self.write_status()
                    answer = "ok"
                except Exception as e:  # reported to the client
                    answer = f"failed: {e}"
            elif what in self.commands:
                answer = self.run_commands(what)
            else:
                answer = f"failed: unknown request {what!r}"
            tmp = os.path.join(self.control, f".response.{ident}")
            with open(tmp, "w") as f:
                f.write(answer + "\n")
            os.chmod(tmp, 0o664)
            os.replace(tmp, os.path.join(self.control, f"response.{ident}"))

    def run_commands(self, what):
        """systemd's Exec lines: in order, stop at the first failure unless it starts with "-"."""
        last = ""
        for cmd in self.commands[what]:
            r = subprocess.run(cmd.lstrip("-"), shell=True, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            log(f"{what}: {cmd} -> {r.returncode}: {r.stdout.strip()[-300:]}")
            last = (r.stdout.strip().splitlines() or [""])[-1]
            if r.returncode != 0 and not cmd.startswith("-"):
                return f"failed: {cmd} -> {r.returncode} {last}"
        return f"ok {last}".strip()

    def run(self):
        group = self.control_group or one(self.svc, "Group") or pwd.getpwnam(one(self.svc, "User", "root")).pw_name
        os.makedirs(self.control, exist_ok=True)
        os.chown(self.control, 0, grp.getgrnam(group).gr_gid)
        os.chmod(self.control, 0o2770)
        self.bind()
        self.write_status()
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "hup", True))
        log(f"supervising kiva@{self.instance} (pid {os.getpid()}); control directory {self.control}")
        try:
            while not self.stopping:
                self.reap()
                if self.jobs and self.jobs.reap():
                    self.write_status()
                if self.hup:
                    self.hup = False
                    self.restart()
                self.requests()
                if self.restart_at and time.time() >= self.restart_at:
                    self.restart_at = None
                    self.start()
                if self.process is None and self.restart_at is None:
                    # Socket activation: the first connection starts the worker.
                    try:
                        readable, _, _ = select.select([self.sock], [], [], 0.05)
                    except InterruptedError:
                        readable = []
                    if readable:
                        log("connection on the socket: starting the worker")
                        self.start()
                else:
                    time.sleep(0.05)
        finally:
            if self.jobs:
                self.jobs.stop()
            self.stop()
            self.sock.close()
            try:
                os.unlink(self.path)
            except OSError:
                pass
            log("stopped")


def client(control, what, timeout):
    ident = f"{os.getpid()}.{os.urandom(4).hex()}"
    tmp = os.path.join(control, f".request.{ident}")
    with open(tmp, "w") as f:
        f.write(what + "\n")
    os.replace(tmp, os.path.join(control, f"request.{ident}"))
    response = os.path.join(control, f"response.{ident}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(response):
            with open(response) as f:
                answer = f.read().strip()
            os.unlink(response)
            print(f"fake-systemd: {what}: {answer}")
            return 0 if answer.split()[0] == "ok" else 1
        time.sleep(0.05)
    print(f"fake-systemd: {what}: no answer in {timeout}s (is the supervisor running?)", file=sys.stderr)
    return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--units", required=True)
    run.add_argument("--instance", required=True)
    run.add_argument("--control", required=True)
    run.add_argument("--log", default="/dev/stderr")
    run.add_argument("--control-group", help="the group that may ask for a restart (default: the unit's Group)")
    run.add_argument("--exec-reload", action="append", default=[], help="a command of reload-apache2 (repeat)")
    run.add_argument("--exec-warm", action="append", default=[], help="a command of warm-fcgid (repeat)")
    run.add_argument("--setenv", action="append", default=[], metavar="NAME=VALUE",
                     help="in both units' environment, as systemctl set-environment (repeat)")
    for name in ("restart", "restart-jobs", "status", "reload-apache2", "warm-fcgid"):
        p = sub.add_parser(name)
        p.add_argument("--control", required=True)
        p.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args()
    if args.command == "run":
        setenv = dict(a.partition("=")[::2] for a in args.setenv)
        Supervisor(args.units, args.instance, args.control, args.log, args.control_group,
                   {"reload-apache2": args.exec_reload, "warm-fcgid": args.exec_warm}, setenv).run()
        return 0
    if args.command == "status":
        with open(os.path.join(args.control, "status.json")) as f:
            print(f.read())
        return 0
    return client(args.control, args.command, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
