#!/usr/bin/env python3
"""test_coldstart.py: wait_on_enter and cold_start_quiet_sec hold the first distribution
until nodes stop arriving, so a batch cluster started together shares work fairly."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

COLD = {"wait_on_enter": 20, "cold_start_quiet_sec": 2}


class ColdStart(H.ClusterCase):
    def test_first_distribution_waits_for_quiet(self):
        started = time.monotonic()
        for name in ("n1", "n2", "n3"):
            self.start_node(name, coordination=COLD)
            time.sleep(0.5)
        last_join = time.monotonic()
        self.assertEqual(self.scalar("SELECT count(*) FROM @token WHERE node IS NOT NULL"), 0,
                         "tokens were handed out while nodes were still arriving")
        self.expect_balanced(["n1", "n2", "n3"], 15, "the held first distribution")
        waited = time.monotonic() - last_join
        H.report("cold start: last join to first distribution (quiet 2 s)", waited)
        self.assertGreaterEqual(waited, 1.0, "the distribution did not wait for quiet")
        self.assertLess(time.monotonic() - started, COLD["wait_on_enter"] + 5)
        rows = self.q("SELECT trigger_reason, nodes_before, nodes_after, tokens_moved "
                      "FROM @rebalance ORDER BY id")
        self.assertEqual(rows, [("initial", 0, 3, 10000)],
                         "one initial distribution over all three nodes expected")
        self.assert_shares(["n1", "n2", "n3"])

    def test_wait_on_enter_bounds_the_wait(self):
        """Nodes keep joining faster than the quiet period: wait_on_enter ends the wait."""
        coord = {"wait_on_enter": 3, "cold_start_quiet_sec": 10}
        t = time.monotonic()
        self.start_node("n1", coordination=coord)
        H.wait_until(lambda: self.scalar(
            "SELECT count(*) FROM @token WHERE node IS NOT NULL") == 10000, 15,
            "the distribution after wait_on_enter")
        total = time.monotonic() - t
        H.report("cold start: wait_on_enter 3 s to first distribution", total)
        self.assertGreaterEqual(total, 2.5, "distributed before wait_on_enter passed")
        self.assertLess(total, 3 + 5)


if __name__ == "__main__":
    H.main()
