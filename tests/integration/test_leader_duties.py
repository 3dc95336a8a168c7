#!/usr/bin/env python3
"""test_leader_duties.py: the leader prunes history past retention_days, removes expired
locks (their tokens rejoin the balance), and reconciles tokens edited by hand; followers
poll for token changes when no NOTIFY comes."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402


class LeaderDuties(H.ClusterCase):
    def test_prune_history_past_retention(self):
        H.run_cli(["init-db", "--dsn", self.dsn])
        self.q("INSERT INTO @rebalance (triggered_at, trigger_reason, leader_node, nodes_before,"
               " nodes_after, tokens_moved, duration_ms) VALUES"
               " (now() - interval '40 days', 'join', 'old', 1, 2, 5000, 3),"
               " (now() - interval '2 days', 'join', 'recent', 1, 2, 5000, 3)")
        self.q("INSERT INTO @audit (item, date, node) VALUES ('old', current_date - 40, 'x'),"
               " ('new', current_date, 'x')")
        self.start_node("n1", coordination={"retention_days": 30})
        H.wait_until(lambda: self.scalar(
            "SELECT count(*) FROM @rebalance WHERE leader_node = 'old'") == 0, 10,
            "the 40-day-old rebalance row to be pruned")
        self.assertEqual(self.scalar("SELECT count(*) FROM @rebalance WHERE leader_node = 'recent'"), 1)
        self.assertEqual([r[0] for r in self.q("SELECT item FROM @audit")], ["new"])

    def test_expired_lock_is_removed_and_rebalanced(self):
        self.start_cluster(["n1", "n2"])
        token = self.token_of("pinned")
        H.run_cli(["lock", "add", "pinned", "nobody%", "--dsn", self.dsn])
        H.wait_until(lambda: self.scalar("SELECT node FROM @token WHERE token_id = %s", token)
                     is None, 10, "the lock matching nobody to unown its token")
        self.q("UPDATE @lock SET expires_at = now() - interval '1 second'")
        el = H.wait_until(lambda: self.scalar("SELECT count(*) FROM @lock") == 0 and
                          self.balanced_over(["n1", "n2"]), 10,
                          "the expired lock to go and its token to be owned again")
        H.report("expired lock removed and token re-owned", el)
        reasons = [r[1] for r in self.rebalances_since(0)]
        self.assertEqual(reasons.count("lock"), 2, reasons)

    def test_tokens_edited_by_hand_are_reconciled(self):
        """The leader trusts its cache within a term, and rereads the token table every
        rebalance_check_interval_sec, so hand edits are repaired."""
        coord = {"rebalance_check_interval_sec": 2}
        for name in ("n1", "n2"):
            self.start_node(name, coordination=coord)
        self.expect_balanced(["n1", "n2"], 10)
        last = self.last_rebalance_id()
        self.q("UPDATE @token SET node = NULL WHERE token_id < 100")
        el = self.expect_balanced(["n1", "n2"], 10, "the orphaned tokens to be owned again")
        H.report("hand-orphaned tokens reconciled (check interval 2 s)", el)
        rows = self.rebalances_since(last)
        self.assertEqual([(r[1], r[5]) for r in rows], [("manual", 100)], rows)

    def test_follower_polls_token_changes_without_notify(self):
        """A token change written without NOTIFY reaches a follower through its fallback
        poll (token_refresh_steady_interval_sec = 2), long before its next heartbeat."""
        coord = {"heartbeat_interval_sec": 10, "heartbeat_timeout_sec": 30,
                 "token_refresh_steady_interval_sec": 2}
        # n3 is neither the leader nor the heir: only its poll (which heartbeats do not
        # replace here, as they come less often) or its heartbeat, 10 s apart, can bring
        # the change.
        for name in ("n1", "n2"):
            self.start_node(name, coordination=coord)
        n3 = self.start_node("n3", coordination=coord)
        self.expect_balanced(["n1", "n2", "n3"], 10)
        H.wait_until(lambda: "now 3333 of 10000" in n3.output(), 10, "n3 to take its share")
        token = self.scalar("SELECT min(token_id) FROM @token WHERE node = 'n1'")
        self.q("WITH v AS (UPDATE @meta SET token_version = token_version + 1 WHERE id = 1"
               " RETURNING token_version)"
               " UPDATE @token SET node = 'n3', version = v.token_version FROM v"
               " WHERE token_id = %s", token)
        el = H.wait_until(lambda: "tokens: +1 -0, now 3334" in n3.output(), 8,
                          "n3 to see the silent change by polling")
        H.report("silent token change seen by the fallback poll (interval 2 s)", el)
        self.assertLess(el, 5.0)


if __name__ == "__main__":
    H.main()
