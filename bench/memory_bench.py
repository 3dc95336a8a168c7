#!/usr/bin/env python3
"""memory_bench.py: supervisor memory of one node with 16 children against supervisord, in one run.

SPEC 8: "supervisor memory, 10k tokens, 16 children | supervisord about 30 MB RSS | <= 8 MB RSS".
For each of --runs runs, on the same machine:
  * one jobsync node (coordination on, total_tokens 10000, private PostgreSQL of
    tests/integration/harness.py), `[tasks] source = range, range = 1-16`, `[worker] mode =
    exec, command = /bin/sleep 120, concurrency = 16`, with the HTTP endpoint on
    (`[health] listen = 127.0.0.1:0`), and once more with it off (`listen =` empty);
  * supervisord (Debian package `supervisor`) with 16 programs `/bin/sleep 120`, its own
    config, socket, pidfile and logs in a temporary directory (`supervisord -n -c`).
Once the 16 children run (counted in /proc; for jobsync also `counters.in_flight` of GET
/status) and --settle seconds have passed, it reads VmRSS and VmHWM of /proc/PID/status and
Pss, Private_Clean and Private_Dirty of /proc/PID/smaps_rollup of the supervisor process;
for jobsync also of its helper `jobsync __guard` (reported apart and summed). The goal is
judged by the node process's VmRSS, as SPEC 8 writes it. Prints Markdown tables.

usage: python3 bench/memory_bench.py --jobsync build/jobsync [--runs 3] [--settle 5]
       [--supervisord PATH] [--no-http-off] [--top N]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as H  # noqa: E402

CHILDREN = 16
GOAL_MB = 8.0
PEER_SPEC_MB = 30.0
SLEEP_SEC = 120


class Bench(H.ClusterCase):
    def runTest(self):  # unittest needs one; the bench drives the helpers itself
        pass


# ---------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------

def proc_stat(pid):
    """(ppid, starttime) of pid from /proc/PID/stat, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[19])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def descendants(root):
    """{pid: starttime} of every live descendant of root (walks the ppid links)."""
    parent, start = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st:
            parent[int(d)], start[int(d)] = st
    out, frontier = {}, {root}
    while frontier:
        nxt = set()
        for pid, pp in parent.items():
            if pp in frontier and pid not in out:
                out[pid] = start[pid]
                nxt.add(pid)
        frontier = nxt
    return out


def kb_fields(path, names):
    vals = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in names:
                    vals[k] = int(v.split()[0])
    except OSError:
        pass
    return vals


STATUS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")
ROLLUP_KEYS = ("Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty")


def memory(pid):
    """kB figures of pid: VmRSS, VmHWM, RssAnon, RssFile, Pss, Private_Dirty, ..."""
    m = kb_fields("/proc/%d/status" % pid, STATUS_KEYS)
    m.update(kb_fields("/proc/%d/smaps_rollup" % pid, ROLLUP_KEYS))
    missing = [k for k in STATUS_KEYS + ROLLUP_KEYS if k not in m]
    if missing:
        raise RuntimeError("pid %d: no %s in /proc (gone?)" % (pid, ", ".join(missing)))
    m["Private"] = m["Private_Clean"] + m["Private_Dirty"]
    return m


def rss_by_mapping(pid, top):
    """[(kB Rss, kB Private, name)] of the largest mappings of pid, grouped by file."""
    by = {}
    name = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if re.match(r"^[0-9a-f]+-[0-9a-f]+$", first):
                    parts = line.split()
                    path = " ".join(parts[5:]) if len(parts) > 5 else "[anon]"
                    name = os.path.basename(path) if path.startswith("/") else path
                elif first in ("Rss:", "Private_Clean:", "Private_Dirty:"):
                    r = by.setdefault(name, [0, 0])
                    kb = int(line.split()[1])
                    r[0 if first == "Rss:" else 1] += kb
    except OSError:
        return []
    rows = sorted(((v[0], v[1], k) for k, v in by.items()), reverse=True)
    return rows[:top]


