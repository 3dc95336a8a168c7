#!/usr/bin/env python3
"""test_chaos.py: a seeded random sequence of SIGKILL (followers and leader), SIGTERM,
SIGSTOP past the timeout, and joins; after each step the cluster must converge: the
oldest live node leads, every token is owned by a live node, counts within one, terms
and token versions never go back. JOBSYNC_CHAOS_SEED and JOBSYNC_CHAOS_STEPS override."""

import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

STEP_ASSERT = 10.0


class Chaos(H.ClusterCase):
    def test_random_membership_changes(self):
        seed = int(os.environ.get("JOBSYNC_CHAOS_SEED", "0") or 0) or random.randrange(1, 1 << 30)
        steps = int(os.environ.get("JOBSYNC_CHAOS_STEPS", "10"))
        rnd = random.Random(seed)
        H.log("chaos seed %d (JOBSYNC_CHAOS_SEED=%d reproduces), %d steps" % (seed, seed, steps))
        live = {}        # name -> Node, in age order (dicts keep insertion order)
        seq = [0]

        def join():
            seq[0] += 1
            name = "c%d" % seq[0]
            live[name] = self.start_node(name)
            return "join %s" % name

        for _ in range(4):
            join()
        self.expect_balanced(list(live), 20)
        last_term, last_version = self.meta()[1], self.meta()[2]
        worst = {}
        for i in range(steps):
            names = list(live)
            choices = ["join"] if len(names) < 3 else ["join", "kill", "kill_leader", "term", "stop"]
            if len(names) >= 5:
                choices.remove("join")
            action = rnd.choice(choices)
            victim = None
            t = time.monotonic()
            if action == "join":
                what = join()
            else:
                victim = names[0] if action == "kill_leader" else rnd.choice(names[1:])
                node = live.pop(victim)
                what = "%s %s" % (action, victim)
                if action in ("kill", "kill_leader"):
                    node.kill_group(signal.SIGKILL)
                elif action == "term":
                    node.send(signal.SIGTERM)
                else:
                    node.kill_group(signal.SIGSTOP)
            expect = list(live)

            def converged():
                if not self.balanced_over(expect):
                    return False
                if self.live_nodes() != expect:
                    return False
                return self.meta()[0] == expect[0]
            try:
                el = H.wait_until(converged, STEP_ASSERT, "step %d (%s) to converge over %s"
                                  % (i, what, expect))
            finally:
                if action == "stop":
                    node.kill_group(signal.SIGKILL)
            worst[action] = max(worst.get(action, 0), el)
            H.log("step %d: %s -> converged in %.2f s (%.2f s since the event)"
                  % (i, what, el, time.monotonic() - t))
            if action == "term":
                self.assertEqual(node.wait(10), 0, node.tail())
            _, term, version = self.meta()
            self.assertGreaterEqual(term, last_term, "term went back")
            self.assertGreaterEqual(version, last_version, "token_version went back")
            if action == "kill_leader":
                self.assertGreater(term, last_term, "a new leader without a new term")
            last_term, last_version = term, version
            self.assert_alive(*live.values())
        for action, el in sorted(worst.items()):
            H.report("chaos worst %s to converged" % action, el)


if __name__ == "__main__":
    H.main()
