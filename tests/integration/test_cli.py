#!/usr/bin/env python3
"""test_cli.py: the one-shot subcommands: token, init-db, config check, and a node with
coordination disabled (no database at all)."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

VECTORS_10000 = {"0": 7850, "1": 8411, "123": 5808, "task-1": 8390, "abc-def-ghi": 3218}
VECTORS_100 = {"0": 50, "1": 11, "123": 8}
TABLES = ("meta", "node", "token", "lock", "claim", "audit", "rebalance")


def parse_token_lines(text):
    out = {}
    for line in text.splitlines():
        if line.strip():
            task, _, tok = line.partition("\t")
            out[task] = int(tok)
    return out


class TokenCli(H.ClusterCase):
    def test_token_vectors(self):
        r = H.run_cli(["token", "0", "1", "123"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "0\t7850\n1\t8411\n123\t5808\n")
        r = H.run_cli(["token"] + list(VECTORS_10000))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(parse_token_lines(r.stdout), VECTORS_10000)

    def test_token_with_config_total(self):
        cfg = self.config("n1", coordination={"total_tokens": 100})
        r = H.run_cli(["token", "-c", cfg] + list(VECTORS_100))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(parse_token_lines(r.stdout), VECTORS_100)

    def test_version_and_usage(self):
        r = H.run_cli(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^jobsync \d+\.\d+")
        r = H.run_cli(["no-such-command"])
        self.assertEqual(r.returncode, H.EXIT_USAGE, r.stderr)
        self.assertIn("no-such-command", r.stderr)


class InitDb(H.ClusterCase):
    def check_schema(self):
        for t in TABLES:
            self.assertTrue(self.db.table_exists(self.t(t)), "table %s missing" % self.t(t))
        self.assertEqual(self.one("SELECT count(*), min(token_id), max(token_id), count(node) FROM @token"),
                         (10000, 0, 9999, 0))
        self.assertEqual(self.scalar("SELECT total_tokens FROM @meta WHERE id = 1"), 10000)
        for task, tok in VECTORS_10000.items():
            self.assertEqual(self.token_of(task), tok, "sync_token_of(%r)" % task)

    def test_init_db_idempotent(self):
        for _ in range(2):
            r = H.run_cli(["init-db", "--dsn", self.dsn])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_schema()
        # Operators' SQL of the guide keeps working on the fresh schema.
        self.q("SELECT name, created_on, last_heartbeat FROM @node")
        self.q("SELECT token_id, node, assigned_at, version FROM @token LIMIT 1")
        self.q("SELECT token_id, node_pattern, reason, created_at, created_by, expires_at FROM @lock")
        self.q("SELECT triggered_at, trigger_reason, leader_node, nodes_before, nodes_after, "
               "tokens_moved, duration_ms FROM @rebalance")

    def test_init_db_concurrent(self):
        """Four init-db at once on an empty database: all succeed, one schema."""
        procs = [subprocess.Popen([H.JOBSYNC, "init-db", "--dsn", self.dsn], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(4)]
        for p in procs:
            out, _ = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out)
        self.check_schema()


class ConfigCheck(H.ClusterCase):
    def test_good_file(self):
        cfg = self.config("n1", extra="[lock.pin]\ntasks = a, b\npattern = n2%\n")
        r = H.run_cli(["config", "check", cfg])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_unknown_key(self):
        text = H.ini_text(self.dsn, "n1")
        lines = text.splitlines()
        lines.insert(5, "bogus_key = 1")          # line 6 of the file, in [cluster]
        path = H.write_file(os.path.join(self.dir, "bad.ini"), "\n".join(lines) + "\n")
        r = H.run_cli(["config", "check", path])
        self.assertEqual(r.returncode, H.EXIT_CONFIG, r.stdout + r.stderr)
        self.assertIn("%s:6:" % path, r.stdout + r.stderr)
        self.assertIn("bogus_key", r.stdout + r.stderr)

    def test_run_refuses_bad_config(self):
        path = H.write_file(os.path.join(self.dir, "bad.ini"),
                            H.ini_text(self.dsn, "n1", coordination={"no_such_key": 3}))
        node = self.start_node("n1", config=path, wait_registered=False)
        self.assertEqual(node.wait(15), H.EXIT_CONFIG, node.tail())
        self.assertIn("no_such_key", node.output())
        self.assertFalse(self.db.table_exists(self.t("node")), "a bad config touched the database")


class CoordinationDisabled(H.ClusterCase):
    def test_runs_without_database(self):
        path = H.write_file(os.path.join(self.dir, "solo.ini"),
                            H.ini_text("", "solo", coordination={"enabled": "false"}))
        node = self.start_node("solo", config=path, wait_registered=False)
        # It must stay up (no database to fail on) until told to stop.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            self.assertTrue(node.alive(), "exited with %s:\n%s" % (node.proc.returncode, node.tail()))
            time.sleep(0.1)
        t = time.monotonic()
        node.send(signal.SIGTERM)
        self.assertEqual(node.wait(10), 0, node.tail())
        H.report("coordination off: SIGTERM to exit", time.monotonic() - t)


if __name__ == "__main__":
    H.main()