OWN_DEPS = ("libuv.so", "libjansson.so", "libinih.so", "libhttp_parser.so")
LIBC = ("libc.so", "ld-linux", "[vdso]", "[vvar]", "[vsyscall]")


def rss_by_group(pid, exe):
    """{group: [kB Rss, kB Private]} of jobsync's mappings: its binary, libc, its own
    libraries (libuv, jansson, inih, http_parser), libpq with everything it loads (OpenSSL,
    Kerberos, LDAP, GnuTLS, ...), and anonymous memory (heap, stack, anonymous maps)."""
    groups = {}
    for rss, priv, name in rss_by_mapping(pid, 10 ** 6):
        if name == os.path.basename(exe):
            g = "binary"
        elif name.startswith(LIBC):
            g = "libc + loader"
        elif name.startswith(OWN_DEPS):
            g = "libuv, jansson, inih, http_parser"
        elif name.startswith("["):
            g = "anonymous (heap, stack, maps)"
        else:
            g = "libpq and the libraries it loads"
        r = groups.setdefault(g, [0, 0])
        r[0] += rss
        r[1] += priv
    return groups


def kill_recorded(pids, sig=signal.SIGKILL):
    """Signal the processes we recorded, only if the pid still has the same start time."""
    for pid, start in pids.items():
        st = proc_stat(pid)
        if st and st[1] == start:
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def wait_gone(pids, timeout):
    def gone():
        return all(not (proc_stat(p) and proc_stat(p)[1] == s) for p, s in pids.items())
    try:
        H.wait_until(gone, timeout, "recorded processes to exit", interval=0.05)
        return True
    except H.Timeout:
        return False


# ---------------------------------------------------------------------------
# jobsync
# ---------------------------------------------------------------------------

WORK = ("[tasks]\nsource = range\nrange = 1-%d\npoll_interval_sec = 5\n"
        "[worker]\nmode = exec\ncommand = /bin/sleep %d\nconcurrency = %d\n"
        % (CHILDREN, SLEEP_SEC, CHILDREN))


def http_status(node):
    m = re.search(r"health: listening on http://([0-9.]+:[0-9]+)", node.output())
    if not m:
        return None
    with urllib.request.urlopen("http://%s/status" % m.group(1), timeout=2) as r:
        return json.loads(r.read().decode())


def measure_jobsync(name, http, settle, top):
    b = Bench()
    b.setUp()
    node, recorded = None, {}
    stopped = []

    def stop():
        """Idempotent; also a harness cleanup hook (a signal skips the finally below)."""
        if stopped:
            return
        stopped.append(1)
        if node is not None:
            node.stop()
        # The guard lives in its own session and SIGKILLs the node's groups once the node
        # is gone; give it its 2 s, then kill whatever of ours is left.
        if recorded and not wait_gone(recorded, 5):
            kill_recorded(recorded)
            wait_gone(recorded, 5)
    H.on_cleanup(stop)
    try:
        cfg = b.config(name, health={"listen": "127.0.0.1:0" if http else ""}, extra=WORK)
        node = b.start_node(name, config=cfg)

        def sleeps():
            if not node.alive():
                raise RuntimeError("node %s exited with %s:\n%s"
                                   % (name, node.proc.returncode, node.tail()))
            d = descendants(node.pid)
            recorded.update(d)
            return [p for p in d if proc_comm(p) == "sleep"]
        ready = H.wait_until(lambda: len(sleeps()) >= CHILDREN, 60,
                             "%d sleep children of node %s" % (CHILDREN, name))
        in_flight = None
        if http:
            H.wait_until(lambda: (http_status(node) or {}).get("counters", {})
                         .get("in_flight") == CHILDREN, 10, "/status in_flight = 16")
            in_flight = http_status(node)["counters"]["in_flight"]
        time.sleep(settle)
        d = descendants(node.pid)
        recorded.update(d)
        n_sleep = sum(1 for p in d if proc_comm(p) == "sleep")
        guards = [p for p in d if proc_cmdline(p)[1:2] == ["__guard"]]
        if n_sleep != CHILDREN:
            raise RuntimeError("node %s has %d sleep children after settling" % (name, n_sleep))
        if len(guards) != 1:
            raise RuntimeError("node %s: %d guard processes found" % (name, len(guards)))
        tokens = b.token_counts().get(name)
        res = {"node": memory(node.pid), "guard": memory(guards[0]), "children": n_sleep,
               "in_flight": in_flight, "tokens": tokens, "ready_s": ready,
               "top": rss_by_mapping(node.pid, top), "guard_top": rss_by_mapping(guards[0], 3),
               "groups": rss_by_group(node.pid, H.JOBSYNC), "guard_groups": rss_by_group(guards[0], H.JOBSYNC),
               "threads": kb_fields("/proc/%d/status" % node.pid, ("Threads",)).get("Threads")}
        return res
    except BaseException:
        b.dump_logs()
        raise
    finally:
        stop()
        if stop in H._cleanups:
            H._cleanups.remove(stop)
        b.tearDown()


