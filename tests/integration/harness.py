"""harness.py: shared fixtures of the jobsync integration tests and cluster benchmark.

A private PostgreSQL cluster (unix socket only, trust auth) per test file, a fresh
database per test case, INI writers, jobsync nodes started in their own process
groups, polling helpers that return the elapsed time, and latency reporting.

Cleanup is layered so nothing outlives a run, even a run killed with SIGKILL:
  * try/finally and unittest tearDown stop what each test started;
  * atexit and SIGTERM/SIGINT/SIGHUP handlers stop the rest;
  * every node gets PR_SET_PDEATHSIG = SIGKILL, so it dies with the harness;
  * a small watchdog process (its own session) holds a pipe to the harness and,
    when the pipe closes without a "done" line, kills the recorded process groups,
    stops PostgreSQL with -m immediate and removes the temporary directory.

Only the Python standard library and psycopg2 (Debian: python3-psycopg2) are used.
"""

import argparse
import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

# psycopg2 comes from Debian's python3-psycopg2, installed for /usr/bin/python3. When
# another python3 is first on PATH (pyenv, venv), re-run this script with Debian's.
try:
    import psycopg2
    import psycopg2.extensions
except ImportError:  # pragma: no cover - depends on the machine
    _debian = "/usr/bin/python3"
    if os.path.exists(_debian) and os.path.realpath(sys.executable) != os.path.realpath(_debian) \
            and not os.environ.get("JOBSYNC_HARNESS_REEXEC"):
        os.environ["JOBSYNC_HARNESS_REEXEC"] = "1"
        os.execv(_debian, [_debian] + sys.argv)
    sys.stderr.write("harness: psycopg2 is missing: apt-get install python3-psycopg2\n")
    sys.exit(2)

PG_BIN = os.environ.get("JOBSYNC_PG_BIN", "/usr/lib/postgresql/15/bin")
EXIT_OK, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_TEMPFAIL, EXIT_CONFIG = 0, 64, 69, 75, 78

# Latency goals are asserted with a margin; SLOW multiplies every deadline
# (JOBSYNC_TEST_SLOW=3 for valgrind-like runs; sanitizer runs set 2 in tests/run.sh).
SLOW = float(os.environ.get("JOBSYNC_TEST_SLOW", "1") or "1")

JOBSYNC = os.environ.get("JOBSYNC_BIN", "")
KEEP = False
VERBOSE = False
MEASURED = []  # (label, seconds or value, unit)


def log(msg):
    """One harness line on stderr, flushed (ctest interleaves stdout/stderr)."""
    sys.stderr.write("[harness %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def report(label, value, unit="s"):
    """Print one measured figure ("join: 0.31 s") and remember it for the summary."""
    MEASURED.append((label, value, unit))
    if unit == "s":
        line = "%s: %.2f s" % (label, value)
    else:
        line = "%s: %s%s" % (label, value, (" " + unit) if unit else "")
    print(line, flush=True)
    path = os.environ.get("JOBSYNC_METRICS_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"label": label, "value": value, "unit": unit,
                                "file": os.path.basename(sys.argv[0])}) + "\n")


# ---------------------------------------------------------------------------
# Cleanup: registry, signals, watchdog
# ---------------------------------------------------------------------------

_cleanups = []          # callables, run last-in first-out
_cleaning = False


def on_cleanup(fn):
    _cleanups.append(fn)
    return fn


def cleanup_all():
    global _cleaning
    if _cleaning:
        return
    _cleaning = True
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # keep cleaning whatever fails
            traceback.print_exc()
    Watchdog.done()


def _on_signal(signum, frame):
    log("signal %d: cleaning up" % signum)
    cleanup_all()
    os._exit(128 + signum)


atexit.register(cleanup_all)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


