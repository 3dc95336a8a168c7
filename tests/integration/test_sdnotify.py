#!/usr/bin/env python3
"""test_sdnotify.py: the systemd notification protocol without systemd (SPEC section 7): a test
datagram socket as NOTIFY_SOCKET (a path, or an @abstract name) receives READY=1 once the node
joined and owns tokens (once), STATUS= summaries, WATCHDOG=1 every half WATCHDOG_USEC (none when
WATCHDOG_PID names another process), STOPPING=1 with STATUS=draining on SIGTERM; workers and
services do not inherit NOTIFY_SOCKET, WATCHDOG_USEC or WATCHDOG_PID; and with coordination off
READY=1 comes when the workers start."""

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")
ENVDUMP = os.path.join(WORKERS, "envdump.sh")
NOTIFY_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
# The node execs itself once with GnuTLS's implicit init off (supervisor/reexec.h); neither
# variable may reach its children.
REEXEC_VARS = ("GNUTLS_NO_IMPLICIT_INIT", "JOBSYNC_REEXECED")

# The harness passes its own environment on to the nodes: none of ours may leak in (a test
# run under a systemd unit with WatchdogSec would otherwise set WATCHDOG_PID to the runner).
for _v in NOTIFY_VARS + REEXEC_VARS:
    os.environ.pop(_v, None)


class Listener:
    """A bound AF_UNIX datagram socket and a thread that records (monotonic time, message)."""

    def __init__(self, address):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # "@name" is an abstract address: Python takes it with a leading NUL byte.
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode(errors="replace")))

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()
        if not self.address.startswith("@"):
            try:
                os.unlink(self.address)
            except OSError:
                pass

    def all(self):
        with self.lock:
            return list(self.messages)

    def with_key(self, key, since=0.0):
        """[(time, {KEY: VALUE})] of the messages that set key (e.g. "READY"), after since."""
        out = []
        for t, msg in self.all():
            kv = dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)
            if key in kv and t >= since:
                out.append((t, kv))
        return out

    def statuses(self):
        return [kv["STATUS"] for _, kv in self.with_key("STATUS")]


def read_env(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)


