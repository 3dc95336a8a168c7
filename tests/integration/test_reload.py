#!/usr/bin/env python3
"""test_reload.py: SIGHUP reload (SPEC section 7): a changed exec command applies to the
tasks started afterwards; a changed stream command replaces the children one at a time;
every task runs exactly once and the node never leaves the cluster (G1-G3). An invalid
file (syntax error, unknown key) and a change only a restart applies (prefix,
total_tokens, dsn) are refused with FILE:LINE or the key named, and the running config is
kept whole. Services and cron jobs are added and removed on the leader, the log level
changes, [lock.NAME] sections are written again, and --node still applies."""

import calendar
import json
import os
import re
import urllib.request
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")
MARKED = os.path.join(WORKERS, "marked.sh")
MARKED_STREAM = os.path.join(WORKERS, "marked_stream.sh")
SERVICE = os.path.join(WORKERS, "service.sh")
CRONJOB = os.path.join(WORKERS, "cronjob.sh")
REFUSED = "reload refused: keeping the running configuration"


def read_record(path):
    """[(kind, id, node, mark, pid or attempt, ns)] from marked.sh / marked_stream.sh."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) == 6 and p[0] in ("S", "E", "X"):
                out.append((p[0], p[1], p[2], p[3], p[4], int(p[5])))
    return out


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def tasks_ini(mode, command, count, worker="", poll=30):
    return ("[tasks]\nsource = range\nrange = 1-%d\npoll_interval_sec = %d\n\n"
            "[worker]\nmode = %s\ncommand = %s\nmax_attempts = 3\nretry_backoff_sec = 1\n%s"
            % (count, poll, mode, command, worker))


class Reload(H.ClusterCase):
    # -- helpers ---------------------------------------------------------
    def done(self):
        if not self.db.table_exists(self.t("audit")):
            return 0
        return self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'")

    def count_in_log(self, node, text):
        return node.output().count(text)

    def hup_and_wait(self, node, text, timeout=20):
        """SIGHUP node; wait until its log shows text once more than before."""
        before = self.count_in_log(node, text)
        node.send(signal.SIGHUP)
        H.wait_until(lambda: self.count_in_log(node, text) > before or not node.alive(),
                     timeout, "'%s' in the log of %s" % (text, node.name))
        self.assert_alive(node)

    def log_time_ns(self, node, text):
        """Wall-clock time (ns) of the first log line of node containing text."""
        for line in node.output().splitlines():
            if text in line:
                ts = calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S"))
                return ts * 1_000_000_000 + int(line[20:23]) * 1_000_000
        self.fail("no '%s' in the log of %s" % (text, node.name))

    def membership(self, name):
        """(incarnation, created_on) of name's row: the same while it never left."""
        return self.one("SELECT incarnation, created_on FROM @node WHERE name = %s", name)

    def assert_once(self, starts, count):
        ids = [e[1] for e in starts]
        dup = sorted({i for i in ids if ids.count(i) > 1}) if len(ids) != len(set(ids)) else []
        self.assertEqual(dup[:10], [], "tasks started more than once")
        self.assertEqual(len(ids), count, "every task started exactly once")
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'"), count)
        self.assertEqual(self.scalar("SELECT max(attempts) FROM @audit"), 1,
                         "no task needed a second attempt")

    # -- (a) exec: the command and concurrency of the next tasks ----------
    def test_exec_command_change(self):
        record, count = os.path.join(self.dir, "record.log"), 400
        env = {"RECORD": record, "WORK_SLEEP": "0.05"}
        cfg = self.config("n1", extra=tasks_ini("exec", MARKED + " v1 {}", count,
                                                "concurrency = 2\n"))
        node = self.start_node("n1", config=cfg, env=env)
        H.wait_until(lambda: self.done() >= 40, 60, "40 tasks done")
        member = self.membership("n1")
        rebalances = self.last_rebalance_id()
        self.config("n1", extra=tasks_ini("exec", MARKED + " v2 {}", count, "concurrency = 3\n"))
        self.hup_and_wait(node, "reload: applied 2 changes (worker.command, worker.concurrency)")
        with open(cfg) as f:
            line = [i for i, t in enumerate(f, 1) if t.startswith("command = ")][0]
        self.assertIn("%s:%d: reload: worker.command: '%s v1 {}' -> '%s v2 {}'"
                      % (cfg, line, MARKED, MARKED), node.output())
        H.wait_until(lambda: self.done() == count, 120, "all %d tasks done" % count)
        self.assert_alive(node)
        self.assertEqual(self.membership("n1"), member, "n1 left or rejoined the cluster")
        self.assertEqual(self.token_counts(), {"n1": H.TOTAL})
        self.assertEqual(self.rebalances_since(rebalances), [], "a rebalance after the reload")
        starts = [e for e in read_record(record) if e[0] == "S"]
        self.assert_once(starts, count)
        v1 = [e[5] for e in starts if e[3] == "v1"]
        v2 = [e[5] for e in starts if e[3] == "v2"]
        self.assertTrue(v1 and v2, (len(v1), len(v2)))
        # v2 processes exist only after the reload; v1 ones were all spawned before it
        # (a margin for a loaded machine: the record is written once the process runs)
        self.assertGreaterEqual(min(v2), self.log_time_ns(node, "SIGHUP: reloading") - 1_000_000)
        self.assertLess(max(v1), self.log_time_ns(node, "reload: applied") + int(2e9 * H.SLOW),
                        "a task started with the old command after the reload")
        node.send(signal.SIGTERM)
        self.assertEqual(node.wait(30), 0, node.tail())
        H.report("exec reload: tasks run with the old / new command", "%d / %d"
                 % (len(v1), len(v2)), "")

    # -- (b) stream: a rolling restart of the children --------------------
    def test_stream_rolling_restart(self):
        record, count = os.path.join(self.dir, "record.log"), 800
        env = {"RECORD": record, "WORK_SLEEP": "0.02"}
        worker = "procs = 2\ninflight = 2\n"
        cfg = self.config("n1", extra=tasks_ini("stream", MARKED_STREAM + " v1", count, worker))
        node = self.start_node("n1", config=cfg, env=env)
        H.wait_until(lambda: self.done() >= 100, 60, "100 tasks done")
        member = self.membership("n1")
        self.config("n1", extra=tasks_ini("stream", MARKED_STREAM + " v2", count, worker))
        self.hup_and_wait(node, "reload: applied 1 change (worker.command)")
        H.wait_until(lambda: self.count_in_log(
            node, "worker-1: replaced by a child with the reloaded settings") == 1, 30,
            "both children replaced")
        out = node.output()
        self.assertEqual(out.count("by the reload: no new tasks; stopping it once"), 2, out[-3000:])
        self.assertLess(out.index("worker-0: replaced by a child"),
                        out.index("worker-1: being replaced by the reload"),
                        "the children were not replaced one at a time")
        H.wait_until(lambda: self.done() == count, 120, "all %d tasks done" % count)
        self.assert_alive(node)
        self.assertEqual(self.membership("n1"), member, "n1 left or rejoined the cluster")
        events = read_record(record)
        starts = [e for e in events if e[0] == "S"]
        self.assert_once(starts, count)
        old = {int(e[4]) for e in starts if e[3] == "v1"}
        new = {int(e[4]) for e in starts if e[3] == "v2"}
        self.assertEqual(len(old), 2, old)
        self.assertEqual(len(new), 2, new)
        self.assertEqual([p for p in old if pid_alive(p)], [], "an old child still runs")
        self.assertEqual([p for p in new if not pid_alive(p)], [], "a new child is gone")
        # the ids a replaced child had in flight were answered by it, not given to another
        ends = {(e[1], e[4]) for e in events if e[0] == "E"}
        self.assertTrue(all((e[1], e[4]) in ends for e in starts), "an id started, never ended")
        self.assertGreaterEqual(min(e[5] for e in starts if e[3] == "v2"),
                                self.log_time_ns(node, "SIGHUP: reloading") - 1_000_000)
        node.send(signal.SIGTERM)
        self.assertEqual(node.wait(30), 0, node.tail())

    # -- (c) an invalid file -----------------------------------------------
    def test_invalid_file_keeps_config(self):
        record, count = os.path.join(self.dir, "record.log"), 300
        env = {"RECORD": record, "WORK_SLEEP": "0.05"}
        good = tasks_ini("exec", MARKED + " v1 {}", count, "concurrency = 2\n")
        cfg = self.config("n1", extra=good)
        node = self.start_node("n1", config=cfg, env=env)
        H.wait_until(lambda: self.done() >= 20, 60, "20 tasks done")
        text = H.ini_text(self.dsn, "n1", self.prefix,
                          extra=tasks_ini("exec", MARKED + " v2 {}", count,
                                          "concurrency = 2\nbogus_key = 1\n") + "[health\n")
        lines = text.splitlines()
        bogus = lines.index("bogus_key = 1") + 1
        header = lines.index("[health") + 1
        H.write_file(cfg, text)
        self.hup_and_wait(node, REFUSED)
        out = node.output()
        self.assertIn("%s:%d: unknown key 'bogus_key' in [worker]" % (cfg, bogus), out)
        self.assertRegex(out, re.escape("%s:%d: " % (cfg, header)))
        self.assertNotIn("reload: applied", out)
        at = self.done()
        H.wait_until(lambda: self.done() >= at + 30, 60, "30 more tasks done")
        marks = {e[3] for e in read_record(record) if e[0] == "S"}
        self.assertEqual(marks, {"v1"}, "the invalid file's command was used")
        # a valid file afterwards is applied as usual
        self.config("n1", extra=tasks_ini("exec", MARKED + " v2 {}", count, "concurrency = 2\n"))
        self.hup_and_wait(node, "reload: applied 1 change (worker.command)")
        # The outcomes are published in /status and /metrics.
        port = re.search(r"health: listening on http://127\.0\.0\.1:(\d+)", node.output()).group(1)
        with urllib.request.urlopen("http://127.0.0.1:%s/status" % port, timeout=10) as r:
            st = json.load(r)
        self.assertEqual((st["reload"]["applied"], st["reload"]["refused"],
                          st["reload"]["last_ok"]), (1, 1, True), st["reload"])
        with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10) as r:
            metrics = r.read().decode()
        self.assertIn('jobsync_reloads_total{result="refused"} 1\n', metrics)
        self.assertIn('jobsync_reloads_total{result="applied"} 1\n', metrics)
        H.wait_until(lambda: self.done() == count, 120, "all %d tasks done" % count)
        self.assert_once([e for e in read_record(record) if e[0] == "S"], count)

    # -- (d) keys only a restart applies ----------------------------------
    def test_refused_changes_keep_config(self):
        record, count = os.path.join(self.dir, "record.log"), 300
        env = {"RECORD": record, "WORK_SLEEP": "0.05"}
        cfg = self.config("n1", extra=tasks_ini("exec", MARKED + " v1 {}", count,
                                                "concurrency = 2\n"))
        node = self.start_node("n1", config=cfg, env=env)
        H.wait_until(lambda: self.done() >= 20, 60, "20 tasks done")
        member = self.membership("n1")
        v2 = tasks_ini("exec", MARKED + " v2 {}", count, "concurrency = 2\n")
        cases = [
            ({"cluster": {"prefix": "other_"}},
             "reload refused: cluster.prefix cannot change live ('sync_' -> 'other_'); "
             "restart the node to apply"),
            ({"coordination": {"total_tokens": 500}},
             "reload refused: coordination.total_tokens cannot change live ('10000' -> '500'); "
             "restart the node to apply"),
            ({"cluster": {"dsn": self.dsn + " password=s3cretpw"}},
             "reload refused: cluster.dsn cannot change live (values not shown); "
             "restart the node to apply"),
            ({"cluster": {"node": "other"}},
             "reload refused: cluster.node cannot change live ('n1' -> 'other')"),
        ]
        for keys, message in cases:
            # with a worker change in the same file: nothing of it may apply
            self.config("n1", extra=v2, **keys)
            self.hup_and_wait(node, REFUSED)
            self.assertIn(message, node.output())
        out = node.output()
        self.assertNotIn("s3cretpw", out)
        self.assertNotIn("reload: applied", out)
        at = self.done()
        H.wait_until(lambda: self.done() >= at + 30, 60, "30 more tasks done")
        self.assertEqual({e[3] for e in read_record(record) if e[0] == "S"}, {"v1"})
        self.assertEqual(self.membership("n1"), member)
        self.assertEqual(self.token_counts(), {"n1": H.TOTAL})

    # -- (e) services, cron jobs and the log level on the leader ----------
    def test_leader_work_and_log_level(self):
        srec, crec = os.path.join(self.dir, "service.log"), os.path.join(self.dir, "cron.log")
        open(crec, "w").close()
        epoch = (int(time.time()) // 60) * 60
        env = {"JOBSYNC_TEST_CRON_EPOCH": str(epoch), "JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE": "2",
               "CRON_RECORD": crec}
        work = tasks_ini("exec", "/bin/sleep 0.5", 100000, "concurrency = 1\n")
        n1 = self.start_node("n1", config=self.config("n1", extra=work), env=env)
        H.wait_until(lambda: (self.meta() or [None])[0] == "n1", 20, "n1 to lead")
        n2 = self.start_node("n2", extra=work, env=env)
        self.expect_balanced(["n1", "n2"], 20)
        member = self.membership("n1")
        self.assertNotIn(" DEBUG ", n1.output())
        leader_work = ("[service.pub]\ncommand = %s %s\nstop_timeout_sec = 5\n\n"
                       "[cron.tick]\nschedule = * * * * *\ncommand = %s ok\n"
                       % (SERVICE, srec, CRONJOB))
        self.config("n1", extra=work + "\n" + leader_work, cluster={"log_level": "debug"})
        self.hup_and_wait(n1, "reload: applied 3 changes (cluster.log_level, "
                              "service.pub (added), cron.tick (added))")

        def service_lines(kind):
            if not os.path.exists(srec):
                return []
            with open(srec) as f:
                return [line.split() for line in f if line.startswith(kind + " ")]
        H.wait_until(lambda: service_lines("START"), 15, "the added service to start")
        start = service_lines("START")[0]
        self.assertEqual((start[1], start[5], start[6]), ("n1", "1", "pub"), start)
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @cron_run WHERE job = 'tick' "
                                         "AND status = 'success' AND node = 'n1'") >= 1,
                     20, "the added cron job to run on the leader")
        # debug lines now (one per heartbeat)
        H.wait_until(lambda: re.search(r" DEBUG +node=n1 heartbeat accepted", n1.output()), 20,
                     "a debug line on n1")
        self.assertNotIn(" DEBUG ", n2.output())
        n2.send(signal.SIGTERM)
        self.assertEqual(n2.wait(30), 0, n2.tail())
        # removed again: the service stops, the cron job no longer fires
        self.config("n1", extra=work)
        self.hup_and_wait(n1, "reload: applied 3 changes (cluster.log_level, "
                              "service.pub (removed), cron.tick (removed))")
        H.wait_until(lambda: service_lines("STOP"), 15, "the removed service to stop")
        self.assertEqual(service_lines("STOP")[0][2], start[2])
        runs = self.scalar("SELECT count(*) FROM @cron_run WHERE job = 'tick'")
        time.sleep(3 * 2 + 1)  # three cron minutes
        self.assertLessEqual(self.scalar("SELECT count(*) FROM @cron_run WHERE job = 'tick'"),
                             runs + 1, "the removed cron job kept firing")
        self.assertEqual(len(service_lines("START")), 1)
        self.assert_alive(n1)
        self.assertEqual(self.membership("n1"), member)
        n1.send(signal.SIGTERM)
        self.assertEqual(n1.wait(30), 0, n1.tail())

    # -- --node is applied again to the reloaded file -----------------------
    def test_node_option_kept(self):
        cfg = self.config("n1", filename="shared.ini")
        node = self.start_node("cli-name", config=cfg, args=["--node", "cli-name"])
        self.config("n1", filename="shared.ini", cluster={"log_format": "json"})
        self.hup_and_wait(node, '"msg":"reload: applied 1 change (cluster.log_format)"')
        self.assertNotIn("reload refused", node.output())
        self.assertTrue(self.registered("cli-name", node.pid))

    # -- [lock.NAME] sections written again --------------------------------
    def test_locks_rewritten(self):
        cfg = self.config("n1")
        node = self.start_node("n1", config=cfg)
        self.expect_balanced(["n1"], 20)

        def locks():
            return sorted(self.q("SELECT token_id, node_pattern, reason FROM @lock "
                                 "WHERE created_by = 'n1'"))
        self.config("n1", extra="[lock.a]\ntokens = 5, 6\npattern = n1%\nreason = first\n")
        self.hup_and_wait(node, "reload: applied 1 change (lock.a (added))")
        H.wait_until(lambda: len(locks()) == 2, 15, "the added lock")
        self.assertEqual(locks(), [(5, "n1%", "first"), (6, "n1%", "first")])
        # clear_existing_locks: this node's earlier locks are replaced
        self.config("n1", coordination={"clear_existing_locks": "true"},
                    extra="[lock.b]\ntokens = 7\npattern = n%\n")
        self.hup_and_wait(node, "reload: applied 3 changes")
        H.wait_until(lambda: locks() == [(7, "n%", "")], 15, "the locks replaced")
        # and with no [lock.*] section left, none of this node's
        self.config("n1", coordination={"clear_existing_locks": "true"})
        self.hup_and_wait(node, "reload: applied 1 change (lock.b (removed))")
        H.wait_until(lambda: locks() == [], 15, "the locks cleared")
        self.assertEqual(self.token_counts(), {"n1": H.TOTAL})
        node.send(signal.SIGTERM)
        self.assertEqual(node.wait(30), 0, node.tail())


if __name__ == "__main__":
    H.main()
