#!/usr/bin/env python3
"""test_refusals.py: nodes that must not join: a total_tokens that differs from the
cluster's (78), a name in use by a live node (75); an unreachable database for the CLI (69)."""

import os
import signal
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402


class Refusals(H.ClusterCase):
    def test_total_tokens_mismatch(self):
        n1 = self.start_node("n1")
        self.expect_balanced(["n1"], 10)
        bad = self.start_node("n9", coordination={"total_tokens": 100}, wait_registered=False)
        code = bad.wait(15)
        err = bad.output()
        self.assertEqual(code, H.EXIT_CONFIG, err)
        self.assertIn("total_tokens", err)
        self.assertRegex(err, r"\b100\b")
        self.assertRegex(err, r"\b10000\b")
        self.assertFalse(self.registered("n9"))
        self.assertEqual(self.scalar("SELECT total_tokens FROM @meta"), 10000)
        self.assertEqual(self.scalar("SELECT count(*) FROM @token"), 10000)
        self.assertTrue(self.balanced_over(["n1"]))
        self.assert_alive(n1)

    def test_name_in_use(self):
        n1 = self.start_node("n1")
        self.expect_balanced(["n1"], 10)
        inc = self.scalar("SELECT incarnation FROM @node WHERE name = 'n1'")
        dup = self.start_node("n1", config=self.config("n1", filename="n1-dup.ini"),
                              wait_registered=False)
        code = dup.wait(15)
        err = dup.output()
        self.assertEqual(code, H.EXIT_TEMPFAIL, err)
        self.assertRegex(err, re.compile(r"in use", re.I))
        self.assertRegex(err, re.compile(r"live", re.I))
        self.assertEqual(self.scalar("SELECT incarnation FROM @node WHERE name = 'n1'"), inc,
                         "the refused duplicate replaced the live node's row")
        # The live node is unharmed: it keeps heartbeating and owning everything.
        hb = self.scalar("SELECT last_heartbeat FROM @node WHERE name = 'n1'")
        H.wait_until(lambda: self.scalar("SELECT last_heartbeat FROM @node WHERE name = 'n1'") > hb,
                     4, "n1 to keep heartbeating")
        self.assertTrue(self.balanced_over(["n1"]))
        self.assert_alive(n1)

    def test_cli_database_unavailable(self):
        dsn = "host=%s port=1 dbname=nowhere user=postgres connect_timeout=3" % self.dir
        r = H.run_cli(["status", "--json", "--dsn", dsn])
        self.assertEqual(r.returncode, H.EXIT_UNAVAILABLE, r.stdout + r.stderr)
        self.assertTrue(r.stderr.strip(), "no message on stderr")

    def test_passwords_never_logged(self):
        """An unreachable database with a password in the dsn: the node keeps retrying,
        and neither its log nor the CLI's message shows the password."""
        port = H.free_port()
        dsn = "host=127.0.0.1 port=%d dbname=nowhere user=u password='hunter2 x'" % port
        node = self.start_node("n1", wait_registered=False, cluster={"dsn": dsn},
                               coordination={"connect_timeout_sec": 1, "reconnect_max_sec": 1})
        H.wait_until(lambda: node.output().count("reconnecting in") >= 2, 10,
                     "two failed connection attempts")
        node.send(signal.SIGTERM)
        self.assertEqual(node.wait(10), 0, node.tail())
        out = node.output()
        self.assertNotIn("hunter2", out)
        self.assertIn("password=***", out)
        r = H.run_cli(["status", "--dsn", dsn])
        self.assertEqual(r.returncode, H.EXIT_UNAVAILABLE, r.stdout + r.stderr)
        self.assertNotIn("hunter2", r.stdout + r.stderr)
        url = "postgresql://u:hunter2@127.0.0.1:%d/nowhere" % port
        r = H.run_cli(["lock", "list", "--dsn", url])
        self.assertEqual(r.returncode, H.EXIT_UNAVAILABLE, r.stdout + r.stderr)
        self.assertNotIn("hunter2", r.stdout + r.stderr)


if __name__ == "__main__":
    H.main()
