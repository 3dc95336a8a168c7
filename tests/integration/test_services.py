#!/usr/bin/env python3
"""test_services.py: [service.NAME] cluster singletons (SPEC section 6, G5): run on the
leader only, with JOBSYNC_LEADER=1 and the term; moved to the new leader after a SIGKILL
(the old one dies with its node) or a graceful SIGTERM (stopped before the new one starts);
restart policy, FATAL and no_restart_exit; an essential service's FATAL ends the node; and
a service without coordination (no database)."""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")
SERVICE = os.path.join(WORKERS, "service.sh")
TIMEOUT = 3            # heartbeat_timeout_sec of the test INI
GOAL = TIMEOUT + 1     # a new leader's service within heartbeat_timeout_sec + 1 s
ASSERT = 6.0           # asserted with a margin on a loaded machine


def read_record(path):
    """[(kind, node, pid, term or None, ns, leader, service)] from service.sh's record."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) >= 7 and p[0] == "START":
                out.append(("START", p[1], int(p[2]), int(p[3]), int(p[4]), p[5], p[6]))
            elif len(p) >= 4 and p[0] == "STOP":
                out.append(("STOP", p[1], int(p[2]), None, int(p[3]), None, None))
    return out


def starts(rec, node=None, term=None):
    return [r for r in read_record(rec) if r[0] == "START" and (node is None or r[1] == node)
            and (term is None or r[3] == term)]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def service_pids(rec):
    """Pids of live service.sh processes writing to rec (found by their command line). A
    child bash just forked for `sleep` shares its parent's command line until it execs:
    processes whose parent matches too are not counted."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                stat = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if any(a.endswith(b"service.sh") for a in argv) and rec.encode() in argv \
                and stat[0] != "Z":
            found[int(d)] = int(stat[1])
    return sorted(pid for pid, ppid in found.items() if ppid not in found)