_WATCHDOG_CODE = r"""
import os, sys, signal, shutil, subprocess, time
pgids, pgs, dirs, done = set(), [], [], False
for line in sys.stdin:
    cmd, _, arg = line.rstrip("\n").partition(" ")
    if cmd == "pgid": pgids.add(int(arg))
    elif cmd == "unpgid": pgids.discard(int(arg))
    elif cmd == "pg": pgs.append(arg)
    elif cmd == "unpg": pgs.remove(arg) if arg in pgs else None
    elif cmd == "dir": dirs.append(arg)
    elif cmd == "undir": dirs.remove(arg) if arg in dirs else None
    elif cmd == "done": done = True; break
if not done:
    for g in pgids:
        try: os.killpg(g, signal.SIGKILL)
        except OSError: pass
    for cmd in pgs:
        subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
"""


class Watchdog:
    """Cleans up after the harness if it dies without running its own cleanup."""
    proc = None

    @classmethod
    def tell(cls, line):
        if cls.proc is None:
            cls.proc = subprocess.Popen([sys.executable, "-c", _WATCHDOG_CODE],
                                        stdin=subprocess.PIPE, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        text=True)
        try:
            cls.proc.stdin.write(line + "\n")
            cls.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    @classmethod
    def done(cls):
        if cls.proc is not None:
            try:
                cls.proc.stdin.write("done\n")
                cls.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                cls.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
            cls.proc = None


_libc = None


