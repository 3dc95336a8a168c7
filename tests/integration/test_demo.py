#!/usr/bin/env python3
"""test_demo.py: contrib/demo.sh (the README's first command) end to end.

The demo runs with JOBSYNC=<the binary under test> (no build) and a small workload in a
temporary directory of its own (TMPDIR). It must show the three nodes, reach
"done N/N", survive the SIGKILL of its leader, exit 0, and leave no process, PostgreSQL
server or file behind; a failed run and a Ctrl-C must clean up just as well.
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "contrib", "demo.sh")
NODES = ("demo-a", "demo-b", "demo-c-gpu")


def _demo_setup():
    """preexec_fn of the demo: its own session, SIGTERM (its cleanup) when the test dies."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def leftovers(root):
    """Processes whose command line or working directory is under root."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            cwd = ""
        if root in cmd or cwd.startswith(root):
            found.append("%s: %s (cwd %s)" % (pid, cmd.strip(), cwd))
    return found


class Demo(unittest.TestCase):
    def setUp(self):
        # The demo's temporary directory goes in here (TMPDIR); PostgreSQL, run as the
        # postgres user when we are root, must be able to enter it.
        self.root = tempfile.mkdtemp(prefix="jobsync-demo-test-")
        os.chmod(self.root, 0o755)
        H.Watchdog.tell("dir " + self.root)
        # If this test dies before the demo's own cleanup ran: stop its PostgreSQL.
        stop = "%s/pg_ctl -D {}/pg -m immediate -w stop" % H.PG_BIN
        if os.geteuid() == 0:
            stop = "runuser -u postgres -- " + stop
        H.Watchdog.tell("pg for d in %s/jobsync-demo.*; do [ -d \"$d/pg\" ] && %s; done"
                        % (self.root, stop.format("$d")))
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc is not None:
            H.Watchdog.tell("unpgid %d" % self.proc.pid)
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self, args=(), **env):
        e = dict(os.environ, JOBSYNC=H.JOBSYNC, TMPDIR=self.root, DEMO_TIMEOUT="120")
        e.update({k: str(v) for k, v in env.items()})
        self.outpath = os.path.join(self.root, "demo.out")
        self.out = open(self.outpath, "w")
        self.proc = subprocess.Popen(["bash", DEMO] + list(args), stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT, env=e,
                                     cwd=ROOT, preexec_fn=_demo_setup)
        H.Watchdog.tell("pgid %d" % self.proc.pid)
        self.t0 = time.monotonic()
        return self.proc

    def output(self):
        with open(self.outpath, errors="replace") as f:
            return f.read()

    def finish(self, timeout=180):
        """Wait for the demo; return (exit status, output, seconds)."""
        try:
            rc = self.proc.wait(timeout=timeout * H.SLOW)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.fail("demo did not finish within %d s:\n%s" % (timeout * H.SLOW, self.output()[-6000:]))
        self.out.close()
        return rc, self.output(), time.monotonic() - self.t0

    def assert_clean(self, out):
        """Nothing of the demo is left: no process, no temporary directory."""
        try:  # the demo waited for everything it started: this is only a safety margin
            H.wait_until(lambda: not leftovers(self.root), 5, "the demo's processes to exit")
        except H.Timeout:
            pass
        self.assertEqual(leftovers(self.root), [], out[-3000:])
        dirs = [d for d in os.listdir(self.root) if d.startswith("jobsync-demo")]
        self.assertEqual(dirs, [], "the demo left %s" % dirs)

    def test_demo_runs_to_the_end(self):
        tasks = 900
        self.start(["--quick"], DEMO_TASKS=tasks, DEMO_SLEEP="0.05")
        rc, out, took = self.finish()
        H.report("demo.sh --quick (%d tasks, one failover)" % tasks, took)
        self.assertEqual(rc, 0, out[-6000:])
        # The three nodes appear in `jobsync status`'s node table and in the progress lines.
        for n in NODES:
            self.assertRegex(out, r"(?m)^\s+\*?\s+%s\s+alive\s" % re.escape(n), n)
            self.assertRegex(out, r"(?m)^\s+%s\s+claimed \d+, done \d+" % re.escape(n), n)
        # The progress reaches the total, and the final status agrees.
        self.assertRegex(out, r"done %d/%d \(100%%\)" % (tasks, tasks))
        self.assertRegex(out, r"progress \d{4}-\d\d-\d\d: claimed %d, done %d, failed 0, in flight 0"
                         % (tasks, tasks))
        self.assertIn("sync_audit: %d rows for %d task ids, %d done" % (tasks, tasks, tasks), out)
        done_lines = [int(m) for m in re.findall(r"done (\d+)/%d" % tasks, out)]
        self.assertEqual(done_lines, sorted(done_lines), "progress went backwards")
        # The leader was killed midway, another node led afterwards, and the survivors drained.
        m = re.search(r"kill -KILL (\S+) \(pid \d+, the leader\) at (\d+)/%d done" % tasks, out)
        self.assertIsNotNone(m, out[-6000:])
        killed = m.group(1)
        self.assertLess(int(m.group(2)), tasks)
        after = out[m.end():]
        lead = re.search(r"leader (\S+), term (\d+)", after)
        self.assertIsNotNone(lead)
        self.assertNotEqual(lead.group(1).rstrip(","), killed)
        self.assertGreaterEqual(int(lead.group(2)), 2)
        self.assertRegex(after, r"\bdead\s+leader ")
        for n in NODES:
            if n != killed:
                self.assertIn("%s left, exit status 0" % n, out)
        self.assertIn("is removed", out)
        self.assert_clean(out)

    def test_failed_run_cleans_up(self):
        """A workload that cannot finish in time: exit 1, node logs shown, nothing left."""
        self.start(["--no-kill"], DEMO_TASKS=5000, DEMO_SLEEP="0.2", DEMO_TIMEOUT=3,
                   DEMO_INTERVAL=1)
        rc, out, _ = self.finish()
        self.assertEqual(rc, 1, out[-4000:])
        self.assertIn("did not finish within 3s", out)
        self.assertIn("last lines of demo-a.log", out)
        self.assertNotIn("kill -KILL", out)
        self.assert_clean(out)

    def test_ctrl_c_cleans_up(self):
        """SIGINT to the demo's whole process group, as a terminal's Ctrl-C sends it."""
        self.start([], DEMO_TASKS=5000, DEMO_SLEEP="0.2")
        H.wait_until(lambda: "== progress every" in self.output() or self.proc.poll() is not None,
                     60, "the demo's progress")
        self.assertIsNone(self.proc.poll(), self.output())
        os.killpg(self.proc.pid, signal.SIGINT)
        t = time.monotonic()
        rc, out, _ = self.finish(60)
        H.report("demo.sh cleanup after Ctrl-C", time.monotonic() - t)
        self.assertEqual(rc, 130, out[-4000:])
        self.assertIn("demo: interrupted", out)
        self.assert_clean(out)

    def test_ctrl_c_lost_by_the_shell(self):
        """Bash drops a SIGINT that comes as a command ends; the nodes still got it.

        SIGINT only to the nodes stands for that race: the demo must still say it was
        interrupted (130), not that a node died."""
        self.start([], DEMO_TASKS=5000, DEMO_SLEEP="0.2")
        H.wait_until(lambda: "== progress every" in self.output() or self.proc.poll() is not None,
                     60, "the demo's progress")
        self.assertIsNone(self.proc.poll(), self.output())
        nodes = [int(p.split(":")[0]) for p in leftovers(self.root) if " run -c " in p]
        self.assertEqual(len(nodes), len(NODES), leftovers(self.root))
        for pid in nodes:
            os.kill(pid, signal.SIGINT)
        rc, out, _ = self.finish(60)
        self.assertEqual(rc, 130, out[-4000:])
        self.assertIn("demo: interrupted", out)
        self.assertNotIn("exited unexpectedly", out)
        self.assert_clean(out)

    def test_usage(self):
        r = subprocess.run(["bash", DEMO, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--quick", r.stdout)
        self.assertIn("JOBSYNC=", r.stdout)
        for bad in (["--bogus"], ["--tasks", "0"], ["--tasks", "x"]):
            r = subprocess.run(["bash", DEMO] + bad, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=30, env=dict(os.environ, TMPDIR=self.root))
            self.assertEqual(r.returncode, H.EXIT_USAGE, "%s: %s" % (bad, r.stderr))
        self.assertEqual(os.listdir(self.root), [])

    def test_bad_binary(self):
        r = subprocess.run(["bash", DEMO, "--quick"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30,
                           env=dict(os.environ, TMPDIR=self.root, JOBSYNC=os.path.join(self.root, "nope")))
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an executable", r.stderr)
        self.assertEqual(os.listdir(self.root), [])


if __name__ == "__main__":
    H.main()
