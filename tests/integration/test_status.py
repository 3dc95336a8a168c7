#!/usr/bin/env python3
"""test_status.py: the shape and truth of `jobsync status --json` and `jobsync status`."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

CLUSTER_KEYS = {"prefix", "total_tokens", "term", "leader", "token_version"}
NODE_KEYS = {"name", "alive", "heartbeat_age_sec", "created_on", "site", "host", "pid",
             "draining", "leader", "tokens", "percent"}
LOCK_KEYS = {"token_id", "node_pattern", "task", "reason", "created_by", "created_at",
             "expires_at", "owner", "state"}
UNOWNED_KEYS = {"count", "locked", "sample"}
REBALANCE_KEYS = {"triggered_at", "trigger_reason", "leader_node", "nodes_before",
                  "nodes_after", "tokens_moved", "duration_ms"}


class Status(H.ClusterCase):
    def keys(self, obj, expected, what):
        self.assertIsInstance(obj, dict, what)
        missing = expected - set(obj)
        self.assertFalse(missing, "%s lacks %s: %r" % (what, sorted(missing), obj))

    def test_status_json(self):
        nodes = self.start_cluster(["n1", "n2", "n3"])
        r = H.run_cli(["lock", "add", "st-1", "n2", "--dsn", self.dsn, "--reason", "status"])
        self.assertEqual(r.returncode, 0, r.stderr)
        tok = self.token_of("st-1")
        H.wait_until(lambda: self.scalar("SELECT node FROM @token WHERE token_id = %s", tok) == "n2",
                     4, "the lock to apply")
        cfg = nodes[0].config
        r = H.run_cli(["status", "--json", "-c", cfg])
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)
        self.keys(st, {"cluster", "nodes", "locks", "unowned_tokens", "rebalances"}, "status")
        self.keys(st["cluster"], CLUSTER_KEYS, "cluster")
        leader, term, version = self.meta()
        c = st["cluster"]
        self.assertEqual((c["prefix"], c["total_tokens"], c["leader"], c["term"]),
                         ("sync_", 10000, leader, term), c)
        self.assertIsInstance(c["token_version"], int)

        self.assertEqual(sorted(n["name"] for n in st["nodes"]), ["n1", "n2", "n3"])
        counts = self.token_counts()
        for n in st["nodes"]:
            self.keys(n, NODE_KEYS, "node")
            self.assertIs(n["alive"], True, n)
            self.assertIs(n["draining"], False, n)
            self.assertEqual(n["leader"], n["name"] == leader, n)
            self.assertEqual(n["tokens"], counts[n["name"]], n)
            self.assertAlmostEqual(float(n["percent"]), 100.0 * counts[n["name"]] / 10000, delta=0.1)
            self.assertLess(float(n["heartbeat_age_sec"]), 3.0, n)
        self.assertEqual(sorted(n["pid"] for n in st["nodes"]), sorted(x.pid for x in nodes))

        locks = [lk for lk in st["locks"] if lk.get("token_id") == tok]
        self.assertEqual(len(locks), 1, st["locks"])
        self.keys(locks[0], LOCK_KEYS, "lock")
        self.assertEqual((locks[0]["node_pattern"], locks[0]["task"], locks[0]["reason"],
                          locks[0]["owner"]), ("n2", "st-1", "status", "n2"), locks[0])

        self.keys(st["unowned_tokens"], UNOWNED_KEYS, "unowned_tokens")
        self.assertEqual(st["unowned_tokens"]["count"], 0, st["unowned_tokens"])
        self.assertIsInstance(st["rebalances"], list)
        self.assertTrue(st["rebalances"], "no rebalances listed")
        for rb in st["rebalances"]:
            self.keys(rb, REBALANCE_KEYS, "rebalance")
            self.assertIn(rb["trigger_reason"], ("initial", "join", "leave", "dead", "lock", "manual"))

        # The text form names every node and the leader.
        r = H.run_cli(["status", "-c", cfg])
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("n1", "n2", "n3"):
            self.assertIn(name, r.stdout)


if __name__ == "__main__":
    H.main()
