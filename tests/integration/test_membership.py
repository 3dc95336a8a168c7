#!/usr/bin/env python3
"""test_membership.py: concurrent cold start, leader election, join and graceful leave
(follower and leader), with token balance and minimal moves."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

JOIN_GOAL, JOIN_ASSERT = 1.0, 4.0
LEAVE_GOAL, LEAVE_ASSERT = 1.0, 4.0


class Membership(H.ClusterCase):
    def test_concurrent_start_on_empty_database(self):
        names = ["n1", "n2", "n3"]
        nodes = [self.start_node(n, wait_registered=False) for n in names]
        el = self.expect_balanced(names, 30, "three nodes started together to converge")
        H.report("cold start of 3 nodes on an empty database to balanced", el)
        self.assert_alive(*nodes)
        self.assert_shares(names)
        live = self.live_nodes()
        self.assertEqual(sorted(live), names)
        wait_until_leader = lambda: (self.meta() or [None])[0] == live[0]  # noqa: E731
        H.wait_until(wait_until_leader, 5, "the oldest node %s to lead" % live[0])
        leader, term, version = self.meta()
        self.assertGreaterEqual(term, 1)
        self.assertGreaterEqual(version, 1)
        rows = self.rebalances_since(0)
        self.assertTrue(rows, "no sync_rebalance rows")
        self.assertEqual(rows[0][1], "initial", rows)
        for r in rows:
            self.assertIn(r[1], ("initial", "join"), rows)
            self.assertGreaterEqual(r[5], 0)
            self.assertGreaterEqual(r[6], 0)
        self.assertEqual(rows[-1][4], 3, rows)
        # Heartbeats advance.
        hb = dict(self.q("SELECT name, last_heartbeat FROM @node"))
        H.wait_until(lambda: all(t > hb[n] for n, t in self.q("SELECT name, last_heartbeat FROM @node")),
                     4, "every heartbeat to advance")
        self.assert_alive(*nodes)

    def test_join(self):
        self.start_cluster(["n1", "n2", "n3"])
        before = self.snapshot()
        last = self.last_rebalance_id()
        _, term0, version0 = self.meta()
        n4 = self.start_node("n4")
        el = self.expect_balanced(["n1", "n2", "n3", "n4"], JOIN_ASSERT, "n4 to get its share")
        H.report("join: n4 registered to balanced (goal %.0f s)" % JOIN_GOAL, el)
        self.assert_shares(["n1", "n2", "n3", "n4"])
        moved = self.moved(before, self.snapshot())
        H.report("join 3->4: tokens moved (lower bound 2500)", moved, "tokens")
        self.assertEqual(moved, 2500)
        H.wait_until(lambda: self.rebalances_since(last), 3, "a sync_rebalance row for the join")
        rows = self.rebalances_since(last)
        self.assertIn("join", [r[1] for r in rows], rows)
        self.assertEqual(sum(r[5] for r in rows), 2500, rows)
        self.assertEqual((rows[-1][2], rows[-1][3], rows[-1][4]), ("n1", 3, 4), rows)
        leader, term, version = self.meta()
        self.assertEqual((leader, term), ("n1", term0), "a join must not change the leader")
        self.assertGreater(version, version0)
        self.assert_alive(n4)

    def test_graceful_leave_follower(self):
        nodes = self.start_cluster(["n1", "n2", "n3", "n4"])
        before = self.snapshot()
        last = self.last_rebalance_id()
        _, term0, _ = self.meta()
        t = time.monotonic()
        nodes[3].send(signal.SIGTERM)
        el = H.wait_until(lambda: self.balanced_over(["n1", "n2", "n3"]) and not self.registered("n4"),
                          LEAVE_ASSERT, "n4's tokens to go to the others and its row to go")
        H.report("graceful leave (follower): SIGTERM to balanced (goal %.0f s)" % LEAVE_GOAL, el)
        self.assertEqual(nodes[3].wait(10), 0, nodes[3].tail())
        H.report("graceful leave: SIGTERM to exit", time.monotonic() - t)
        self.assert_shares(["n1", "n2", "n3"])
        moved = self.moved(before, self.snapshot())
        H.report("leave 4->3: tokens moved (lower bound 2500)", moved, "tokens")
        self.assertEqual(moved, 2500)
        H.wait_until(lambda: self.rebalances_since(last), 3, "a sync_rebalance row for the leave")
        rows = self.rebalances_since(last)
        self.assertIn("leave", [r[1] for r in rows], rows)
        self.assertEqual(sum(r[5] for r in rows), 2500, rows)
        self.assertEqual((rows[-1][3], rows[-1][4]), (4, 3), rows)
        self.assertEqual(self.meta()[:2], ("n1", term0))
        self.assert_alive(*nodes[:3])

    def test_graceful_leave_leader(self):
        nodes = self.start_cluster(["n1", "n2", "n3"])
        _, term0, _ = self.meta()
        last = self.last_rebalance_id()
        nodes[0].send(signal.SIGTERM)
        el = H.wait_until(lambda: self.meta()[:2] == ("n2", term0 + 1), LEAVE_ASSERT,
                          "n2 to lead in term %d" % (term0 + 1))
        H.report("graceful leave (leader): SIGTERM to new leader", el)
        el = H.wait_until(lambda: self.balanced_over(["n2", "n3"]) and not self.registered("n1"),
                          LEAVE_ASSERT, "n1's tokens to go to n2 and n3")
        H.report("graceful leave (leader): SIGTERM to balanced", el)
        self.assertEqual(nodes[0].wait(10), 0, nodes[0].tail())
        self.assert_shares(["n2", "n3"])
        self.assert_alive(*nodes[1:])
        # The new leader records the handover truthfully: a leave, 3 owners before, 2 after.
        rows = self.rebalances_since(last)
        self.assertEqual([(r[1], r[2], r[3], r[4], r[5]) for r in rows],
                         [("leave", "n2", 3, 2, 3334)], rows)

    def test_leave_after_crash_is_recorded_as_leave(self):
        """A crashed node's row lingers until its timeout; a graceful leave meanwhile is
        still recorded as a leave, not as a death."""
        nodes = self.start_cluster(["n1", "n2", "n3", "n4"])
        nodes[3].kill_group(signal.SIGKILL)
        self.expect_balanced(["n1", "n2", "n3"], 8, "n4's tokens to move after its crash")
        self.assertTrue(self.registered("n4"), "the crashed n4's row went before its timeout")
        last = self.last_rebalance_id()
        nodes[2].send(signal.SIGTERM)
        self.expect_balanced(["n1", "n2"], LEAVE_ASSERT, "n3's tokens to move after its leave")
        rows = self.rebalances_since(last)
        self.assertEqual([(r[1], r[3], r[4]) for r in rows], [("leave", 3, 2)], rows)


if __name__ == "__main__":
    H.main()