# ---------------------------------------------------------------------------
# supervisord
# ---------------------------------------------------------------------------

def supervisord_conf(d):
    lines = ["[unix_http_server]", "file=%s/supervisor.sock" % d, "chmod=0700", "",
             "[supervisord]", "nodaemon=true", "logfile=%s/supervisord.log" % d,
             "pidfile=%s/supervisord.pid" % d, "childlogdir=%s" % d, "user=root" if os.geteuid() == 0 else "",
             "", "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
             "[supervisorctl]", "serverurl=unix://%s/supervisor.sock" % d, ""]
    for i in range(1, CHILDREN + 1):
        lines += ["[program:sleep%02d]" % i, "command=/bin/sleep %d" % SLEEP_SEC,
                  "autostart=true", "autorestart=false", "startsecs=1", ""]
    return "\n".join(lines)


def measure_supervisord(exe, settle, top):
    d = tempfile.mkdtemp(prefix="jobsync-membench-sv-")
    H.Watchdog.tell("dir " + d)
    conf = H.write_file(os.path.join(d, "supervisord.conf"), supervisord_conf(d))
    ctl = [os.path.join(os.path.dirname(exe), "supervisorctl"), "-c", conf]
    if not os.access(ctl[0], os.X_OK):
        ctl[0] = shutil.which("supervisorctl") or "supervisorctl"
    out = open(os.path.join(d, "stdout.log"), "wb")
    proc = subprocess.Popen([exe, "-n", "-c", conf], stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=H._child_setup)
    H.Watchdog.tell("pgid %d" % proc.pid)
    recorded = {}
    stopped = []

    def record():
        # supervisord puts each child in its own process group: tell the watchdog each one.
        for pid, start in descendants(proc.pid).items():
            if pid not in recorded:
                recorded[pid] = start
                H.Watchdog.tell("pgid %d" % pid)

    def stop():
        """Idempotent; also a harness cleanup hook (a signal skips the finally below)."""
        if stopped:
            return
        stopped.append(1)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # stops its programs (TERM, then KILL after 10 s)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        # supervisord stops its programs on SIGTERM; kill any recorded child still left.
        if recorded and not wait_gone(recorded, 2):
            kill_recorded(recorded)
            wait_gone(recorded, 5)
        for pid in recorded:
            H.Watchdog.tell("unpgid %d" % pid)
        H.Watchdog.tell("unpgid %d" % proc.pid)
        out.close()
        if not H.KEEP:
            shutil.rmtree(d, ignore_errors=True)
            H.Watchdog.tell("undir " + d)
    H.on_cleanup(stop)
    try:
        def running():
            if proc.poll() is not None:
                raise RuntimeError("supervisord exited with %s: %s" % (
                    proc.returncode, open(os.path.join(d, "supervisord.log")).read()[-2000:]))
            record()
            r = subprocess.run(ctl + ["status"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=10)
            return sum(1 for line in r.stdout.splitlines() if " RUNNING " in line) == CHILDREN
        ready = H.wait_until(running, 60, "%d supervisord programs RUNNING" % CHILDREN, interval=0.2)
        record()
        time.sleep(settle)
        kids = descendants(proc.pid)
        n_sleep = sum(1 for p in kids if proc_comm(p) == "sleep")
        if n_sleep != CHILDREN:
            raise RuntimeError("supervisord has %d sleep children after settling" % n_sleep)
        return {"node": memory(proc.pid), "children": n_sleep, "ready_s": ready,
                "top": rss_by_mapping(proc.pid, top),
                "threads": kb_fields("/proc/%d/status" % proc.pid, ("Threads",)).get("Threads")}
    finally:
        stop()
        if stop in H._cleanups:
            H._cleanups.remove(stop)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def mb(kb):
    return kb / 1024.0


def spread(values, fmt="%.1f"):
    return (fmt % statistics.median(values), fmt % min(values), fmt % max(values))


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds to wait once the 16 children run, before reading /proc")
    ap.add_argument("--supervisord", default=shutil.which("supervisord") or "/usr/bin/supervisord")
    ap.add_argument("--no-http-off", action="store_true",
                    help="skip the second jobsync configuration ([health] listen empty)")
    ap.add_argument("--top", type=int, default=8, help="largest mappings listed per process")
    mine, rest = ap.parse_known_args()
    H.parse_args(rest, description=__doc__.splitlines()[0])
    if not os.access(mine.supervisord, os.X_OK):
        sys.stderr.write("memory_bench: no supervisord (%s): apt-get install -y "
                         "--no-install-recommends supervisor\n" % mine.supervisord)
        return 2
    sv_version = subprocess.run([mine.supervisord, "--version"], stdout=subprocess.PIPE,
                                text=True).stdout.strip()
    js_version = subprocess.run([H.JOBSYNC, "--version"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True).stdout.strip().splitlines()
    configs = [("http", True)] + ([] if mine.no_http_off else [("nohttp", False)])
    results = []  # per run: {"http": res, "nohttp": res, "sv": res}
    try:
        for i in range(mine.runs):
            r = {}
            for label, http in configs:
                r[label] = measure_jobsync("m%d%s" % (i + 1, label[:2]), http, mine.settle, mine.top)
                H.log("run %d: jobsync (%s) VmRSS %.1f MB, guard %.1f MB" % (
                    i + 1, label, mb(r[label]["node"]["VmRSS"]), mb(r[label]["guard"]["VmRSS"])))
            r["sv"] = measure_supervisord(mine.supervisord, mine.settle, mine.top)
            H.log("run %d: supervisord VmRSS %.1f MB" % (i + 1, mb(r["sv"]["node"]["VmRSS"])))
            results.append(r)
    finally:
        H.cleanup_all()

    print()
    print("### Supervisor memory (%d children `/bin/sleep %d`, 10000 tokens, %d CPUs, %s)"
          % (CHILDREN, SLEEP_SEC, os.cpu_count(), time.strftime("%Y-%m-%d")))
    print()
    print("jobsync: %s; supervisord %s; settle %.0f s after the children run; MB = MiB."
          % (js_version[0] if js_version else "?", sv_version, mine.settle))
    print()
    print("| run | process | VmRSS | VmHWM | Pss | Private (clean+dirty) | Private_Dirty | RssAnon | RssFile |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for i, r in enumerate(results):
        for label, _ in configs:
            tag = "HTTP on" if label == "http" else "HTTP off"
            rows.append((i + 1, "jobsync node (%s)" % tag, r[label]["node"]))
            rows.append((i + 1, "jobsync __guard (%s)" % tag, r[label]["guard"]))
        rows.append((i + 1, "supervisord", r["sv"]["node"]))
    for run, who, m in rows:
        print("| %d | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            run, who, mb(m["VmRSS"]), mb(m["VmHWM"]), mb(m["Pss"]), mb(m["Private"]),
            mb(m["Private_Dirty"]), mb(m["RssAnon"]), mb(m["RssFile"])))
    print()

    def col(label, proc, key):
        return [mb(r[label][proc][key]) for r in results]

    def both(label, key):
        return [mb(r[label]["node"][key] + r[label]["guard"][key]) for r in results]

    sv_rss = col("sv", "node", "VmRSS")
    print("| measure (MB, %d runs) | median | min | max | goal (SPEC 8) | peer, same run |" % len(results))
    print("|---|---|---|---|---|---|")
    for label, _ in configs:
        tag = "HTTP on" if label == "http" else "HTTP off"
        rss = col(label, "node", "VmRSS")
        met = "met" if max(rss) <= GOAL_MB else ("missed" if min(rss) > GOAL_MB else "met in some runs")
        print("| jobsync node VmRSS (%s) | %s | %s | %s | <= %.0f MB: %s | supervisord VmRSS %s |"
              % ((tag,) + spread(rss) + (GOAL_MB, met, "%.1f" % statistics.median(sv_rss))))
        print("| jobsync node VmHWM (%s) | %s | %s | %s | | |" % ((tag,) + spread(col(label, "node", "VmHWM"))))
        print("| jobsync node Pss (%s) | %s | %s | %s | | |" % ((tag,) + spread(col(label, "node", "Pss"))))
        print("| jobsync node Private_Dirty (%s) | %s | %s | %s | | |"
              % ((tag,) + spread(col(label, "node", "Private_Dirty"))))
        print("| jobsync __guard VmRSS (%s) | %s | %s | %s | | |" % ((tag,) + spread(col(label, "guard", "VmRSS"))))
        print("| jobsync __guard Pss (%s) | %s | %s | %s | | |" % ((tag,) + spread(col(label, "guard", "Pss"))))
        print("| node + guard VmRSS, shared pages counted twice (%s) | %s | %s | %s | | |"
              % ((tag,) + spread(both(label, "VmRSS"))))
        print("| node + guard Pss (%s) | %s | %s | %s | | |" % ((tag,) + spread(both(label, "Pss"))))
        ratio = [a / b for a, b in zip(rss, sv_rss)]
        print("| ratio node VmRSS / supervisord VmRSS (%s) | %s | %s | %s | | |"
              % ((tag,) + spread(ratio, "%.2f")))
    print("| supervisord VmRSS | %s | %s | %s | | SPEC: about %.0f MB |" % (spread(sv_rss) + (PEER_SPEC_MB,)))
    print("| supervisord VmHWM | %s | %s | %s | | |" % spread(col("sv", "node", "VmHWM")))
    print("| supervisord Pss | %s | %s | %s | | |" % spread(col("sv", "node", "Pss")))
    print("| supervisord Private_Dirty | %s | %s | %s | | |" % spread(col("sv", "node", "Private_Dirty")))
    if "nohttp" in results[0]:
        diff = [a - b for a, b in zip(col("http", "node", "VmRSS"), col("nohttp", "node", "VmRSS"))]
        print("| cost of the HTTP endpoint (node VmRSS on - off) | %s | %s | %s | | |"
              % spread(diff, "%+.2f"))
    print()
    last = results[-1]
    for label, proc, who in [("http", "node", "jobsync node (HTTP on)"),
                             ("http", "guard", "jobsync __guard"), ("sv", "node", "supervisord")]:
        top = last[label]["top" if proc == "node" else "guard_top"]
        print("Largest mappings of %s, last run (Rss / Private, MB): %s" % (
            who, "; ".join("%s %.2f / %.2f" % (n, mb(a), mb(p)) for a, p, n in top)))
    for key, who in (("groups", "jobsync node (HTTP on)"), ("guard_groups", "jobsync __guard")):
        g = last["http"][key]
        print("%s by origin, last run (Rss / Private, MB): %s" % (who, "; ".join(
            "%s %.2f / %.2f" % (k, mb(v[0]), mb(v[1]))
            for k, v in sorted(g.items(), key=lambda kv: -kv[1][0]))))
    print("Threads: jobsync node %s, supervisord %s; jobsync tokens owned %s, /status in_flight %s."
          % (last["http"]["threads"], last["sv"]["threads"], last["http"]["tokens"],
             last["http"]["in_flight"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