def _child_setup():
    """preexec_fn of nodes: die with the harness (PR_SET_PDEATHSIG = 1)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


# ---------------------------------------------------------------------------
# Polling
# ---------------------------------------------------------------------------

class Timeout(AssertionError):
    pass


def wait_until(pred, timeout, desc="condition", interval=0.02, ignore_db_errors=True):
    """Poll pred() until it returns a truthy value; return the elapsed seconds.

    Raises Timeout (an AssertionError) with desc and the last value seen. Database
    errors while polling (e.g. during a PostgreSQL restart) count as "not yet".
    """
    start = time.monotonic()
    deadline = start + timeout * SLOW
    last, last_exc = None, None
    while True:
        try:
            last = pred()
            last_exc = None
            if last:
                return time.monotonic() - start
        except psycopg2.Error as e:
            if not ignore_db_errors:
                raise
            last_exc = e
        if time.monotonic() >= deadline:
            detail = ("last error: %s" % str(last_exc).strip()) if last_exc else ("last value: %r" % (last,))
            raise Timeout("timed out after %.1f s waiting for %s (%s)" % (timeout * SLOW, desc, detail))
        time.sleep(interval)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

class PgCluster:
    """A private PostgreSQL 15 cluster: unix socket only, trust auth, user postgres."""

    def __init__(self, root):
        self.root = root
        self.pgdir = os.path.join(root, "pg")
        self.data = os.path.join(self.pgdir, "data")
        self.sock = os.path.join(self.pgdir, "sock")
        self.logfile = os.path.join(self.pgdir, "postgres.log")
        self.port = free_port()
        self.running = False
        self._dbseq = 0

    def _as_pg(self, args, **kw):
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--"] + args
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, **kw)

    def _pg_ctl_stop_cmd(self):
        cmd = "%s/pg_ctl -D %s -m immediate -w stop" % (PG_BIN, self.data)
        if os.geteuid() == 0:
            cmd = "runuser -u postgres -- " + cmd
        return cmd

    def _opts(self):
        return ("-c listen_addresses='' -k %s -p %d -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200 -c log_min_messages=warning"
                % (self.sock, self.port))

    def start(self):
        os.makedirs(self.sock)
        if os.geteuid() == 0:
            shutil.chown(self.pgdir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        t = time.monotonic()
        r = self._as_pg([PG_BIN + "/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                         "--no-sync", "-E", "UTF8", "--locale=C"])
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout)
        Watchdog.tell("pg " + self._pg_ctl_stop_cmd())
        on_cleanup(self.stop)
        r = self._as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.logfile, "-w",
                         "-t", "60", "-o", self._opts(), "start"])
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start failed:\n%s\n%s" % (r.stdout, self.log_tail()))
        self.running = True
        log("PostgreSQL up in %.1f s: socket %s port %d" % (time.monotonic() - t, self.sock, self.port))

    def restart(self, mode="fast"):
        r = self._as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.logfile, "-w",
                         "-t", "60", "-m", mode, "-o", self._opts(), "restart"])
        if r.returncode != 0:
            raise RuntimeError("pg_ctl restart failed:\n%s\n%s" % (r.stdout, self.log_tail()))

    def pause(self):
        """Stop the server (fast) for an outage; resume() starts it again."""
        r = self._as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])
        if r.returncode != 0:
            raise RuntimeError("pg_ctl stop failed:\n%s" % r.stdout)

    def resume(self):
        r = self._as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.logfile, "-w",
                         "-t", "60", "-o", self._opts(), "start"])
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start failed:\n%s\n%s" % (r.stdout, self.log_tail()))

    def stop(self):
        if not self.running:
            return
        self.running = False
        self._as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])

    def log_statements(self, dbname):
        """Log every statement of sessions that connect to dbname from now on."""
        db = Db(self.dsn("postgres"))
        try:
            db.query('ALTER DATABASE "%s" SET log_statement = \'all\'' % dbname)
        finally:
            db.close()

    def log_size(self):
        return os.path.getsize(self.logfile)

    STATEMENT_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  (?:statement|execute [^:]*): ")

    def statements_between(self, start, end):
        """{backend pid: statements} logged between two log_size() offsets."""
        with open(self.logfile, "rb") as f:
            f.seek(start)
            text = f.read(end - start).decode(errors="replace")
        counts = {}
        for line in text.splitlines():
            m = self.STATEMENT_LINE.match(line)
            if m:
                counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
        return counts

    def log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def dsn(self, dbname):
        return "host=%s port=%d dbname=%s user=postgres" % (self.sock, self.port, dbname)

    def create_database(self, hint="t"):
        self._dbseq += 1
        name = re.sub(r"[^a-z0-9_]", "_", hint.lower())[-40:].strip("_") or "t"
        name = "%s_%d" % (name, self._dbseq)
        conn = psycopg2.connect(self.dsn("postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute('CREATE DATABASE "%s"' % name)
        finally:
            conn.close()
        return name


_env = {}


def environment():
    """The per-process environment: PG cluster and temp root, created on first use."""
    if "pg" not in _env:
        root = tempfile.mkdtemp(prefix="jobsync-it-")
        os.chmod(root, 0o755)
        _env["root"] = root
        Watchdog.tell("dir " + root)

        def rm_root():
            if KEEP:
                log("keeping %s" % root)
            else:
                shutil.rmtree(root, ignore_errors=True)
        on_cleanup(rm_root)
        pg = PgCluster(root)
        pg.start()
        _env["pg"] = pg
    return _env["pg"], _env["root"]


class Db:
    """An autocommit psycopg2 connection that reconnects when the server went away."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.conn = None

    def _connect(self):
        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(self.dsn, connect_timeout=5)
            self.conn.autocommit = True
        return self.conn

    def query(self, sql, params=None):
        try:
            conn = self._connect()
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self.close()
            raise

    def one(self, sql, params=None):
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql, params=None):
        row = self.one(sql, params)
        return row[0] if row else None

    def table_exists(self, name):
        return self.scalar("SELECT to_regclass(%s) IS NOT NULL", (name,))

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


# ---------------------------------------------------------------------------
# Configuration and nodes
# ---------------------------------------------------------------------------

