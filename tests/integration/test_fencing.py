#!/usr/bin/env python3
"""test_fencing.py: G4 self-fencing and G5 term fencing under a network partition.

A node reaches PostgreSQL through a proxy (netsplit.py) that the test cuts: the node's
session stays open on the server, so only the heartbeat timeout can declare it dead. The
node must fence itself (stop acting as an owner, and as leader) before the others take its
tokens, and rejoin as a new incarnation once the network heals.
"""

import datetime
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from netsplit import NetSplit, pg_unix_path  # noqa: E402

TIMEOUT = 3
FENCE_AFTER = 1.5      # max(timeout - 2, 1.5 x interval) with interval 1, timeout 3
ASSERT = 10.0


def log_time(node, pattern):
    """Wall-clock time (epoch seconds) of the first log line of node matching pattern."""
    for line in node.output().splitlines():
        if re.search(pattern, line):
            stamp = line.split(" ", 1)[0]
            when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
            return when.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


class Fencing(H.ClusterCase):
    def split_node(self, name):
        """Start node `name` connected through a fresh proxy; returns (node, proxy)."""
        proxy = NetSplit(pg_unix_path(self.pg))
        self.addCleanup(proxy.close)
        dsn = "host=127.0.0.1 port=%d dbname=%s user=postgres" % (proxy.port, self.dbname)
        node = self.start_node(name, cluster={"dsn": dsn},
                               coordination={"connect_timeout_sec": 2, "reconnect_max_sec": 2})
        return node, proxy

    def test_partitioned_follower_fences_before_takeover(self):
        n1 = self.start_node("n1")
        self.expect_balanced(["n1"], 15)
        n2, proxy = self.split_node("n2")
        self.expect_balanced(["n1", "n2"], 15)
        inc0 = self.scalar("SELECT incarnation FROM @node WHERE name = 'n2'")
        cut = time.time()
        proxy.cut()
        el = self.expect_balanced(["n1"], ASSERT, "n1 to take the partitioned n2's tokens")
        moved_at = cut + el
        H.report("partition: cut to tokens reassigned (goal <= %d s)" % (TIMEOUT + 1), el)
        self.assertGreaterEqual(el, TIMEOUT - 1 - 0.5, "tokens moved before n2's heartbeat "
                                "timeout although its session stayed open (%.2f s)" % el)
        H.wait_until(lambda: log_time(n2, "self-fencing") is not None, ASSERT,
                     "n2 to log its self-fencing")
        fenced_at = log_time(n2, "self-fencing")
        H.report("partition: cut to self-fenced (goal %.1f s)" % FENCE_AFTER, fenced_at - cut)
        self.assertLess(fenced_at, moved_at,
                        "n2 fenced itself %.2f s after the others took its tokens"
                        % (fenced_at - moved_at))
        self.assertLess(fenced_at - cut, FENCE_AFTER + 1.5, "self-fencing came late")
        proxy.heal()
        healed = time.time()

        def rejoined():
            inc = self.scalar("SELECT incarnation FROM @node WHERE name = 'n2'")
            return inc is not None and inc != inc0 and self.balanced_over(["n1", "n2"])
        H.wait_until(rejoined, 30, "n2 to rejoin as a new incarnation after the heal")
        H.report("partition: heal to rejoined and balanced", time.time() - healed)
        self.assert_alive(n1, n2)

    def test_stream_pool_restarts_after_fence(self):
        """A stream-mode node stops its pool when it fences itself, and starts it again
        once it is back: it runs tasks again after the heal."""
        stream = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers", "stream.sh")
        record = os.path.join(self.dir, "record.log")
        extra = ("[tasks]\nsource = range\nrange = 1-400\npoll_interval_sec = 2\n\n"
                 "[worker]\nmode = stream\ncommand = %s\nprocs = 2\ninflight = 2\n" % stream)
        env = {"RECORD": record, "WORK_SLEEP": "0.1"}
        n1 = self.start_node("n1", extra=extra, env=env)
        proxy = NetSplit(pg_unix_path(self.pg))
        self.addCleanup(proxy.close)
        dsn = "host=127.0.0.1 port=%d dbname=%s user=postgres" % (proxy.port, self.dbname)
        n2 = self.start_node("n2", cluster={"dsn": dsn}, extra=extra, env=env,
                             coordination={"connect_timeout_sec": 2, "reconnect_max_sec": 2})
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit WHERE node = 'n2'") >= 5,
                     30, "n2 to finish some tasks")
        proxy.cut()
        H.wait_until(lambda: log_time(n2, "self-fencing") is not None, ASSERT,
                     "n2 to log its self-fencing")
        proxy.heal()
        healed = self.scalar("SELECT now()")
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit WHERE node = 'n2' AND "
                                         "created_on > %s", healed) >= 5, 60,
                     "n2 to run tasks again after the heal")
        H.wait_until(lambda: self.scalar("SELECT count(*) FROM @audit") == 400, 120,
                     "every task done")
        self.assertEqual(self.scalar("SELECT count(DISTINCT item) FROM @audit"), 400)
        self.assert_alive(n1, n2)

    def test_partitioned_leader_is_replaced_and_fenced_by_term(self):
        n1, proxy = self.split_node("n1")
        self.expect_balanced(["n1"], 15)
        n2 = self.start_node("n2")
        n3 = self.start_node("n3")
        self.expect_balanced(["n1", "n2", "n3"], 15)
        H.wait_until(lambda: self.meta()[0] == "n1", 10, "n1 to lead")
        term0 = self.meta()[1]
        last = self.last_rebalance_id()
        proxy.cut()
        el = H.wait_until(lambda: self.meta()[0] == "n2" and self.balanced_over(["n2", "n3"]),
                          ASSERT, "n2 to lead and n1's tokens to move")
        H.report("partitioned leader: cut to new leader balanced (goal <= %d s)" % (TIMEOUT + 1), el)
        self.assertEqual(self.meta()[1], term0 + 1, "the new leader must start a new term")
        H.wait_until(lambda: log_time(n1, "self-fencing") is not None, ASSERT,
                     "n1 to log its self-fencing")
        proxy.heal()
        H.wait_until(lambda: self.balanced_over(["n1", "n2", "n3"]), 30,
                     "n1 to rejoin after the heal")
        # Every distribution after the cut was written by n2 in the new term (G5).
        rows = self.q("SELECT leader_node, term FROM @rebalance WHERE id > %s", last)
        self.assertTrue(rows)
        for leader, term in rows:
            self.assertEqual((leader, term), ("n2", term0 + 1), rows)
        self.assertEqual(self.meta()[0], "n2", "the rejoined n1 is younger: n2 keeps leading")
        self.assert_alive(n1, n2, n3)


if __name__ == "__main__":
    H.main()
