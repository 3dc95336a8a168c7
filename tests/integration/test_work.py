#!/usr/bin/env python3
"""test_work.py: running tasks across a real cluster: exec, stream and batch modes over
3 nodes, every task audited exactly once with no two executions of a task overlapping
(G1-G3); a node SIGKILLed or SIGSTOPped mid-run (G2, G4); handoff on a join; drain on
SIGTERM and a second SIGTERM; a missing worker binary; odd task ids; status progress."""

import datetime
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")
N = int(os.environ.get("JOBSYNC_WORK_TASKS", "10000"))


def joined_ns(log):
    """Wall-clock ns of each "joined the cluster" line of a node's log."""
    out = []
    for line in log.splitlines():
        if " joined the cluster as " in line:
            stamp = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
            out.append(int(stamp.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e9))
    return out


def read_record(path):
    """[(kind, id, node, ns)] from the workers' record file."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            if len(parts) >= 6 and parts[0] in ("S", "E"):
                out.append((parts[0], parts[1], parts[2], int(parts[-1])))
    return out


def assert_no_overlap(case, events, killed=None):
    """No id has two executions at once. Executions cut short on a killed node end at its
    kill time + 1 s (G4: its children die with it)."""
    killed = killed or {}
    by_id = {}
    for kind, tid, node, ns in events:
        by_id.setdefault(tid, []).append((ns, kind, node))
    overlaps = []
    for tid, evs in by_id.items():
        evs.sort()
        open_on = {}
        for ns, kind, node in evs:
            if kind == "S":
                for other, since in list(open_on.items()):
                    end = killed.get(other)
                    if end is not None and ns > end + 1_000_000_000:
                        del open_on[other]
                if open_on:
                    overlaps.append((tid, node, list(open_on)))
                open_on[node] = ns
            else:
                open_on.pop(node, None)
    case.assertEqual(overlaps[:5], [], "%d tasks ran twice at once" % len(overlaps))


class Work(H.ClusterCase):
    def work_config(self, name, mode, command, tasks="1-%d" % N, extra_worker="", poll=0):
        extra = ("[tasks]\nsource = range\nrange = %s\npoll_interval_sec = %d\n\n"
                 "[worker]\nmode = %s\ncommand = %s\nmax_attempts = 2\nretry_backoff_sec = 1\n%s"
                 % (tasks, poll, mode, command, extra_worker))
        return self.config(name, extra=extra)

    def run_mode(self, mode, command, extra_worker=""):
        record = os.path.join(self.dir, "record.log")
        env = {"RECORD": record}
        nodes = []
        for name in ("n1", "n2", "n3"):
            cfg = self.work_config(name, mode, command, extra_worker=extra_worker)
            nodes.append(self.start_node(name, config=cfg, env=env))
        t = time.monotonic()
        for node in nodes:
            rc = node.wait(240 * H.SLOW)
            self.assertEqual(rc, 0, node.tail())
        el = time.monotonic() - t
        H.report("%s mode: %d tasks over 3 nodes, batch to all nodes exited" % (mode, N), el)
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'"), N)
        self.assertEqual(self.scalar("SELECT count(DISTINCT item) FROM @audit"), N)
        per_node = dict(self.q("SELECT node, count(*) FROM @audit GROUP BY node"))
        self.assertEqual(set(per_node), {"n1", "n2", "n3"}, per_node)
        events = read_record(record)
        starts = sum(1 for e in events if e[0] == "S")
        self.assertEqual(starts, N, "each task started exactly once")
        assert_no_overlap(self, events)

    def test_exec_mode(self):
        self.run_mode("exec", os.path.join(WORKERS, "record.sh") + " {}", "concurrency = 4\n")

    def test_stream_mode(self):
        self.run_mode("stream", os.path.join(WORKERS, "stream.sh"), "procs = 2\ninflight = 4\n")

    def test_batch_mode(self):
        self.run_mode("batch", os.path.join(WORKERS, "batch.sh"), "procs = 2\nbatch_size = 50\n")

    def test_node_killed_mid_run(self):
        record = os.path.join(self.dir, "record.log")
        env = {"RECORD": record, "WORK_SLEEP": "0.05"}
        count = 600
        nodes = []
        for name in ("n1", "n2", "n3"):
            cfg = self.work_config(name, "exec", os.path.join(WORKERS, "record.sh") + " {}",
                                   tasks="1-%d" % count, extra_worker="concurrency = 2\n")
            nodes.append(self.start_node(name, config=cfg, env=env))
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit WHERE node = 'n3'") >= 20,
                      60, "n3 to finish some tasks")
        nodes[2].kill_group(signal.SIGKILL)
        killed_ns = time.time_ns()
        for node in nodes[:2]:
            self.assertEqual(node.wait(180 * H.SLOW), 0, node.tail())
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'"), count)
        events = read_record(record)
        late = [e for e in events if e[2] == "n3" and e[3] > killed_ns + 1_000_000_000]
        self.assertEqual(late, [], "n3's workers kept running after it was killed")
        assert_no_overlap(self, events, killed={"n3": killed_ns})

    def start_sleepers(self, names, count, sleep, extra_worker="concurrency = 2\n", env=None):
        record = os.path.join(self.dir, "record.log")
        env = dict({"RECORD": record, "WORK_SLEEP": str(sleep)}, **(env or {}))
        nodes = []
        for name in names:
            cfg = self.work_config(name, "exec", os.path.join(WORKERS, "record.sh") + " {}",
                                   tasks="1-%d" % count, extra_worker=extra_worker)
            nodes.append(self.start_node(name, config=cfg, env=env))
        return nodes, record

    def test_node_stopped_past_timeout(self):
        """SIGSTOP (the node cannot fence itself): its guard kills its task groups before
        the others may take the tasks over; after SIGCONT it rejoins; no overlap (G4)."""
        nodes, record = self.start_sleepers(["n1", "n2", "n3"], 300, 0.3)
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit WHERE node = 'n3'") >= 5,
                     60, "n3 to finish some tasks")
        nodes[2].send(signal.SIGSTOP)
        stopped_ns = time.time_ns()
        H.wait_until(lambda: not self.registered("n3"), 15, "the stopped n3 to be removed")
        time.sleep(1)
        nodes[2].send(signal.SIGCONT)
        for node in nodes:
            self.assertEqual(node.wait(180 * H.SLOW), 0, node.tail())
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'"), 300)
        events = read_record(record)
        # The guard kills a silent node's groups after fence_after (1.5 s here); the
        # cluster takes over at the 3 s timeout. From then until n3 rejoined as a new
        # incarnation after SIGCONT (with claims of its own), n3 may start nothing.
        rejoin_ns = joined_ns(nodes[2].output())[1]
        late = [e for e in events if e[2] == "n3" and e[0] == "S" and
                stopped_ns + 3_000_000_000 < e[3] < rejoin_ns]
        self.assertEqual(late, [], "n3 started tasks before it rejoined")
        assert_no_overlap(self, events, killed={"n3": stopped_ns + 2_000_000_000})

    def test_audit_refused_without_claim(self):
        """G3: an audit is accepted only from the claim holder. Claims deleted while their
        tasks run (as the leader does for a node it declared dead) make exactly those
        audits refused; the others of the same batch are recorded."""
        record = os.path.join(self.dir, "record.log")
        # Streaming (the node stays up), so the refused tasks are not waited for.
        cfg = self.work_config("n1", "exec", os.path.join(WORKERS, "record.sh") + " {}",
                               tasks="1-6", extra_worker="concurrency = 6\n", poll=60)
        node = self.start_node("n1", config=cfg, env={"RECORD": record, "WORK_SLEEP": "2"})
        H.wait_until(lambda: len([e for e in read_record(record) if e[0] == "S"]) == 6, 20,
                     "the 6 tasks to run")
        self.assertEqual(self.scalar("SELECT count(*) FROM @claim WHERE node = 'n1'"), 6)
        self.q("DELETE FROM @claim WHERE item IN ('2', '5')")
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit") == 4, 20,
                     "the 4 audits still held")
        time.sleep(0.5)
        audited = sorted(r[0] for r in self.q("SELECT item FROM @audit WHERE node = 'n1'"))
        self.assertEqual(audited, ["1", "3", "4", "6"])
        refused = sorted(set(re.findall(r"audit of task '(\d+)' rejected", node.output())))
        self.assertEqual(refused, ["2", "5"], node.tail())
        self.assert_alive(node)

    def test_handoff_on_join(self):
        """A node joins mid-run: tokens move, the old owners finish (not kill) what they
        run, the newcomer claims only tasks nobody holds."""
        nodes, record = self.start_sleepers(["n1", "n2"], 240, 0.2)
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit") >= 30, 60,
                     "some tasks done")
        cfg = self.work_config("n3", "exec", os.path.join(WORKERS, "record.sh") + " {}",
                               tasks="1-240", extra_worker="concurrency = 2\n")
        nodes.append(self.start_node("n3", config=cfg, env={"RECORD": record, "WORK_SLEEP": "0.2"}))
        for node in nodes:
            self.assertEqual(node.wait(180 * H.SLOW), 0, node.tail())
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'"), 240)
        self.assertGreater(self.scalar("SELECT count(*) FROM @audit WHERE node = 'n3'"), 0)
        events = read_record(record)
        starts = [e for e in events if e[0] == "S"]
        ends = [e for e in events if e[0] == "E"]
        self.assertEqual(len(starts), 240, "a task ran twice or was killed and rerun")
        self.assertEqual(len(ends), 240, "a running task was killed by the handoff")
        assert_no_overlap(self, events)

    def test_drain_on_sigterm(self):
        """SIGTERM: claiming stops, running tasks finish, tokens move at once, exit 0; a
        second SIGTERM stops the children at once."""
        nodes, record = self.start_sleepers(["n1", "n2"], 40, 1.0, env={})
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @claim c WHERE node = 'n2' AND "
                                         "NOT EXISTS (SELECT 1 FROM @audit a WHERE a.item = c.item)") >= 2,
                     60, "n2 to run tasks")
        t = time.monotonic()
        nodes[1].send(signal.SIGTERM)
        H.wait_until(lambda: self.balanced_over(["n1"]), 4, "n2's tokens to move at once")
        H.report("drain: SIGTERM to tokens handed over", time.monotonic() - t)
        self.assertEqual(nodes[1].wait(30), 0, nodes[1].tail())
        H.report("drain: SIGTERM to exit (running tasks of 1 s finished)", time.monotonic() - t)
        n2 = [e for e in read_record(record) if e[2] == "n2"]
        self.assertEqual(sum(1 for e in n2 if e[0] == "S"), sum(1 for e in n2 if e[0] == "E"),
                         "the drain killed running tasks")
        # A second node drains with long tasks; a second SIGTERM stops them now.
        cfg = self.work_config("n3", "exec", os.path.join(WORKERS, "record.sh") + " {}",
                               tasks="1-40", extra_worker="concurrency = 2\nstop_timeout_sec = 60\n")
        n3 = self.start_node("n3", config=cfg, env={"RECORD": record, "WORK_SLEEP": "30"})
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @claim c WHERE node = 'n3' AND "
                                         "NOT EXISTS (SELECT 1 FROM @audit a WHERE a.item = c.item)") >= 1,
                     60, "n3 to run a long task")
        n3.send(signal.SIGTERM)
        time.sleep(0.5)
        t = time.monotonic()
        n3.send(signal.SIGTERM)
        self.assertEqual(n3.wait(15), 0, n3.tail())
        H.report("second SIGTERM to exit", time.monotonic() - t)
        self.assertEqual(nodes[0].wait(240 * H.SLOW), 0, nodes[0].tail())
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE status = 'done'"), 40)

    def test_status_progress(self):
        nodes, _ = self.start_sleepers(["n1", "n2"], 50, 0)
        for node in nodes:
            self.assertEqual(node.wait(60 * H.SLOW), 0, node.tail())
        r = H.run_cli(["status", "--json", "--dsn", self.dsn,
                       "--date", time.strftime("%Y-%m-%d")])
        self.assertEqual(r.returncode, 0, r.stderr)
        import json
        p = json.loads(r.stdout)["progress"]
        self.assertEqual((p["done"], p["failed"], p["in_flight"]), (50, 0, 0), p)
        self.assertEqual(sorted(n["node"] for n in p["nodes"]), ["n1", "n2"], p)
        self.assertEqual(sum(n["done"] for n in p["nodes"]), 50)

    def test_sql_source_streaming_with_notify(self):
        """source = sql with the token filter pushed into the query; streaming: new rows are
        listed at once on a NOTIFY to the channel, not only at the next poll."""
        self.q("CREATE TABLE jobs (id text PRIMARY KEY, day date NOT NULL)")
        self.q("INSERT INTO jobs SELECT 'job-' || g, current_date FROM generate_series(1, 200) g")
        self.q("INSERT INTO jobs VALUES ('yesterday', current_date - 1)")
        H.run_cli(["init-db", "--dsn", self.dsn])
        record = os.path.join(self.dir, "record.log")
        extra = ("[tasks]\nsource = sql\nquery = SELECT id FROM jobs WHERE day = $1::date\n"
                 "sql_token_filter = true\npoll_interval_sec = 60\nchannel = newjobs\n\n"
                 "[worker]\nmode = exec\ncommand = %s {}\nconcurrency = 4\n"
                 % os.path.join(WORKERS, "record.sh"))
        nodes = [self.start_node(n, config=self.config(n, extra=extra), env={"RECORD": record})
                 for n in ("n1", "n2")]
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit") == 200, 60,
                     "the 200 rows of today to be done")
        self.q("INSERT INTO jobs SELECT 'late-' || g, current_date FROM generate_series(1, 20) g")
        t = time.monotonic()
        self.q("NOTIFY newjobs")
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit") == 220, 20,
                     "the new rows to be listed on the NOTIFY")
        el = time.monotonic() - t
        H.report("sql source: NOTIFY to 20 new tasks audited (poll interval 60 s)", el)
        self.assertLess(el, 10)
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE item = 'yesterday'"), 0)
        per_node = dict(self.q("SELECT node, count(*) FROM @audit GROUP BY node"))
        self.assertEqual(set(per_node), {"n1", "n2"}, per_node)
        for node in nodes:
            node.send(signal.SIGTERM)
            self.assertEqual(node.wait(20), 0, node.tail())
        assert_no_overlap(self, read_record(record))

    def test_command_source(self):
        record = os.path.join(self.dir, "record.log")
        extra = ("[tasks]\nsource = command\ncommand = seq 1 50 | sed s/^/c-/\n"
                 "poll_interval_sec = 0\n\n[worker]\nmode = exec\ncommand = %s {}\n"
                 % os.path.join(WORKERS, "record.sh"))
        node = self.start_node("n1", config=self.config("n1", extra=extra), env={"RECORD": record})
        self.assertEqual(node.wait(60 * H.SLOW), 0, node.tail())
        items = sorted(r[0] for r in self.q("SELECT item FROM @audit WHERE status = 'done'"))
        self.assertEqual(items, sorted("c-%d" % i for i in range(1, 51)))

    def test_stream_worker_misbehaving(self):
        """A stream worker that answers garbage once, and one that exits mid-batch: each is
        stopped or restarted and its in-flight ids are retried; every task ends done."""
        path = os.path.join(self.dir, "ids.txt")
        ids = ["ok-%d" % i for i in range(40)] + ["garbage-1", "die-1", "garbage-2"]
        with open(path, "w") as f:
            f.write("\n".join(ids) + "\n")
        state = os.path.join(self.dir, "state")
        os.makedirs(state)
        record = os.path.join(self.dir, "record.log")
        extra = ("[tasks]\nsource = file\npath = %s\npoll_interval_sec = 0\n\n"
                 "[worker]\nmode = stream\ncommand = %s\nprocs = 2\ninflight = 4\n"
                 "max_attempts = 3\nretry_backoff_sec = 1\nstop_timeout_sec = 2\n"
                 % (path, os.path.join(WORKERS, "stream_bad.sh")))
        node = self.start_node("n1", config=self.config("n1", extra=extra),
                               env={"RECORD": record, "STATE_DIR": state})
        self.assertEqual(node.wait(90 * H.SLOW), 0, node.tail())
        done = sorted(r[0] for r in self.q("SELECT item FROM @audit WHERE status = 'done'"))
        self.assertEqual(done, sorted(ids))
        out = node.output()
        self.assertIn("broke the stream protocol", out)
        self.assertIn("exited with status 3", out)

    def test_missing_worker_binary(self):
        cfg = self.work_config("n1", "exec", "/nonexistent/worker {}", tasks="1-5",
                               extra_worker="concurrency = 2\n")
        node = self.start_node("n1", config=cfg)
        self.assertEqual(node.wait(60 * H.SLOW), 0, node.tail())
        rows = self.q("SELECT status, attempts, exit_status, message FROM @audit")
        self.assertEqual(len(rows), 5)
        for status, attempts, exit_status, message in rows:
            self.assertEqual((status, attempts, exit_status), ("failed", 2, 127))
            self.assertIn("/nonexistent/worker", message)
        self.assertLess(node.output().count("cannot start the worker"), 5 * 2 + 1,
                        "no hot restart loop")

    def test_odd_task_ids(self):
        path = os.path.join(self.dir, "ids.txt")
        ids = ["plain", "'; DROP TABLE sync_audit; --", 'quo"te\'s', "x" * 1024, "sp ace",
               "caf\u00e9"]
        with open(path, "wb") as f:
            for i in ids:
                f.write(i.encode() + b"\n")
            f.write(b"y" * 1025 + b"\n")      # too long: skipped
            f.write(b"bad\xffutf8\n")         # invalid UTF-8: skipped
            f.write(b"\n")                    # empty: skipped
        record = os.path.join(self.dir, "record.log")
        extra = ("[tasks]\nsource = file\npath = %s\npoll_interval_sec = 0\n\n"
                 "[worker]\nmode = exec\ncommand = %s {}\n" % (path, os.path.join(WORKERS, "record.sh")))
        node = self.start_node("n1", config=self.config("n1", extra=extra), env={"RECORD": record})
        self.assertEqual(node.wait(60 * H.SLOW), 0, node.tail())
        done = sorted(r[0] for r in self.q("SELECT item FROM @audit WHERE status = 'done'"))
        self.assertEqual(done, sorted(ids))
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit"), len(ids))
        self.assertIn("skipping a listed task", node.output())


if __name__ == "__main__":
    H.main()