def ini_text(dsn, node, prefix="sync_", coordination=None, cluster=None, extra="",
             health=None):
    """INI text of the tests: heartbeat 1 s, timeout 3 s, steady refresh 5 s, and the
    HTTP endpoint on an ephemeral loopback port (several nodes share the machine)."""
    coord = {"heartbeat_interval_sec": 1, "heartbeat_timeout_sec": 3,
             "token_refresh_steady_interval_sec": 5}
    coord.update(coordination or {})
    clu = {"dsn": dsn, "node": node, "prefix": prefix}
    clu.update(cluster or {})
    hl = {"listen": "127.0.0.1:0"}
    hl.update(health or {})
    lines = ["[cluster]"]
    lines += ["%s = %s" % (k, v) for k, v in clu.items() if v is not None]
    lines += ["", "[coordination]"]
    lines += ["%s = %s" % (k, v) for k, v in coord.items() if v is not None]
    lines += ["", "[health]"]
    lines += ["%s = %s" % (k, v) for k, v in hl.items() if v is not None]
    text = "\n".join(lines) + "\n"
    if extra:
        text += "\n" + extra.strip("\n") + "\n"
    return text


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Node:
    """One `jobsync run` process in its own process group, stderr captured to a file."""

    def __init__(self, name, config, logpath, args=None, env=None):
        self.name = name
        self.config = config
        self.logpath = logpath
        self.args = [JOBSYNC, "run", "-c", config] + list(args or [])
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.started_at = None

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_child_setup,
                                     env=self.env)
        Watchdog.tell("pgid %d" % self.proc.pid)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig):
        """Signal the node process only (like systemd's KillMode=mixed first step)."""
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill_group(self, sig=signal.SIGKILL):
        """Signal the node's whole process group (the node and its children)."""
        if self.proc is None:
            return
        if sig == signal.SIGKILL:
            self.killed = True
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout):
        """Wait for exit; return the exit status (negative = signal) or raise Timeout."""
        try:
            return self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise Timeout("node %s did not exit within %.1f s" % (self.name, timeout * SLOW))

    def stop(self):
        """Kill the group and reap; used by cleanup."""
        if self.proc is None:
            return
        self.kill_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        Watchdog.tell("unpgid %d" % self.proc.pid)
        try:
            self.logf.close()
        except Exception:
            pass

    def output(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, n=60):
        return "".join(self.output().splitlines(True)[-n:])


def run_cli(args, input=None, timeout=30, env=None):
    """Run `jobsync ARGS...`; return CompletedProcess with text stdout and stderr."""
    e = dict(os.environ, **(env or {}))
    try:
        return subprocess.run([JOBSYNC] + list(args), input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout * SLOW, env=e,
                              preexec_fn=_child_setup)
    except subprocess.TimeoutExpired as ex:
        raise Timeout("jobsync %s did not finish within %.0f s (stderr: %s)"
                      % (" ".join(args), timeout * SLOW, ex.stderr))


# ---------------------------------------------------------------------------
# The test case base class
# ---------------------------------------------------------------------------

TOTAL = 10000


