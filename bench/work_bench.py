#!/usr/bin/env python3
"""work_bench.py: task throughput of one node against its peers, side by side in one run.

  * exec mode, no-op worker (/bin/true {}), 20000 tasks, concurrency 2, against
    `xargs -P2 -n1 /bin/true` on the same ids (goal: jobsync wall <= 1.15 x xargs);
  * stream mode, echo worker (stdbuf -oL sed answering "ID ok"), 200000 tasks (goal: >= 50000
    tasks/s), against PostgreSQL's batched insert rate for two rows per task measured on
    the same server (goal: >= half of it).
Wall time of jobsync is from process start to exit (batch mode: list, claim, run, audit,
leave), on a private PostgreSQL (fsync off).

usage: python3 bench/work_bench.py --jobsync build/jobsync [--exec-tasks N] [--stream-tasks N]
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as H  # noqa: E402


class Bench(H.ClusterCase):
    def runTest(self):
        pass


def run_node(b, name, extra, timeout=600):
    cfg = b.config(name, extra=extra)
    t = time.monotonic()
    node = b.start_node(name, config=cfg, wait_registered=False)
    rc = node.wait(timeout)
    el = time.monotonic() - t
    if rc != 0:
        raise RuntimeError("node exited %s:\n%s" % (rc, node.tail()))
    return el


def insert_rate(b, rows_per_task, tasks, batch=1000):
    """Tasks per second PostgreSQL sustains for rows_per_task batched inserts per task."""
    b.q("CREATE TABLE bench_ins (item text, date date, node text, PRIMARY KEY (item, date))")
    b.q("CREATE TABLE bench_ins2 (item text, date date, node text, PRIMARY KEY (item, date))")
    t = time.monotonic()
    for start in range(0, tasks, batch):
        ids = [str(i) for i in range(start, min(tasks, start + batch))]
        b.q("INSERT INTO bench_ins SELECT x, current_date, 'n1' FROM unnest(%s::text[]) x", ids)
        if rows_per_task > 1:
            b.q("INSERT INTO bench_ins2 SELECT x, current_date, 'n1' FROM unnest(%s::text[]) x", ids)
    return tasks / (time.monotonic() - t)


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--exec-tasks", type=int, default=20000)
    ap.add_argument("--stream-tasks", type=int, default=200000)
    mine, rest = ap.parse_known_args()
    H.parse_args(rest, description=__doc__.splitlines()[0])
    b = Bench()
    b.setUp()
    try:
        n = mine.exec_tasks
        t = time.monotonic()
        subprocess.run("seq 1 %d | xargs -P2 -n1 /bin/true" % n, shell=True, check=True)
        xargs = time.monotonic() - t
        exec_wall = run_node(b, "e1", "[tasks]\nsource = range\nrange = 1-%d\npoll_interval_sec = 0\n"
                             "[worker]\nmode = exec\ncommand = /bin/true {}\nconcurrency = 2\n" % n)
        b.tearDown()
        b.setUp()
        m = mine.stream_tasks
        stream_wall = run_node(b, "s1", "[tasks]\nsource = range\nrange = 1-%d\npoll_interval_sec = 0\n"
                               "[worker]\nmode = stream\ncommand = stdbuf -oL sed \"s/$/ ok/\"\nprocs = 2\n"
                               "inflight = 512\n" % m)
        done = b.scalar("SELECT count(*) FROM @audit WHERE status = 'done'")
        limit = insert_rate(b, 2, m)
    finally:
        b.tearDown()
    rate = m / stream_wall
    print()
    print("### Task throughput (1 node, %d CPUs, %s)" % (os.cpu_count(), time.strftime("%Y-%m-%d")))
    print()
    print("| measure | jobsync | peer | ratio | goal |")
    print("|---|---|---|---|---|")
    print("| exec, /bin/true, %d tasks, concurrency 2: wall | %.2f s | xargs -P2 -n1: %.2f s | %.2f | <= 1.15 |"
          % (n, exec_wall, xargs, exec_wall / xargs))
    print("| stream, sed echo worker, %d tasks: rate | %.0f tasks/s (%d audited) | PostgreSQL batched "
          "insert, 2 rows a task: %.0f tasks/s | %.2f | >= 50000 tasks/s and >= 0.5 |"
          % (m, rate, done, limit, rate / limit))
    H.cleanup_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
