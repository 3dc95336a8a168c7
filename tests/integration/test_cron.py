#!/usr/bin/env python3
"""test_cron.py: cluster cron: each instant fires once on the leader, misfires after a leader
SIGKILL (once / skip), retries, timeouts, `jobsync cron run|list|history`, forbid overlap.

Cron time is accelerated with the test-only clock of the node (supervisor/cronsched_sql.h):
JOBSYNC_TEST_CRON_EPOCH=E and JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE=N make
cron_now = E + (real_now - E) * 60 / N. With E a multiple of 60, the instant of cron
minute k (cron time E + 60 k) comes at real time E + k N."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers", "cronjob.sh")


def cron_section(name, mode="ok", schedule="* * * * *", **keys):
    lines = ["[cron.%s]" % name, "schedule = %s" % schedule,
             "command = %s %s" % (WORKER, mode)]
    lines += ["%s = %s" % (k, v) for k, v in keys.items()]
    return "\n".join(lines) + "\n"


class Cron(H.ClusterCase):
    def setUp(self):
        super().setUp()
        self.record = os.path.join(self.dir, "cron.record")
        open(self.record, "w").close()
        self.epoch = (int(time.time()) // 60) * 60

    def env(self, spm):
        self.spm = spm
        return {"JOBSYNC_TEST_CRON_EPOCH": str(self.epoch),
                "JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE": str(spm), "CRON_RECORD": self.record}

    def real_of(self, instant):
        """Real unix time at which the cron instant (unix seconds of cron time) comes."""
        return self.epoch + (instant - self.epoch) * self.spm / 60.0

    def records(self, kind=None):
        with open(self.record) as f:
            rows = [line.split() for line in f if line.strip()]
        return [r for r in rows if kind is None or r[0] == kind]

    def runs(self, job):
        return self.q("SELECT id, extract(epoch FROM instant)::bigint, node, status, attempts,"
                      " exit_status, extract(epoch FROM started)::float8, output_tail, requested"
                      " FROM @cron_run WHERE job = %s ORDER BY instant", job)

    def start_nodes(self, names, extra, spm):
        nodes = [self.start_node(n, extra=extra, env=self.env(spm)) for n in names]
        H.wait_until(lambda: (self.meta() or [None])[0] == names[0], 15, "%s to lead" % names[0])
        return nodes

    def test_each_instant_fires_once_on_the_leader(self):
        extra = cron_section("tick") + cron_section("off", enabled="false")
        self.start_nodes(["n1", "n2", "n3"], extra, 3)
        H.wait_until(lambda: len([r for r in self.runs("tick") if r[3] == "success"]) >= 6, 40,
                     "6 successful runs of tick")
        rows = self.runs("tick")
        self.assertTrue(all(r[2] == "n1" for r in rows), rows)
        inst = [r[1] for r in rows]
        self.assertEqual(len(inst), len(set(inst)))
        self.assertTrue(all(b - a == 60 for a, b in zip(inst, inst[1:])), inst)
        starts = self.records("S")
        for r in rows:
            if r[3] == "success":
                n = [s for s in starts if s[5] == str(r[0])]
                self.assertEqual(len(n), 1, (r, n))
        lags = [r[6] - self.real_of(r[1]) for r in rows[1:]]
        H.report("cron fire lag after the instant (max of %d)" % len(lags),
                 round(max(lags) * 1000, 1), "ms")
        self.assertLess(max(lags), 1.0)
        self.assertEqual(self.runs("off"), [])
        out = H.run_cli(["cron", "list", "-c", self.nodes[1].config],
                        env={"JOBSYNC_TEST_CRON_EPOCH": str(self.epoch),
                             "JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE": "3"})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("success", out.stdout)
        self.assertRegex(out.stdout, r"off .*no .*disabled")
        hist = H.run_cli(["cron", "history", "tick", "--limit", "3", "-c", self.nodes[2].config])
        self.assertEqual(hist.returncode, 0, hist.stderr)
        self.assertEqual(len(hist.stdout.strip().splitlines()), 4, hist.stdout)

    def failover(self, misfire):
        spm = 6
        extra = cron_section("tick", misfire=misfire, misfire_grace_sec=300)
        nodes = self.start_nodes(["n1", "n2", "n3"], extra, spm)
        H.wait_until(lambda: len(self.runs("tick")) >= 1, 20, "a first run")
        now = time.time()
        k = int((now - self.epoch) // spm) + 1
        if self.epoch + k * spm - now < 1.5:
            k += 1
        instant = self.epoch + 60 * k
        # Just before the instant the leader dies; the other nodes are frozen across the
        # instant so that the new leader is elected after it and must treat it as missed.
        time.sleep(max(0, self.epoch + k * spm - time.time() - 0.5))
        for n in nodes[1:]:
            n.send(signal.SIGSTOP)
        nodes[0].kill_group(signal.SIGKILL)
        time.sleep(max(0, self.epoch + k * spm - time.time() + 0.3))
        for n in nodes[1:]:
            n.send(signal.SIGCONT)
        killed = time.time()
        el = H.wait_until(lambda: self.one("SELECT node, status FROM @cron_run WHERE job = 'tick'"
                                           " AND instant = to_timestamp(%s)", instant), 15,
                          "the new leader to handle the missed instant")
        row = self.one("SELECT node, status, extract(epoch FROM coalesce(started, finished))::float8"
                       " FROM @cron_run WHERE job = 'tick' AND instant = to_timestamp(%s)", instant)
        self.assertIn(row[0], ("n2", "n3"))
        H.report("misfire=%s: missed instant handled by the new leader (after SIGCONT)" % misfire,
                 row[2] - killed)
        H.wait_until(lambda: self.scalar("SELECT status FROM @cron_run WHERE job = 'tick' AND"
                                         " instant = to_timestamp(%s)", instant) != "running",
                     10, "the missed run to end")
        leader = [n for n in nodes if n.name == row[0]][0]
        self.assertIn("checking the latest instant", leader.output())
        started = [s for s in self.records("S") if s[2] == str(instant)]
        if misfire == "once":
            self.assertEqual(row[1] if row[1] != "running" else "success", "success")
            self.assertEqual(len(started), 1, started)
            self.assertEqual(started[0][3], row[0])
        else:
            self.assertEqual(row[1], "skipped")
            self.assertEqual(started, [])
        self.assertEqual(self.scalar("SELECT count(*) FROM @cron_run WHERE job = 'tick' AND"
                                     " instant = to_timestamp(%s)", instant), 1)
        return el

    def test_failover_misfire_once(self):
        self.failover("once")

    def test_failover_misfire_skip(self):
        self.failover("skip")

    def test_retries_timeout_and_cli_run(self):
        extra = (cron_section("flaky", "fail-until 3", schedule="0 0 1 1 *", max_attempts=3,
                              retry_backoff_sec=1, retry_backoff_max_sec=1) +
                 cron_section("slow", "sleep 30", schedule="0 0 1 1 *", timeout_sec=1,
                              stop_timeout_sec=1))
        self.start_nodes(["n1", "n2"], extra, 60)
        t = time.monotonic()
        out = H.run_cli(["cron", "run", "flaky", "-c", self.nodes[1].config], timeout=40)
        H.report("cron run flaky (3 attempts, backoff 1 s) from n2's config", time.monotonic() - t)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("success", out.stdout)
        rows = self.runs("flaky")
        self.assertEqual([(r[2], r[3], r[4], r[5], r[8]) for r in rows],
                         [("n1", "success", 3, 0, True)])
        self.assertIn("failing attempt 2", rows[0][7])
        t = time.monotonic()
        out = H.run_cli(["cron", "run", "slow", "-c", self.nodes[0].config], timeout=40)
        H.report("cron run slow (timeout_sec 1)", time.monotonic() - t)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("timeout", out.stdout)
        self.assertEqual([r[3] for r in self.runs("slow")], ["timeout"])
        out = H.run_cli(["cron", "run", "nosuch", "-c", self.nodes[0].config])
        self.assertEqual(out.returncode, H.EXIT_USAGE)
        self.assertIn("no cron job 'nosuch'", out.stderr)
        out = H.run_cli(["cron", "run", "flaky", "--wait", "0", "--dsn", self.dsn])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("request", out.stdout)
        H.wait_until(lambda: len(self.runs("flaky")) == 2 and self.runs("flaky")[1][3] != "running",
                     20, "the second manual run to end")
        hist = H.run_cli(["cron", "history", "flaky", "--json", "--dsn", self.dsn])
        self.assertEqual(hist.returncode, 0, hist.stderr)
        self.assertIn('"attempts": 3', hist.stdout)

    def test_leadership_loss_stops_the_run(self):
        """A draining leader stops its cron child and records the run as failed."""
        extra = cron_section("long", "sleep 30", schedule="0 0 1 1 *", stop_timeout_sec=2)
        nodes = self.start_nodes(["n1", "n2"], extra, 60)
        out = H.run_cli(["cron", "run", "long", "--wait", "0", "-c", nodes[0].config])
        self.assertEqual(out.returncode, 0, out.stderr)
        H.wait_until(lambda: self.records("S"), 10, "the run to start")
        t = time.monotonic()
        nodes[0].send(signal.SIGTERM)
        el = H.wait_until(lambda: self.scalar("SELECT status FROM @cron_run WHERE job = 'long'")
                          == "failed", 10, "the run to be marked failed")
        H.report("run marked failed after the leader's SIGTERM", el)
        self.assertIn("leadership lost", self.scalar("SELECT output_tail FROM @cron_run"))
        self.assertEqual(nodes[0].wait(10), 0)
        H.report("draining leader exited (cron child stopped)", time.monotonic() - t)

    def test_forbid_overlap_records_skipped(self):
        extra = cron_section("long", "sleep 5")
        self.start_nodes(["n1"], extra, 2)
        H.wait_until(lambda: len([r for r in self.runs("long") if r[3] == "skipped"]) >= 3 and
                     len([r for r in self.runs("long") if r[3] == "success"]) >= 2, 40,
                     "skipped instants and two runs")
        spans = {}
        for r in self.records():
            if r[0] in ("S", "E"):
                spans.setdefault(r[5], {})[r[0]] = int(r[6])
        ordered = sorted((v["S"], v.get("E", 1 << 62)) for v in spans.values())
        for (s1, e1), (s2, e2) in zip(ordered, ordered[1:]):
            self.assertLessEqual(e1, s2, "runs overlap")


if __name__ == "__main__":
    H.main()