class ClusterCase(unittest.TestCase):
    """A test case with a fresh database and helpers to run and observe nodes."""

    prefix = "sync_"

    def setUp(self):
        self.pg, root = environment()
        hint = self.id().split(".")[-1].replace("test_", "")
        self.dbname = self.pg.create_database(hint)
        self.dsn = self.pg.dsn(self.dbname)
        self.dir = os.path.join(root, self.dbname)
        os.makedirs(self.dir)
        self.db = Db(self.dsn)
        self.nodes = []
        self._logseq = 0
        self.t0 = time.monotonic()
        log("--- %s (database %s)" % (self.id(), self.dbname))

    SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:")

    def tearDown(self):
        for n in self.nodes:
            n.stop()
        self.db.close()
        # A sanitizer build (tests/run.sh --sanitize) reports through the node logs.
        bad = [n.name for n in self.nodes if self.SANITIZER_REPORT.search(n.output())]
        if bad:
            self.fail("sanitizer report in the log of %s" % ", ".join(sorted(set(bad))))
        log("--- %s done in %.1f s" % (self.id().split(".")[-1], time.monotonic() - self.t0))

    def dump_logs(self):
        """Print every node's log (called by the runner when this test failed)."""
        for n in getattr(self, "nodes", []):
            rc = n.proc.poll() if n.proc else None
            sys.stderr.write("\n===== stderr of node %s (pid %s, %s, %s) =====\n%s"
                             % (n.name, n.proc.pid if n.proc else "-",
                                "running" if rc is None else "exit status %s%s" % (
                                    rc, " (SIGKILL by the test)" if getattr(n, "killed", False) else ""),
                                n.logpath, n.tail(80)))
        sys.stderr.write("\n===== PostgreSQL log tail =====\n%s\n" % self.pg.log_tail(20))
        sys.stderr.flush()

    # -- database --------------------------------------------------------
    def t(self, name):
        """Qualified table name: t('node') -> sync_node."""
        return self.prefix + name

    def q(self, sql, *params):
        return self.db.query(sql.replace("@", self.prefix), params or None)

    def one(self, sql, *params):
        rows = self.q(sql, *params)
        return rows[0] if rows else None

    def scalar(self, sql, *params):
        row = self.one(sql, *params)
        return row[0] if row else None

    def token_counts(self):
        """{node or None: count} from sync_token."""
        return dict(self.q("SELECT node, count(*) FROM @token GROUP BY node"))

    def snapshot(self):
        """{token_id: node} of every token."""
        return dict(self.q("SELECT token_id, node FROM @token"))

    @staticmethod
    def moved(before, after):
        return sum(1 for k, v in after.items() if before.get(k) != v)

    def live_nodes(self):
        return [r[0] for r in self.q("SELECT name FROM @node ORDER BY created_on, name")]

    def meta(self):
        """(leader_node, term, token_version) of sync_meta."""
        return self.one("SELECT leader_node, term, token_version FROM @meta WHERE id = 1")

    def registered(self, name, pid=None):
        """True when name has a sync_node row (written by process pid, if given: a row
        left by a killed predecessor does not count)."""
        if not self.db.table_exists(self.t("node")):
            return False
        if pid is None:
            return self.scalar("SELECT count(*) FROM @node WHERE name = %s", name) == 1
        return self.scalar("SELECT count(*) FROM @node WHERE name = %s AND pid = %s",
                           name, pid) == 1

    def last_rebalance_id(self):
        if not self.db.table_exists(self.t("rebalance")):
            return 0
        return self.scalar("SELECT coalesce(max(id), 0) FROM @rebalance")

    def rebalances_since(self, last_id):
        return self.q("SELECT id, trigger_reason, leader_node, nodes_before, nodes_after, "
                      "tokens_moved, duration_ms FROM @rebalance WHERE id > %s ORDER BY id",
                      last_id)

    def token_of(self, task):
        return self.scalar("SELECT @token_of(%s)", task)

    # -- predicates ------------------------------------------------------
    def balanced_over(self, names, total=TOTAL):
        """True when exactly `names` own every token, counts within one of each other."""
        if not self.db.table_exists(self.t("token")):
            return False
        counts = self.token_counts()
        if set(counts) != set(names) or sum(counts.values()) != total:
            return False
        return max(counts.values()) - min(counts.values()) <= 1

    def expect_balanced(self, names, timeout, desc=None, total=TOTAL):
        return wait_until(lambda: self.balanced_over(names, total), timeout,
                          desc or "tokens balanced over %s" % sorted(names))

    def assert_shares(self, names, total=TOTAL):
        counts = self.token_counts()
        self.assertEqual(set(counts), set(names), "owners: %r" % counts)
        base = total // len(names)
        self.assertEqual(sorted(counts.values()),
                         sorted([base + 1] * (total % len(names)) + [base] * (len(names) - total % len(names))),
                         "counts: %r" % counts)

    # -- nodes -----------------------------------------------------------
    def config(self, name, coordination=None, cluster=None, extra="", filename=None,
               health=None):
        path = os.path.join(self.dir, filename or ("%s.ini" % name))
        return write_file(path, ini_text(self.dsn, name, self.prefix, coordination, cluster,
                                         extra, health))

    def start_node(self, name, config=None, wait_registered=True, timeout=15, args=None,
                   env=None, **cfg):
        """Start `jobsync run` for name; by default wait until its sync_node row exists."""
        config = config or self.config(name, **cfg)
        self._logseq += 1
        node = Node(name, config, os.path.join(self.dir, "%02d-%s.log" % (self._logseq, name)),
                    args=args, env=env)
        self.nodes.append(node)
        node.start()
        if wait_registered:
            def up():
                if not node.alive():
                    raise AssertionError("node %s exited with %s before registering:\n%s"
                                         % (name, node.proc.returncode, node.tail()))
                return self.registered(name, node.pid)
            el = wait_until(up, timeout, "node %s to register" % name)
            if VERBOSE:
                log("%s registered %.2f s after start" % (name, el))
        return node

    def start_cluster(self, names, timeout=20):
        """Start nodes one after another (so the age order is names' order), wait balanced."""
        nodes = [self.start_node(n) for n in names]
        self.expect_balanced(names, timeout, "initial distribution over %s" % names)
        wait_until(lambda: (self.meta() or [None])[0] == names[0], timeout,
                   "%s to lead" % names[0])
        return nodes

    def backends(self):
        """{pid: (application_name, objid of an advisory lock it waits for, or None)} of the
        nodes' sessions in this database (named "jobsync NODE [ROLE]")."""
        rows = self.q("SELECT a.pid, a.application_name, l.objid FROM pg_stat_activity a"
                      " LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory'"
                      " AND NOT l.granted WHERE a.datname = current_database()"
                      " AND a.application_name LIKE 'jobsync %%'")
        return {pid: (app, objid) for pid, app, objid in rows}

    def statements_per_node(self, start, end):
        """{node: statements its sessions sent} between two pg.log_size() offsets (after
        pg.log_statements(self.dbname) and before any of its sessions ended)."""
        counts = self.pg.statements_between(start, end)
        per_node = {}
        for pid, (app, _) in self.backends().items():
            node = app.split()[1]
            per_node[node] = per_node.get(node, 0) + counts.get(pid, 0)
        return per_node

    def assert_alive(self, *nodes):
        for n in nodes:
            if not n.alive():
                self.fail("node %s exited with %s:\n%s" % (n.name, n.proc.returncode, n.tail()))


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

