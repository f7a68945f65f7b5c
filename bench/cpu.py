"""Where the machine's time goes during a wrk run, by process, from /proc: no profiler needed,
so every `make bench` shows it. CPU time (user + system) per request, in microseconds, for wrk,
the front end (nginx or Apache), the application under test (kiva, the responder, the
processes mod_fcgid or mod_wsgi run), PostgreSQL (backends and its
background processes), and the rest of the machine (mostly kernel threads: disk flushes);
plus the share of the cores left idle (waiting, e.g. for fdatasync at commit)."""

import os

HZ = os.sysconf("SC_CLK_TCK")
GROUPS = ("wrk", "front", "app", "postgres", "other")


def _ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def _group(pid, app):
    """app: the pid of the application, a frozenset of its pids (a peer's processes), or the
    first word of its processes' command lines."""
    if pid == app or (isinstance(app, frozenset) and pid in app):
        return "app"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")[0].decode(errors="replace").strip()  # mod_wsgi pads its name
    except OSError:
        return None
    if isinstance(app, str) and (cmd == app or cmd.startswith(app + " ")):
        return "app"
    if cmd.startswith("nginx:") or cmd == "/usr/sbin/apache2" or cmd == "apache2":
        return "front"
    if cmd.startswith("postgres:") or cmd.endswith("/bin/postgres"):
        return "postgres"
    return None


# The pid files of this run's nginx, Apache and PostgreSQL (bench.py fills it): on a shared
# machine, other stacks' nginx and postgres processes must not count as this run's.
PID_FILES = {"front": [], "postgres": []}


def _ours():
    """{group: pids of the processes under this run's pid files}, or None per group without any."""
    roots = {}
    for group, files in PID_FILES.items():
        for path in files:
            try:
                with open(path) as f:
                    roots.setdefault(group, set()).add(int(f.readline().strip()))
            except (OSError, ValueError):
                pass
    if not roots:
        return {}
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out = {}
    for group, pids in roots.items():
        todo, seen = list(pids), set()
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo.extend(children.get(p, []))
        out[group] = seen
    return out


def snapshot(app_pid):
    """Ticks per group now; wrk's come from this process's finished children (os.times)."""
    groups = dict.fromkeys(GROUPS, 0.0)
    ours = _ours()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                g = _group(int(entry), app_pid)
                if g in ours and int(entry) not in ours[g]:
                    g = None  # another stack's nginx or postgres: the rest of the machine
                if g:
                    groups[g] += _ticks(entry) / HZ
            except OSError:  # the process ended meanwhile
                pass
    t = os.times()
    groups["wrk"] = t.children_user + t.children_system
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    idle = cpu[3] + cpu[4]
    return {"groups": groups, "busy": (sum(cpu) - idle) / HZ, "total": sum(cpu) / HZ}


def per_request(before, after, requests):
    """{group: microseconds of CPU per request} and the idle share of the cores, between two snapshots."""
    # A process that ended between the snapshots takes its time with it: never below zero.
    spent = {g: max(0.0, after["groups"][g] - before["groups"][g]) for g in GROUPS if g != "other"}
    busy = after["busy"] - before["busy"]
    spent["other"] = max(0.0, busy - sum(spent.values()))
    total = after["total"] - before["total"]
    n = max(requests, 1)
    return {"us_per_request": {g: 1e6 * spent[g] / n for g in GROUPS},
            "busy_us_per_request": 1e6 * busy / n,
            "idle_pct": 100 * (1 - busy / total) if total > 0 else None}
