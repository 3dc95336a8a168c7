#!/usr/bin/env python3
"""cluster_bench.py: coordination latencies and token moves of a real jobsync cluster.

Against a private PostgreSQL (tests/integration/harness.py), heartbeat 1 s / timeout 3 s,
10000 tokens, a base cluster of three nodes; for each of --runs runs it measures
  * join: the new node's sync_node.created_on to sync_token balanced over 4 nodes;
  * graceful leave: SIGTERM to sync_token balanced over the remaining 3 (row gone);
  * crash failover: SIGKILL of a follower to sync_token balanced over the survivors;
  * leader crash: SIGKILL of the leader to a new leader (term + 1) and balanced;
then, with the default timings (heartbeat 5 s / timeout 15 s), the idle database load of
three quiet nodes (statements per heartbeat interval, counted in the server's statement log
over --idle-window seconds: goal <= 2), a follower's and the leader's process crash (session-end detection: goal <= 2 s, where a heartbeat-only peer
needs the 15 s timeout and more); and the token moves of 3->4 and 4->3 (sync_rebalance.tokens_moved and the sync_token
diff) against the lower bound 2500. Prints a Markdown table (medians, min, max).

usage: python3 bench/cluster_bench.py --jobsync build/jobsync [--runs 5] [--idle-window 60]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as H  # noqa: E402

TOTAL = 10000
HB, TIMEOUT = 1, 3


class Bench(H.ClusterCase):
    def runTest(self):  # unittest needs one; the bench drives the helpers itself
        pass


def fmt_s(values):
    return ("%.2f s" % statistics.median(values), "%.2f s" % min(values), "%.2f s" % max(values))


def fmt_n(values):
    return ("%d" % statistics.median(values), "%d" % min(values), "%d" % max(values))


DEFAULT_TIMINGS = {"heartbeat_interval_sec": 5, "heartbeat_timeout_sec": 15}


def idle_load(b, names, window, idle):
    """Statements per heartbeat interval of each node of a quiet cluster, from the server's
    statement log (log_statement = all for the bench database), by application_name."""
    start = b.pg.log_size()
    time.sleep(window)
    per_node = b.statements_per_node(start, b.pg.log_size())
    leader = b.meta()[0]
    intervals = window / DEFAULT_TIMINGS["heartbeat_interval_sec"]
    for n in names:
        role = "leader" if n == leader else "heir" if n == names[1] else "follower"
        idle[role] = per_node.get(n, 0) / intervals


def default_timings(runs, lat, idle, window):
    """With the default heartbeat timings: the idle load of a quiet cluster, then process
    crashes of a follower and of the leader."""
    b = Bench()
    b.setUp()
    try:
        names = ["d1", "d2", "d3"]
        b.pg.log_statements(b.dbname)
        nodes = {n: b.start_node(n, coordination=DEFAULT_TIMINGS) for n in names}
        b.expect_balanced(names, 15)
        # Session checks start one heartbeat interval + 2 s after a node connects.
        time.sleep(DEFAULT_TIMINGS["heartbeat_interval_sec"] + 3)
        idle_load(b, names, window, idle)
        for i in range(runs):
            victim = names[-1]
            t = time.monotonic()
            nodes[victim].kill_group(signal.SIGKILL)
            b.expect_balanced(names[:-1], 30, "default-timing failover of %s" % victim)
            lat["crash_default"].append(time.monotonic() - t)
            leader, term0, _ = b.meta()
            t = time.monotonic()
            nodes[leader].kill_group(signal.SIGKILL)
            rest = [n for n in names[:-1] if n != leader]
            b.expect_balanced(rest, 30, "default-timing failover of leader %s" % leader)
            lat["leader_default"].append(time.monotonic() - t)
            for n in (victim, leader):
                nodes[n].stop()
                nodes[n] = b.start_node(n, coordination=DEFAULT_TIMINGS)
            names = rest + [leader, victim]
            b.expect_balanced(names, 15)
            time.sleep(DEFAULT_TIMINGS["heartbeat_interval_sec"] + 3)
            H.log("default-timing run %d/%d done" % (i + 1, runs))
    except BaseException:
        b.dump_logs()
        raise
    finally:
        b.tearDown()


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--runs", type=int, default=5, help="runs per measure (default 5)")
    ap.add_argument("--idle-window", type=float, default=60,
                    help="seconds of quiet over which the idle load is counted (default 60)")
    mine, rest = ap.parse_known_args()
    H.parse_args(rest, description=__doc__.splitlines()[0])
    runs = max(1, mine.runs)
    b = Bench()
    b.setUp()
    lat = {k: [] for k in ("join", "leave", "crash", "crash_row", "leader", "leader_bal",
                           "crash_default", "leader_default")}
    moves = {"join_diff": [], "join_rb": [], "leave_diff": [], "leave_rb": [],
             "crash_diff": [], "balance": []}
    try:
        base = ["n1", "n2", "n3"]
        nodes = {n.name: n for n in b.start_cluster(base)}

        def spread():
            c = b.token_counts()
            return max(c.values()) - min(c.values())

        for i in range(runs):
            # --- join 3 -> 4
            name = "j%d" % i
            before, last = b.snapshot(), b.last_rebalance_id()
            node = b.start_node(name)
            b.expect_balanced(base + [name], 10, "join of %s" % name)
            done = time.time()
            created = b.scalar("SELECT extract(epoch FROM created_on) FROM @node WHERE name = %s", name)
            lat["join"].append(done - float(created))
            moves["join_diff"].append(b.moved(before, b.snapshot()))
            H.wait_until(lambda: b.rebalances_since(last), 5, "rebalance row of the join")
            moves["join_rb"].append(sum(r[5] for r in b.rebalances_since(last)))
            moves["balance"].append(spread())
            # --- graceful leave 4 -> 3
            before, last = b.snapshot(), b.last_rebalance_id()
            t = time.monotonic()
            node.send(signal.SIGTERM)
            H.wait_until(lambda: b.balanced_over(base) and not b.registered(name), 10,
                         "leave of %s" % name)
            lat["leave"].append(time.monotonic() - t)
            if node.wait(10) != 0:
                H.log("WARNING: %s exited with %s after SIGTERM" % (name, node.proc.returncode))
            moves["leave_diff"].append(b.moved(before, b.snapshot()))
            H.wait_until(lambda: b.rebalances_since(last), 5, "rebalance row of the leave")
            moves["leave_rb"].append(sum(r[5] for r in b.rebalances_since(last)))
            moves["balance"].append(spread())
            # --- crash of a follower (4 -> 3)
            name = "c%d" % i
            node = b.start_node(name)
            b.expect_balanced(base + [name], 10)
            before = b.snapshot()
            t = time.monotonic()
            node.kill_group(signal.SIGKILL)
            b.expect_balanced(base, 15, "failover of %s" % name)
            lat["crash"].append(time.monotonic() - t)
            moves["crash_diff"].append(b.moved(before, b.snapshot()))
            H.wait_until(lambda: not b.registered(name), 15, "dead row of %s" % name)
            lat["crash_row"].append(time.monotonic() - t)
            moves["balance"].append(spread())
            node.stop()
            # --- crash of the leader (3 -> 2), then a replacement joins (back to 3)
            leader, term0, _ = b.meta()
            t = time.monotonic()
            nodes[leader].kill_group(signal.SIGKILL)
            rest_nodes = [n for n in base if n != leader]
            H.wait_until(lambda: b.meta()[:2] == (rest_nodes[0], term0 + 1), 15,
                         "%s to lead after %s" % (rest_nodes[0], leader))
            lat["leader"].append(time.monotonic() - t)
            b.expect_balanced(rest_nodes, 15, "failover of leader %s" % leader)
            lat["leader_bal"].append(time.monotonic() - t)
            H.wait_until(lambda: not b.registered(leader), 15, "dead row of %s" % leader)
            nodes[leader].stop()
            repl = "r%d" % i
            nodes[repl] = b.start_node(repl)
            base = rest_nodes + [repl]
            b.expect_balanced(base, 10)
            H.log("run %d/%d done" % (i + 1, runs))
    except BaseException:
        b.dump_logs()
        raise
    finally:
        b.tearDown()
    idle = {}
    default_timings(runs, lat, idle, mine.idle_window)

    version = subprocess.run([H.JOBSYNC, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    print()
    print("### Cluster coordination (%s, %d runs, %d tokens, heartbeat %d s / timeout %d s, "
          "%d CPUs, %s)" % (version, runs, TOTAL, HB, TIMEOUT, os.cpu_count(), time.strftime("%Y-%m-%d")))
    print()
    print("| measure | median | min | max | goal (SPEC 8) |")
    print("|---|---|---|---|---|")
    rows = [
        ("join: registration to balanced (3->4)", fmt_s(lat["join"]), "<= 1 s"),
        ("graceful leave: SIGTERM to balanced (4->3)", fmt_s(lat["leave"]), "<= 1 s"),
        ("crash failover: SIGKILL follower to balanced (4->3)", fmt_s(lat["crash"]),
         "<= timeout + 1 s = %d s" % (TIMEOUT + 1)),
        ("crash: SIGKILL follower to its row deleted", fmt_s(lat["crash_row"]),
         "after the %d s timeout" % TIMEOUT),
        ("leader crash: SIGKILL leader to new leader (term + 1)", fmt_s(lat["leader"]),
         "<= timeout + 1 s = %d s" % (TIMEOUT + 1)),
        ("leader crash: SIGKILL leader to balanced (3->2)", fmt_s(lat["leader_bal"]),
         "<= timeout + 1 s = %d s" % (TIMEOUT + 1)),
        ("process crash, default timings (5 s / 15 s): SIGKILL follower to balanced",
         fmt_s(lat["crash_default"]), "<= 2 s (JobSync 25-55 s)"),
        ("process crash, default timings: SIGKILL leader to balanced",
         fmt_s(lat["leader_default"]), "<= 2 s"),
        ("token moves 3->4, sync_rebalance.tokens_moved", fmt_n(moves["join_rb"]), "= 2500 (lower bound)"),
        ("token moves 3->4, sync_token diff", fmt_n(moves["join_diff"]), "= 2500 (lower bound)"),
        ("token moves 4->3, sync_rebalance.tokens_moved", fmt_n(moves["leave_rb"]), "= 2500 (lower bound)"),
        ("token moves 4->3, sync_token diff", fmt_n(moves["leave_diff"]), "= 2500 (lower bound)"),
        ("token moves on a crash 4->3, sync_token diff", fmt_n(moves["crash_diff"]), "= 2500 (lower bound)"),
        ("balance max - min after each event", fmt_n(moves["balance"]), "<= 1"),
    ]
    for what, (med, lo, hi), goal in rows:
        print("| %s | %s | %s | %s | %s |" % (what, med, lo, hi, goal))
    print()
    print("Idle database load, default timings (heartbeat 5 s, rebalance check 30 s), 3 quiet "
          "nodes, %g s counted from the server's statement log:" % mine.idle_window)
    print()
    print("| node | statements per heartbeat interval | peer: one heartbeat per interval | goal (SPEC 8) |")
    print("|---|---|---|---|")
    for role in ("leader", "heir", "follower"):
        print("| %s | %.2f | 1 | <= 2 |" % (role, idle.get(role, float("nan"))))
    print()
    bad = []
    if statistics.median(lat["join"]) > 1.0:
        bad.append("join")
    if statistics.median(lat["leave"]) > 1.0:
        bad.append("leave")
    if statistics.median(lat["crash"]) > TIMEOUT + 1:
        bad.append("crash failover")
    if statistics.median(lat["crash_default"] + lat["leader_default"]) > 2.0:
        bad.append("default-timing crash")
    if not idle or max(idle.values()) > 2:
        bad.append("idle load")
    if any(m != 2500 for m in moves["join_rb"] + moves["join_diff"] + moves["leave_rb"] + moves["leave_diff"]):
        bad.append("token moves")
    if max(moves["balance"]) > 1:
        bad.append("balance")
    print("goals missed: %s" % (", ".join(bad) if bad else "none"))
    H.cleanup_all()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