class _Result(unittest.TextTestResult):
    def addFailure(self, test, err):
        super().addFailure(test, err)
        if hasattr(test, "dump_logs"):
            test.dump_logs()

    def addError(self, test, err):
        super().addError(test, err)
        if hasattr(test, "dump_logs"):
            try:
                test.dump_logs()
            except Exception:
                traceback.print_exc()


def parse_args(argv=None, description=None):
    global JOBSYNC, KEEP, VERBOSE
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--jobsync", default=JOBSYNC or None,
                    help="path of the jobsync binary (default $JOBSYNC_BIN)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args, rest = ap.parse_known_args(argv)
    if not args.jobsync:
        ap.error("--jobsync PATH is required")
    JOBSYNC = os.path.abspath(args.jobsync)
    if not os.access(JOBSYNC, os.X_OK):
        ap.error("not an executable: %s" % JOBSYNC)
    KEEP, VERBOSE = args.keep, args.verbose
    return args, rest


def main():
    """Entry point of a test file: `python3 test_x.py --jobsync PATH [unittest args]`."""
    _, rest = parse_args()
    ok = False
    start = time.monotonic()
    try:
        prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest, exit=False,
                             testRunner=unittest.TextTestRunner(resultclass=_Result,
                                                                verbosity=2, stream=sys.stderr))
        ok = prog.result.wasSuccessful()
    finally:
        cleanup_all()
    if MEASURED:
        print("measured figures (%s):" % os.path.basename(sys.argv[0]))
        for label, value, unit in MEASURED:
            print("  %s: %s" % (label, ("%.2f s" % value) if unit == "s" else "%s %s" % (value, unit)))
    log("%s %s in %.1f s" % (os.path.basename(sys.argv[0]), "passed" if ok else "FAILED",
                             time.monotonic() - start))
    sys.exit(0 if ok else 1)
