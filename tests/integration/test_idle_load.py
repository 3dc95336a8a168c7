#!/usr/bin/env python3
"""test_idle_load.py: what a quiet cluster asks of the database, and the session watch.

SPEC 8: idle database load per node <= 2 statements per heartbeat interval. The server logs
every statement of the test database (ALTER DATABASE ... SET log_statement = 'all'), the
statements of a quiet window are counted per backend and summed per node through
application_name ("jobsync NODE [ROLE]"). Also: each node holds its main and its watch
connection, and the watch statements form a ring (every node's session lock is waited on by
exactly one other node). With the default timings (heartbeat 5 s, timeout 15 s) a SIGKILLed
follower's tokens and a SIGKILLed leader's office move within the 2 s goal of SPEC 8, which
only the watch can give: the heartbeat timeout alone would take 15 s.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

NAMES = ["n1", "n2", "n3"]
WINDOW = 10.0          # seconds of quiet measured (10 heartbeat intervals of 1 s)
GOAL_PER_INTERVAL = 2  # SPEC 8
CRASH_GOAL = 2.0       # SPEC 8, default timings
CRASH_ASSERT = 6.0     # asserted with a margin on a loaded machine (the timeout is 15 s)


class IdleLoad(H.ClusterCase):
    def watch_ring(self):
        """{watcher node: watched node} from the waiting watch statements."""
        keys = dict(self.q("SELECT session_key::oid, name FROM @node"))
        ring = {}
        for app, objid in self.backends().values():
            if app.endswith(" watch") and objid is not None:
                ring[app.split()[1]] = keys.get(objid)
        return ring

    def test_quiet_cluster_statements_and_watch_ring(self):
        self.pg.log_statements(self.dbname)
        # The leader's full look (3 statements) every 10 heartbeats, as at the defaults
        # (every 6): a 10 s window holds one or two, whatever its phase.
        coord = {"rebalance_check_interval_sec": 10}
        for n in NAMES:
            self.start_node(n, coordination=coord)
        self.expect_balanced(NAMES, 20)
        # Past the session grace of the youngest node (interval + 2 s), every heartbeat
        # names the node to watch; the ring must then be complete.
        H.wait_until(lambda: len(self.watch_ring()) == 3, 15,
                     "every node waiting on another's session lock")
        ring = self.watch_ring()
        self.assertEqual(sorted(ring), NAMES, ring)
        self.assertEqual(sorted(ring.values()), NAMES, "each node watched once: %r" % ring)
        self.assertTrue(all(k != v for k, v in ring.items()), ring)
        # Age order: n2 watches n1, n3 watches n2, the oldest watches the youngest.
        self.assertEqual(ring, {"n2": "n1", "n3": "n2", "n1": "n3"})
        apps = sorted(app for app, _ in self.backends().values())
        self.assertEqual(apps, sorted(["jobsync %s" % n for n in NAMES] +
                                      ["jobsync %s watch" % n for n in NAMES]))

        start = self.pg.log_size()
        time.sleep(WINDOW)
        per_node = self.statements_per_node(start, self.pg.log_size())
        self.assertEqual(sorted(per_node), NAMES, per_node)
        leader = self.meta()[0]
        for n, c in sorted(per_node.items()):
            rate = c / WINDOW
            H.report("idle statements per heartbeat interval, %s (%s; goal <= %d)"
                     % (n, "leader" if n == leader else "follower", GOAL_PER_INTERVAL),
                     round(rate, 2), "statements")
            self.assertLessEqual(rate, GOAL_PER_INTERVAL, "%s: %r" % (n, per_node))
            # The count is real: every node heartbeats about once a second.
            self.assertGreaterEqual(rate, 0.5, "%s: %r" % (n, per_node))
        self.assert_alive(*self.nodes)

    def default_timings_cluster(self):
        coord = {"heartbeat_interval_sec": 5, "heartbeat_timeout_sec": 15}
        for n in NAMES:
            self.start_node(n, coordination=coord)
        self.expect_balanced(NAMES, 30)
        H.wait_until(lambda: (self.meta() or [None])[0] == "n1", 20, "n1 to lead")
        # Session locks count once a node is past its grace (interval + 2 s) after connecting.
        H.wait_until(lambda: len(self.watch_ring()) == 3, 20, "the watch ring")
        time.sleep(7.5)

    def test_crash_with_default_timings(self):
        self.default_timings_cluster()
        victim = self.nodes[2]
        victim.kill_group(signal.SIGKILL)
        el = self.expect_balanced(["n1", "n2"], CRASH_ASSERT, "n3's tokens to move")
        H.report("default timings (5 s / 15 s): SIGKILL follower to balanced (goal <= %g s)"
                 % CRASH_GOAL, el)
        # The oldest node watches the youngest.
        self.assertIn("watch: the session of node n3 ended", self.nodes[0].output())
        self.assertTrue(self.registered("n3"), "the row stays until the 15 s timeout")

        t = time.monotonic()
        _, term0, _ = self.meta()
        self.nodes[0].kill_group(signal.SIGKILL)
        H.wait_until(lambda: self.meta()[0] == "n2" and self.meta()[1] > term0, CRASH_ASSERT,
                     "n2 to take over")
        el = time.monotonic() - t
        H.report("default timings: SIGKILL leader to new leader (goal <= %g s)" % CRASH_GOAL, el)
        el = self.expect_balanced(["n2"], CRASH_ASSERT, "n2 to own everything") + el
        H.report("default timings: SIGKILL leader to balanced (goal <= %g s)" % CRASH_GOAL, el)
        # The heir watches the leader.
        self.assertIn("watch: the session of node n1 ended", self.nodes[1].output())
        self.assert_alive(self.nodes[1])


if __name__ == "__main__":
    H.main()