class Services(H.ClusterCase):
    def service_ini(self, rec, name="pub", args="", **keys):
        text = "[service.%s]\ncommand = %s %s %s\nstop_timeout_sec = 5\n" % (name, SERVICE, rec, args)
        return text + "".join("%s = %s\n" % kv for kv in keys.items())

    def cluster(self, names, extra):
        nodes = [self.start_node(n, extra=extra) for n in names]
        self.expect_balanced(names, 20, "initial distribution over %s" % names)
        H.wait_until(lambda: (self.meta() or [None])[0] == names[0], 20, "%s to lead" % names[0])
        return nodes

    def test_leader_only(self):
        rec = os.path.join(self.dir, "pub.rec")
        nodes = self.cluster(["n1", "n2", "n3"], self.service_ini(rec))
        _, term, _ = self.meta()
        H.wait_until(lambda: starts(rec, "n1", term), 5, "the service to start on the leader n1")
        time.sleep(1.5)  # followers would have started theirs by now
        s = starts(rec)
        self.assertEqual(len(s), 1, "service started %d times: %r" % (len(s), s))
        _, node, pid, t, _, leader, svc = s[0]
        self.assertEqual((node, t, leader, svc), ("n1", term, "1", "pub"))
        self.assertEqual(service_pids(rec), [pid], "exactly the leader's service process runs")
        self.assertIn("service=pub", nodes[0].output())
        self.assert_alive(*nodes)

    def test_leader_killed(self):
        rec = os.path.join(self.dir, "pub.rec")
        nodes = self.cluster(["n1", "n2", "n3"], self.service_ini(rec))
        _, term0, _ = self.meta()
        H.wait_until(lambda: starts(rec, "n1", term0), 5, "the service to start on n1")
        old = starts(rec, "n1")[0][2]
        kill_ns = time.time_ns()
        nodes[0].kill_group(signal.SIGKILL)
        gone = H.wait_until(lambda: not pid_alive(old), 1.0,
                            "the killed leader's service (pid %d) to die with it" % old,
                            interval=0.005)
        H.report("leader SIGKILL: its service gone (guard; goal <= 1 s)", gone)
        most = [0]

        def moved():
            most[0] = max(most[0], len(service_pids(rec)))
            return starts(rec, "n2")
        H.wait_until(moved, ASSERT, "the service to start on the new leader n2", interval=0.01)
        new = starts(rec, "n2")[0]
        el = (new[4] - kill_ns) / 1e9
        H.report("leader SIGKILL: service up on the new leader (goal <= %d s)" % GOAL, el)
        self.assertLessEqual(el, ASSERT * H.SLOW)
        self.assertEqual(new[3], self.meta()[1], "the new service's JOBSYNC_TERM")
        self.assertGreater(new[3], term0)
        self.assertLessEqual(most[0], 1, "two service processes ran at once")
        time.sleep(1)
        self.assertEqual(service_pids(rec), [new[2]])
        self.assertEqual(len(starts(rec)), 2, read_record(rec))
        self.assert_alive(nodes[1], nodes[2])

    def test_leader_frozen(self):
        """SIGSTOP of the leader: the guard kills its service after the fencing silence
        (max(timeout - 2, 1.5 x interval) = 1.5 s); resumed, it does not start it again."""
        rec = os.path.join(self.dir, "pub.rec")
        nodes = self.cluster(["n1", "n2", "n3"], self.service_ini(rec))
        _, term0, _ = self.meta()
        H.wait_until(lambda: starts(rec, "n1", term0), 5, "the service to start on n1")
        old = starts(rec, "n1")[0][2]
        nodes[0].kill_group(signal.SIGSTOP)
        try:
            gone = H.wait_until(lambda: not pid_alive(old), 3.0,
                                "the frozen leader's service to be killed by its guard")
            H.report("leader SIGSTOP: its service killed by the guard (fence 1.5 s)", gone)
            most = [0]

            def moved():
                most[0] = max(most[0], len(service_pids(rec)))
                return starts(rec, "n2")
            el = H.wait_until(moved, ASSERT, "the service to start on n2") + gone
            H.report("leader SIGSTOP: service up on the new leader", el)
            self.assertLessEqual(most[0], 1, "two service processes ran at once")
        finally:
            nodes[0].kill_group(signal.SIGCONT)
        time.sleep(3)
        self.assertEqual(starts(rec, "n1"), starts(rec, "n1")[:1],
                         "the resumed old leader started its service again: %r, meta %r"
                         % (read_record(rec), self.meta()))
        self.assertEqual(service_pids(rec), [starts(rec, "n2")[0][2]], read_record(rec))
        self.assert_alive(*nodes)

    def test_leader_sigterm(self):
        rec = os.path.join(self.dir, "pub.rec")
        nodes = self.cluster(["n1", "n2", "n3"], self.service_ini(rec))
        _, term0, _ = self.meta()
        H.wait_until(lambda: starts(rec, "n1", term0), 5, "the service to start on n1")
        old = starts(rec, "n1")[0][2]
        t = time.monotonic()
        nodes[0].send(signal.SIGTERM)
        H.wait_until(lambda: starts(rec, "n2"), ASSERT, "the service to start on n2")
        H.report("leader SIGTERM: service up on the new leader", time.monotonic() - t)
        events = read_record(rec)
        stop = [r for r in events if r[0] == "STOP" and r[2] == old]
        new = starts(rec, "n2")[0]
        self.assertTrue(stop, "the old leader's service got no SIGTERM: %r" % events)
        self.assertLess(stop[0][4], new[4], "the new service started before the old one stopped")
        H.report("leader SIGTERM: old STOP to new START", (new[4] - stop[0][4]) / 1e6, "ms")
        self.assertEqual(nodes[0].wait(10), H.EXIT_OK, nodes[0].tail())
        self.assertEqual(service_pids(rec), [new[2]])
        self.assert_alive(nodes[1], nodes[2])

    def test_term_change(self):
        """The term moves under a running leader: its service restarts with the new term."""
        rec = os.path.join(self.dir, "pub.rec")
        nodes = self.cluster(["n1", "n2"], self.service_ini(rec))
        _, term0, _ = self.meta()
        H.wait_until(lambda: starts(rec, "n1", term0), 5, "the service to start on n1")
        old = starts(rec, "n1")[0][2]
        self.q("UPDATE @meta SET term = term + 1 WHERE id = 1")
        el = H.wait_until(lambda: starts(rec, "n1", term0 + 1), 5,
                          "the service to restart in term %d" % (term0 + 1))
        H.report("term change: service restarted with the new term", el)
        stop = [r for r in read_record(rec) if r[0] == "STOP" and r[2] == old]
        self.assertTrue(stop, "the old term's service was not stopped: %r" % read_record(rec))
        self.assertLess(stop[0][4], starts(rec, "n1", term0 + 1)[0][4])
        self.assertEqual(len(service_pids(rec)), 1)
        self.assert_alive(*nodes)

    def test_restart_policy(self):
        rec = os.path.join(self.dir, "flaky.rec")
        rec2 = os.path.join(self.dir, "once.rec")
        extra = (self.service_ini(rec, "flaky", "1", max_restarts=2, restart_window_sec=60,
                                  fatal_cooldown_sec=0)
                 + "\n" + self.service_ini(rec2, "once", "125"))
        node = self.start_node("n1", extra=extra)
        fatal = re.compile(r"service=flaky .*FATAL")
        el = H.wait_until(lambda: fatal.search(node.output()), 10, "flaky to go FATAL")
        H.report("service exiting 1, max_restarts 2: FATAL after", el)
        s = starts(rec)
        self.assertEqual(len(s), 3, "start + 2 restarts, then FATAL: %r" % s)
        gaps = [(b[4] - a[4]) / 1e9 for a, b in zip(s, s[1:])]
        self.assertTrue(all(g >= 0.15 for g in gaps), "restarts without backoff: %r" % gaps)
        H.report("restart backoff gaps", ", ".join("%.2f s" % g for g in gaps), "")
        time.sleep(1.5)
        self.assertEqual(len(starts(rec)), 3, "restarted after FATAL (cooldown 0 = stay)")
        self.assertEqual(len(starts(rec2)), 1, "exit 125 (no_restart_exit) was restarted")
        self.assertRegex(node.output(), r"service=once EXITED")
        self.assert_alive(node)

    def test_essential_fatal(self):
        rec = os.path.join(self.dir, "vital.rec")
        extra = self.service_ini(rec, "vital", "1", max_restarts=1, fatal_cooldown_sec=0,
                                 essential="true")
        node = self.start_node("n1", extra=extra)
        rc = node.wait(15)
        self.assertEqual(rc, 70, "an essential FATAL service: exit EXIT_SOFTWARE\n" + node.tail())
        self.assertEqual(len(starts(rec)), 2, read_record(rec))
        self.assertRegex(node.output(), r"service=vital .*FATAL")

    def test_coordination_off(self):
        rec = os.path.join(self.dir, "solo.rec")
        node = self.start_node("solo", wait_registered=False, extra=self.service_ini(rec),
                               coordination={"enabled": "false"},
                               cluster={"dsn": "host=/nonexistent port=1 dbname=none"})
        el = H.wait_until(lambda: starts(rec, "solo"), 5, "the service to start without a database")
        H.report("coordination off: node start to service up", el)
        s = starts(rec)[0]
        self.assertEqual((s[3], s[5], s[6]), (0, "1", "pub"))
        node.send(signal.SIGTERM)
        self.assertEqual(node.wait(10), H.EXIT_OK, node.tail())
        self.assertTrue([r for r in read_record(rec) if r[0] == "STOP" and r[2] == s[2]],
                        "the service was not stopped with its node")
        self.assertEqual(service_pids(rec), [])


if __name__ == "__main__":
    H.main()
