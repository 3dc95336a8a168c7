#!/usr/bin/env python3
"""test_locks.py: [lock.NAME] sections, `jobsync lock add/list/clear`, and locks whose
pattern matches no live node (token left unowned and reported)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

LOCK_GOAL, LOCK_ASSERT = 1.0, 4.0


class Locks(H.ClusterCase):
    def locked_tokens(self):
        return {r[0] for r in self.q("SELECT DISTINCT token_id FROM @lock")}

    def owner(self, token):
        return self.scalar("SELECT node FROM @token WHERE token_id = %s", token)

    def unlocked_balanced(self, names):
        """Every token owned by a live node, unlocked counts within one (SPEC G6)."""
        rows = self.q("SELECT t.node, count(*) FROM @token t WHERE NOT EXISTS "
                      "(SELECT 1 FROM @lock l WHERE l.token_id = t.token_id) GROUP BY t.node")
        counts = dict(rows)
        if set(counts) != set(names):
            return False
        return max(counts.values()) - min(counts.values()) <= 1

    def tasks_not_owned_by(self, node, n, prefix):
        """n task ids whose tokens are distinct, unlocked and currently not owned by node."""
        out, seen, i = [], self.locked_tokens(), 0
        while len(out) < n:
            task = "%s%d" % (prefix, i)
            i += 1
            tok = self.token_of(task)
            if tok in seen or self.owner(tok) == node:
                continue
            seen.add(tok)
            out.append((task, tok))
        return out

    def lock_cli(self, *args, input=None, ok=True):
        r = H.run_cli(["lock"] + list(args) + ["--dsn", self.dsn], input=input)
        if ok:
            self.assertEqual(r.returncode, 0, "jobsync lock %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def lock_list(self):
        r = self.lock_cli("list", "--json")
        data = json.loads(r.stdout)
        if isinstance(data, dict):  # tolerate {"locks": [...]}
            data = data.get("locks", data)
        self.assertIsInstance(data, list, r.stdout)
        return data

    def test_config_lock_section(self):
        extra = "[lock.pin]\ntasks = a, b\npattern = n2%\nreason = pinned by test\n"
        self.start_node("n1", extra=extra)
        self.start_node("n2")
        self.start_node("n3")
        toks = [self.token_of("a"), self.token_of("b")]
        H.wait_until(lambda: all(self.owner(t) == "n2" for t in toks) and
                     self.unlocked_balanced(["n1", "n2", "n3"]), 20,
                     "tokens %s of tasks a, b to be pinned to n2" % toks)
        rows = self.q("SELECT token_id, node_pattern FROM @lock ORDER BY token_id")
        self.assertEqual(sorted(rows), sorted((t, "n2%") for t in toks))
        self.assertEqual(self.scalar("SELECT count(*) FROM @token WHERE node IS NULL"), 0)

    def test_cli_add_list_clear(self):
        self.start_cluster(["n1", "n2", "n3"])
        # add TASK PATTERN: the leader moves the token within about a second.
        (task, tok), = self.tasks_not_owned_by("n3", 1, "x")
        self.lock_cli("add", task, "n3", "--reason", "integration")
        el = H.wait_until(lambda: self.owner(tok) == "n3", LOCK_ASSERT,
                          "token %d of %s to move to n3" % (tok, task))
        H.report("lock change: lock add to token moved (goal %.0f s)" % LOCK_GOAL, el)
        entries = [e for e in self.lock_list() if e.get("token_id") == tok]
        self.assertEqual(len(entries), 1, entries)
        self.assertEqual(entries[0].get("node_pattern"), "n3", entries)
        self.assertEqual(entries[0].get("reason"), "integration", entries)
        self.assertEqual(entries[0].get("task"), task, entries)
        r = H.run_cli(["lock", "list", "--dsn", self.dsn])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(str(tok), r.stdout)

        # add --file - PATTERN (stdin), and --file F with -c FILE.
        bulk = self.tasks_not_owned_by("n1", 3, "s")
        self.lock_cli("add", "--file", "-", "n1", input="".join(t + "\n" for t, _ in bulk))
        path = H.write_file(os.path.join(self.dir, "tasks.txt"), "f0\nf1\n")
        ftoks = [self.token_of("f0"), self.token_of("f1")]
        r = H.run_cli(["lock", "add", "--file", path, "n2", "-c", self.config("n1")])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        H.wait_until(lambda: all(self.owner(t) == "n1" for _, t in bulk) and
                     all(self.owner(t) == "n2" for t in ftoks), LOCK_ASSERT,
                     "bulk-locked tokens to move")
        self.assertTrue(self.unlocked_balanced(["n1", "n2", "n3"]), self.token_counts())

        # clear --task, --token, --creator, --all.
        self.lock_cli("clear", "--task", task)
        self.assertNotIn(tok, self.locked_tokens())
        self.lock_cli("clear", "--token", str(bulk[0][1]))
        self.assertNotIn(bulk[0][1], self.locked_tokens())
        creators = {e.get("created_by") for e in self.lock_list()}
        self.assertTrue(creators)
        creator = sorted(c for c in creators if c)[0]
        self.lock_cli("clear", "--creator", creator)
        self.assertFalse([e for e in self.lock_list() if e.get("created_by") == creator])
        self.lock_cli("clear", "--all")
        self.assertEqual(self.scalar("SELECT count(*) FROM @lock"), 0)
        self.expect_balanced(["n1", "n2", "n3"], LOCK_ASSERT, "rebalance after clear --all")

    def test_unmatched_lock_leaves_token_unowned(self):
        self.start_cluster(["n1", "n2"])
        tok = self.token_of("zz")
        self.lock_cli("add", "zz", "gpu%")
        el = H.wait_until(lambda: self.owner(tok) is None, LOCK_ASSERT,
                          "token %d locked to gpu%% to be unowned" % tok)
        H.report("lock to no live node: token unowned", el)
        self.assertEqual(self.scalar("SELECT count(*) FROM @token WHERE node IS NULL"), 1)
        r = H.run_cli(["status", "--json", "--dsn", self.dsn])
        self.assertEqual(r.returncode, 0, r.stderr)
        unowned = json.loads(r.stdout)["unowned_tokens"]
        self.assertGreaterEqual(unowned["count"], 1, unowned)
        locked = unowned["locked"]
        if isinstance(locked, list):
            ids = [x.get("token_id") if isinstance(x, dict) else x for x in locked]
            self.assertIn(tok, ids, unowned)
        else:
            self.assertGreaterEqual(locked, 1, unowned)
        # A matching node appears: the token goes to it.
        self.start_node("gpu1")
        el = H.wait_until(lambda: self.owner(tok) == "gpu1" and
                          self.unlocked_balanced(["n1", "n2", "gpu1"]), LOCK_ASSERT,
                          "the locked token to go to gpu1")
        H.report("locked token to a newly joined matching node", el)
        self.lock_cli("clear", "--all")
        self.expect_balanced(["n1", "n2", "gpu1"], LOCK_ASSERT)


if __name__ == "__main__":
    H.main()
