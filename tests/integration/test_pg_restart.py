#!/usr/bin/env python3
"""test_pg_restart.py: nodes survive `pg_ctl restart -m fast`, reconnect, LISTEN again and
converge (all tokens owned by live nodes, one leader, balanced, heartbeats fresh)."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

CONVERGE_ASSERT = 30.0


class PgRestart(H.ClusterCase):
    def converged(self, names, since):
        if not self.balanced_over(names):
            return False
        leader = self.meta()[0]
        if leader != names[0]:
            return False
        fresh = self.q("SELECT name FROM @node WHERE last_heartbeat > %s", since)
        return sorted(r[0] for r in fresh) == sorted(names)

    def test_survive_restart(self):
        names = ["n1", "n2", "n3"]
        nodes = self.start_cluster(names)
        since = self.scalar("SELECT now()")
        t = time.monotonic()
        self.pg.restart("fast")
        H.report("pg_ctl restart -m fast took", time.monotonic() - t)
        el = H.wait_until(lambda: self.converged(names, since), CONVERGE_ASSERT,
                          "the cluster to converge after the restart")
        el = time.monotonic() - t
        H.report("PostgreSQL restart: restart to converged", el)
        self.assert_alive(*nodes)
        self.assertEqual(sorted(self.live_nodes()), names)
        # Reconnected nodes LISTEN again: a graceful leave is seen promptly.
        nodes[2].send(signal.SIGTERM)
        el = H.wait_until(lambda: self.balanced_over(names[:2]) and not self.registered("n3"),
                          4, "n3's leave to be handled after the restart")
        H.report("graceful leave after PostgreSQL restart", el)
        self.assertEqual(nodes[2].wait(10), 0, nodes[2].tail())
        # And a second restart, immediate this time (crash-like).
        since = self.scalar("SELECT now()")
        t = time.monotonic()
        self.pg.restart("immediate")
        H.wait_until(lambda: self.converged(names[:2], since), CONVERGE_ASSERT,
                     "the cluster to converge after an immediate restart")
        H.report("PostgreSQL restart -m immediate: restart to converged", time.monotonic() - t)
        self.assert_alive(*nodes[:2])


if __name__ == "__main__":
    H.main()