class SdNotify(H.ClusterCase):
    def listen(self, address=None):
        """A listener on address, or on a socket file in the test directory."""
        if address is None:
            address = os.path.join(self.dir, "notify.sock")
            if len(address) >= 100:  # sun_path holds 108 bytes
                short = tempfile.mkdtemp(prefix="jsn-")
                self.addCleanup(shutil.rmtree, short, True)
                address = os.path.join(short, "notify.sock")
        lst = Listener(address)
        self.addCleanup(lst.close)
        return lst

    def env_ini(self, tasks="1-2", service=True):
        """[tasks] and [worker] that dump each worker's environment, and a service doing so.
        Streaming (poll_interval_sec > 0): the node stays up once the tasks are done."""
        text = ("[tasks]\nsource = range\nrange = %s\npoll_interval_sec = 60\n\n"
                "[worker]\nmode = exec\ncommand = %s %s task-{}\n" % (tasks, ENVDUMP, self.dir))
        if service:
            text += "\n[service.env]\ncommand = %s %s service stay\nstop_timeout_sec = 5\n" % (
                ENVDUMP, self.dir)
        return text

    def assert_child_envs(self, names):
        for name in names:
            path = os.path.join(self.dir, "%s.env" % name)
            H.wait_until(lambda: os.path.exists(path), 15, "%s to dump its environment" % name)
            env = read_env(path)
            self.assertEqual(env.get("JOBSYNC_NODE"), "n1", "not a child of the node? %s" % path)
            for v in NOTIFY_VARS + REEXEC_VARS:
                self.assertTrue(v not in env, "%s inherited %s=%s" % (name, v, env.get(v)))

    def stop_and_expect_stopping(self, node, lst):
        t = time.monotonic()
        node.send(signal.SIGTERM)
        H.wait_until(lambda: lst.with_key("STOPPING", t), 10, "STOPPING=1 after SIGTERM")
        self.assertEqual(node.wait(15), H.EXIT_OK, node.tail())
        stopping = lst.with_key("STOPPING")
        self.assertEqual(len(stopping), 1, lst.all())
        self.assertEqual(stopping[0][1]["STOPPING"], "1")
        self.assertTrue(stopping[0][1].get("STATUS", "").startswith("draining"), stopping)
        ready = lst.with_key("READY")
        self.assertEqual(len(ready), 1, "READY=1 must be sent once: %r" % lst.all())
        self.assertLess(ready[0][0], stopping[0][0])

    def test_path_ready_status_watchdog_stopping(self):
        lst = self.listen()
        env = {"NOTIFY_SOCKET": lst.address, "WATCHDOG_USEC": "400000"}
        node = self.start_node("n1", env=env, extra=self.env_ini())
        H.wait_until(lambda: lst.with_key("READY"), 15, "READY=1")
        # READY=1 comes once the node is registered and owns its tokens. The pid is the one
        # started (the lean re-exec keeps it), and the exec did happen: the process image's
        # initial environment carries the variable that its children must not see.
        self.assertTrue(self.registered("n1", node.pid))
        with open("/proc/%d/environ" % node.pid, "rb") as f:
            self.assertIn(b"GNUTLS_NO_IMPLICIT_INIT=1", f.read().split(b"\0"))
        with open("/proc/%d/comm" % node.pid) as f:
            self.assertEqual(f.read().strip(), "jobsync", "the process name survives the exec")
        self.assertEqual(self.token_counts().get("n1"), H.TOTAL)
        kv = lst.with_key("READY")[0][1]
        self.assertEqual(kv["READY"], "1")
        self.assertTrue(kv["STATUS"].startswith("running: 10000 of 10000 tokens, leader n1"), kv)
        self.assert_child_envs(["task-1", "task-2", "service"])

        # WATCHDOG=1 every 200 ms: count over a window, with wide margins for a loaded machine.
        t0 = time.monotonic()
        time.sleep(3.0 * H.SLOW)
        window = time.monotonic() - t0
        pings = [t for t, kv in lst.with_key("WATCHDOG", t0) if kv["WATCHDOG"] == "1"]
        H.report("watchdog pings in %.1f s (expected %d)" % (window, window / 0.2), len(pings), "")
        self.assertGreaterEqual(len(pings), int(window / 0.2 * 0.4), lst.all()[-20:])
        self.assertLessEqual(len(pings), int(window / 0.2 * 1.5) + 2, "pinging too often")
        gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
        self.assertLess(gaps[len(gaps) // 2], 0.4, "median gap between pings: %r" % gaps)

        # STATUS= follows the state: the leader's own line and no repeats of equal lines.
        statuses = lst.statuses()
        self.assertTrue(any(s.startswith("running: 10000 of 10000 tokens, leader n1 (this node)")
                            for s in statuses), statuses)
        self.assertTrue(all(a != b for a, b in zip(statuses, statuses[1:])), statuses)
        self.stop_and_expect_stopping(node, lst)

    def test_abstract_socket_without_watchdog(self):
        lst = self.listen("@jobsync-test-%d-%d" % (os.getpid(), int(time.time() * 1000)))
        node = self.start_node("n1", env={"NOTIFY_SOCKET": lst.address})
        H.wait_until(lambda: lst.with_key("READY"), 15, "READY=1 on the abstract socket")
        self.assertTrue(self.registered("n1", node.pid))
        time.sleep(1.0)
        self.assertEqual(lst.with_key("WATCHDOG"), [], "WATCHDOG=1 without WATCHDOG_USEC")
        self.stop_and_expect_stopping(node, lst)

    def test_watchdog_for_another_pid(self):
        lst = self.listen()
        env = {"NOTIFY_SOCKET": lst.address, "WATCHDOG_USEC": "400000",
               "WATCHDOG_PID": str(os.getpid())}
        node = self.start_node("n1", env=env, extra=self.env_ini(service=False))
        H.wait_until(lambda: lst.with_key("READY"), 15, "READY=1")
        self.assert_child_envs(["task-1", "task-2"])
        time.sleep(1.5)
        self.assertEqual(lst.with_key("WATCHDOG"), [], "WATCHDOG_PID names another process")
        self.assertRegex(node.output(), r"watchdog is for pid %d" % os.getpid())
        self.stop_and_expect_stopping(node, lst)

    def test_coordination_off_ready_when_workers_start(self):
        lst = self.listen()
        env = {"NOTIFY_SOCKET": lst.address, "WATCHDOG_USEC": "400000"}
        node = self.start_node("n1", wait_registered=False, env=env, extra=self.env_ini(),
                               coordination={"enabled": "false"},
                               cluster={"dsn": "host=/nonexistent port=1 dbname=none"})
        H.wait_until(lambda: lst.with_key("READY"), 10, "READY=1 without a database")
        kv = lst.with_key("READY")[0][1]
        self.assertTrue(kv["STATUS"].startswith("running: coordination off"), kv)
        self.assert_child_envs(["task-1", "task-2", "service"])
        H.wait_until(lambda: len(lst.with_key("WATCHDOG")) >= 3, 5, "three watchdog pings")
        self.stop_and_expect_stopping(node, lst)


if __name__ == "__main__":
    H.main()
