#!/usr/bin/env python3
"""test_health.py: the HTTP endpoint (/health/live, /health/ready, /status, /metrics, /),
readiness, the status file after each state change, 200 concurrent clients, bad requests,
and the HTML page rendered by headless Chromium."""

import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")
STATUS_KEYS = {"node", "pid", "version", "state", "ready", "ready_reason", "leader",
               "is_leader", "term", "tokens_owned", "total_tokens", "token_version",
               "database", "last_heartbeat", "heartbeat_age_sec", "http", "children",
               "counters", "unowned_locked_tokens", "services", "cron", "updated_at"}
COUNTER_KEYS = {"claimed", "done", "failed", "retried", "in_flight"}
CHILD_KEYS = {"name", "pid", "state", "task", "since", "restarts"}
# Node colours of the page's token spread (supervisor/page.c page_colors), as RGB.
PAGE_COLORS = [(0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c)]

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_prometheus(text):
    """Check the text exposition format; return {family: {"type", "help", "samples"}}.
    Raises AssertionError at the first violation."""
    fams = {}
    current = None
    assert text.endswith("\n"), "exposition must end with a newline"
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert name not in fams, "line %d: family %s described twice" % (n, name)
            assert help_, "line %d: empty HELP" % n
            fams[name] = {"help": help_, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current, "line %d: TYPE of %s not after its HELP" % (n, name)
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            fams[name]["type"] = typ
        elif line.startswith("#") or not line:
            raise AssertionError("line %d: unexpected %r" % (n, line))
        else:
            m = SAMPLE.match(line)
            assert m, "line %d: not a sample: %r" % (n, line)
            name, labels, value = m.group(1), m.group(3) or "", m.group(4)
            base = current
            assert base and (name == base or (fams[base]["type"] == "histogram" and name in
                             (base + "_bucket", base + "_sum", base + "_count"))), \
                "line %d: sample %s outside its family %s" % (n, name, base)
            parsed = {}
            rest = labels
            while rest:
                lm = LABEL.match(rest)
                assert lm, "line %d: bad labels %r" % (n, labels)
                parsed[lm.group(1)] = lm.group(2)
                rest = rest[lm.end():]
            v = float(value)
            assert not math.isnan(v), "line %d: NaN" % n
            fams[base]["samples"].append((name, parsed, v))
    for name, f in fams.items():
        assert name.startswith("jobsync_"), "metric %s lacks the jobsync_ prefix" % name
        assert f["type"], "family %s has no TYPE" % name
        if f["type"] == "counter":
            assert all(v >= 0 for _, _, v in f["samples"]), name
        if f["type"] == "histogram":
            buckets = [(float(lb["le"]), v) for s, lb, v in f["samples"] if s.endswith("_bucket")]
            assert buckets and buckets[-1][0] == float("inf"), "%s: no +Inf bucket" % name
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), \
                "%s: buckets not cumulative" % name
            count = [v for s, _, v in f["samples"] if s == name + "_count"]
            assert count and count[0] == buckets[-1][1], "%s: _count != +Inf bucket" % name
    return fams


def value(fams, name, **labels):
    for s, lb, v in fams[name]["samples"]:
        if s == name and all(lb.get(k) == w for k, w in labels.items()):
            return v
    raise KeyError("%s%r" % (name, labels))


class Health(H.ClusterCase):
    def port_of(self, node, timeout=15):
        """The node's HTTP port, from its log line 'health: listening on http://HOST:PORT'."""
        found = {}

        def seen():
            m = re.search(r"health: listening on http://127\.0\.0\.1:(\d+)", node.output())
            if m:
                found["port"] = int(m.group(1))
            return bool(m)
        H.wait_until(seen, timeout, "%s to log its HTTP port" % node.name)
        return found["port"]

    def get(self, port, path, method="GET", timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def raw(self, port, data, timeout=10):
        """Send raw bytes; return everything the server sends until it closes."""
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        finally:
            s.close()

    def ready(self, port):
        return self.get(port, "/health/ready")[0] == 200

    def sleeper_config(self, name, count, sleep, poll=5, health=None, extra_worker=""):
        extra = ("[tasks]\nsource = range\nrange = 1-%d\npoll_interval_sec = %d\n\n"
                 "[worker]\nmode = exec\ncommand = %s {}\nconcurrency = 2\n"
                 "stop_timeout_sec = 20\n%s"
                 % (count, poll, os.path.join(WORKERS, "record.sh"), extra_worker))
        return self.config(name, extra=extra, health=health)

    def test_endpoints(self):
        """Every endpoint answers with the right status, type and content."""
        nodes = self.start_cluster(["n1", "n2"])
        port = self.port_of(nodes[0])
        H.wait_until(lambda: self.ready(port), 15, "n1 ready")
        st, hdr, body = self.get(port, "/health/live")
        self.assertEqual((st, body), (200, b"live\n"))
        st, hdr, body = self.get(port, "/health/ready")
        self.assertEqual((st, body), (200, b"ready\n"))

        st, hdr, body = self.get(port, "/status")
        self.assertEqual(st, 200)
        self.assertTrue(hdr["Content-Type"].startswith("application/json"), hdr)
        doc = json.loads(body)
        self.assertFalse(STATUS_KEYS - set(doc), "status lacks %s" % (STATUS_KEYS - set(doc)))
        self.assertFalse(COUNTER_KEYS - set(doc["counters"]))
        self.assertEqual(doc["node"], "n1")
        self.assertEqual(doc["pid"], nodes[0].pid)
        self.assertEqual(doc["state"], "running")
        self.assertTrue(doc["is_leader"])
        self.assertEqual(doc["leader"], "n1")
        leader, term, version = self.meta()
        self.assertEqual(doc["term"], term)
        counts = self.token_counts()
        H.wait_until(lambda: json.loads(self.get(port, "/status")[2])["tokens_owned"]
                     == self.token_counts().get("n1"), 10, "status tokens to match the table")
        self.assertTrue(doc["database"]["connected"])
        self.assertNotIn("password", json.dumps(doc))
        self.assertEqual(doc["http"], "127.0.0.1:%d" % port)
        self.assertLess(doc["heartbeat_age_sec"], 3.0)
        self.assertEqual(sum(counts.values()), H.TOTAL)

        st, hdr, body = self.get(port, "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdr["Content-Type"].startswith("text/plain; version=0.0.4"), hdr)
        fams = parse_prometheus(body.decode())
        for fam in ("jobsync_tasks_total", "jobsync_task_duration_seconds", "jobsync_tokens_owned",
                    "jobsync_leader", "jobsync_leader_term", "jobsync_rebalances_total",
                    "jobsync_heartbeat_age_seconds", "jobsync_children",
                    "jobsync_database_reconnects_total", "jobsync_ready"):
            self.assertIn(fam, fams)
        self.assertEqual(value(fams, "jobsync_leader"), 1)
        self.assertEqual(value(fams, "jobsync_leader_term"), term)
        self.assertGreaterEqual(value(fams, "jobsync_rebalances_total"), 1)
        self.assertEqual(value(fams, "jobsync_state", state="running"), 1)
        self.assertEqual(value(fams, "jobsync_state", state="draining"), 0)

        st, hdr, body = self.get(port, "/")
        self.assertEqual(st, 200)
        self.assertTrue(hdr["Content-Type"].startswith("text/html"), hdr)
        html = body.decode()
        for name in ("n1", "n2"):
            self.assertIn(">%s" % name, html)
        self.assertNotIn("<script", html)
        self.assertNotIn("http://", html.replace("http-equiv", ""))

        st, hdr, body = self.get(port, "/status", method="HEAD")
        self.assertEqual((st, body), (200, b""))
        self.assertGreater(int(hdr["Content-Length"]), 100)
        st, hdr, body = self.get(port, "/nope")
        self.assertEqual(st, 404)
        # The second node serves its own view: a follower, not the leader.
        port2 = self.port_of(nodes[1])
        H.wait_until(lambda: self.ready(port2), 15, "n2 ready")
        doc2 = json.loads(self.get(port2, "/status")[2])
        self.assertEqual((doc2["node"], doc2["is_leader"], doc2["leader"]), ("n2", False, "n1"))
        fams2 = parse_prometheus(self.get(port2, "/metrics")[2].decode())
        self.assertEqual(value(fams2, "jobsync_leader"), 0)

    def test_bad_requests(self):
        """Other methods 405, garbage 400, oversize 431, slow clients timed out; the
        node keeps serving."""
        node = self.start_node("n1")
        port = self.port_of(node)
        st, hdr, _ = self.get(port, "/status", method="POST")
        self.assertEqual(st, 405)
        self.assertIn("GET", hdr.get("Allow", ""))
        self.assertEqual(self.get(port, "/status", method="DELETE")[0], 405)
        out = self.raw(port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:80])
        out = self.raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16384 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:80])
        out = self.raw(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRegex(out[:12].decode(), r"HTTP/1.1 4(14|31)")
        # A slow client (half a request line) is cut off, while others are served.
        t = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /sta")
        self.assertEqual(self.get(port, "/health/live")[0], 200)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        s.close()
        waited = time.monotonic() - t
        self.assertLess(waited, 25 * H.SLOW, "a slow client was never cut off")
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 408"), out[:80])
        self.assertTrue(node.alive())
        self.assertEqual(self.get(port, "/health/live")[0], 200)

    def test_concurrent_clients(self):
        """200 clients at once (and 200 idle connections held open) while the node
        keeps heartbeating every second: every request answered, no stale heartbeat."""
        node = self.start_node("n1")
        port = self.port_of(node)
        H.wait_until(lambda: self.ready(port), 15, "n1 ready")
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
        results, errors = [], []
        lock = threading.Lock()

        def client(i):
            try:
                path = ["/status", "/metrics", "/", "/health/ready"][i % 4]
                for _ in range(3):
                    st = self.get(port, path, timeout=30)[0]
                    with lock:
                        results.append(st)
            except Exception as e:  # noqa: BLE001 - every failure is reported below
                with lock:
                    errors.append(repr(e))
        ages = []
        stop = threading.Event()

        def watch_heartbeat():
            while not stop.is_set():
                ages.append(self.scalar(
                    "SELECT extract(epoch FROM now() - last_heartbeat) FROM @node WHERE name = 'n1'"))
                time.sleep(0.2)
        watcher = threading.Thread(target=watch_heartbeat)
        watcher.start()
        t = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        stop.set()
        watcher.join()
        elapsed = time.monotonic() - t
        for s in idle:
            s.close()
        H.report("HTTP: 600 requests from 200 concurrent clients (200 idle connections open)",
                 elapsed)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 600)
        self.assertEqual(set(results), {200})
        self.assertTrue(ages)
        # Heartbeat every 1 s; stale means reaching the 3 s timeout (the node would be dead).
        self.assertLess(max(float(a) for a in ages), 3.0,
                        "the heartbeat went stale while serving clients")
        self.assertTrue(self.registered("n1", node.pid))

    def test_readiness_and_status_file(self):
        """The status file follows every state change (cold start, running, draining,
        stopped); readiness is 503 from the first instant of a drain."""
        status = os.path.join(self.dir, "run", "n1.json")
        os.makedirs(os.path.dirname(status))
        cfg = self.sleeper_config("n1", 40, 2.0, health={"status_file": status})
        record = os.path.join(self.dir, "record.log")
        node = self.start_node("n1", config=cfg, env={"RECORD": record, "WORK_SLEEP": "2"},
                               wait_registered=False)
        states = []
        stop = threading.Event()

        def follow():
            while not stop.is_set():
                try:
                    with open(status) as f:
                        doc = json.load(f)
                except (OSError, ValueError) as e:
                    if not isinstance(e, FileNotFoundError):
                        states.append("unreadable: %r" % e)
                    time.sleep(0.01)
                    continue
                if not states or states[-1] != doc["state"]:
                    states.append(doc["state"])
                time.sleep(0.01)
        th = threading.Thread(target=follow)
        th.start()
        try:
            port = self.port_of(node)
            H.wait_until(lambda: self.ready(port), 20, "n1 ready")
            H.wait_until(lambda: json.load(open(status))["counters"]["in_flight"] == 2, 15,
                         "two tasks running in the status file")
            doc = json.load(open(status))
            self.assertEqual(doc["state"], "running")
            self.assertEqual(len(doc["children"]), 2)
            self.assertFalse(CHILD_KEYS - set(doc["children"][0]))
            self.assertIsInstance(doc["children"][0]["pid"], int)
            node.send(signal.SIGTERM)
            t = time.monotonic()
            el = H.wait_until(lambda: self.get(port, "/health/ready")[0] == 503, 5,
                              "readiness 503 once the drain starts", interval=0.005)
            H.report("readiness: SIGTERM to 503", el)
            # 503 holds for the rest of the drain (the running tasks finish), until exit.
            while time.monotonic() - t < 1.0:
                try:
                    st, _, body = self.get(port, "/health/ready")
                except OSError:
                    break  # the drain ended and the node closed its port
                self.assertEqual(st, 503, body)
                self.assertIn(b"draining", body)
            self.assertEqual(node.wait(60), 0, node.tail())
        finally:
            stop.set()
            th.join()
        with open(status) as f:
            final = json.load(f)
        self.assertEqual(final["state"], "stopped")
        if states[-1] != "stopped":
            states.append("stopped")  # written after the follower's last read
        self.assertFalse([s for s in states if s.startswith("unreadable")], states)
        order = [s for s in states if s in ("starting", "cold_start", "running", "draining",
                                            "stopped")]
        self.assertEqual(order[-3:], ["running", "draining", "stopped"], states)
        self.assertFalse([f for f in os.listdir(os.path.dirname(status)) if ".tmp." in f])

    def test_services_and_cron_in_status(self):
        """The leader's services and cron jobs appear in /status, /metrics and the status
        file; a follower lists them as not running here."""
        rec = os.path.join(self.dir, "service.rec")
        extra = ("[service.publisher]\ncommand = %s %s\nstop_timeout_sec = 5\n\n"
                 "[cron.cleanup]\nschedule = 0 3 * * *\ntimezone = UTC\ncommand = /bin/true\n"
                 % (os.path.join(WORKERS, "service.sh"), rec))
        status = os.path.join(self.dir, "n1.json")
        nodes = [self.start_node("n1", config=self.config("n1", extra=extra,
                                                          health={"status_file": status}))]
        nodes.append(self.start_node("n2", config=self.config("n2", extra=extra)))
        port = self.port_of(nodes[0])

        def service_up():
            doc = json.loads(self.get(port, "/status")[2])
            svc = doc["services"]
            return len(svc) == 1 and svc[0]["state"] == "running" and svc[0]["pid"]
        H.wait_until(service_up, 15, "the service running on the leader")
        doc = json.loads(self.get(port, "/status")[2])
        svc, cron = doc["services"][0], doc["cron"]
        self.assertEqual(svc["name"], "publisher")
        with open("/proc/%d/cmdline" % svc["pid"], "rb") as f:
            self.assertIn(b"service.sh", f.read())
        self.assertEqual(len(cron), 1)
        self.assertEqual((cron[0]["name"], cron[0]["schedule"]), ("cleanup", "0 3 * * *"))
        self.assertRegex(cron[0]["next_run"] or "", r"^\d{4}-\d\d-\d\dT03:00:00Z$")
        fams = parse_prometheus(self.get(port, "/metrics")[2].decode())
        self.assertEqual(value(fams, "jobsync_service_up", service="publisher"), 1)
        self.assertEqual(value(fams, "jobsync_cron_running", job="cleanup"), 0)
        H.wait_until(lambda: json.load(open(status))["services"][0]["state"] == "running", 40,
                     "the service in the status file")
        doc2 = json.loads(self.get(self.port_of(nodes[1]), "/status")[2])
        self.assertEqual(doc2["services"][0]["pid"], None)
        self.assertIsNone(doc2["cron"][0]["next_run"])
        fams2 = parse_prometheus(self.get(self.port_of(nodes[1]), "/metrics")[2].decode())
        self.assertEqual(value(fams2, "jobsync_service_up", service="publisher"), 0)

    def test_cron_runs_in_status_and_metrics(self):
        """Ended cron runs (by status), the last run and the failures of the last 24 h
        reach /status, /metrics and the page. Cron time is accelerated with the test-only
        clock (JOBSYNC_TEST_CRON_*, see test_cron.py): one cron minute per 2 s."""
        epoch = (int(time.time()) // 60) * 60
        env = {"JOBSYNC_TEST_CRON_EPOCH": str(epoch),
               "JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE": "2"}
        extra = ("[cron.good]\nschedule = * * * * *\ncommand = /bin/true\n\n"
                 "[cron.bad]\nschedule = * * * * *\ncommand = /bin/false\nmax_attempts = 1\n")
        node = self.start_node("n1", extra=extra, env=env)
        port = self.port_of(node)

        def ended():
            doc = json.loads(self.get(port, "/status")[2])
            jobs = {j["name"]: j for j in doc["cron"]}
            return (jobs["good"]["ended"]["success"] >= 2 and jobs["bad"]["ended"]["failed"] >= 2
                    and jobs)
        jobs = H.wait_until(ended, 30, "two runs of each cron job") and ended()
        self.assertEqual(jobs["bad"]["last_run"]["status"], "failed")
        self.assertEqual(jobs["good"]["last_run"]["status"], "success")
        self.assertRegex(jobs["good"]["next_run"], r"T\d\d:\d\d:00Z$")
        self.assertEqual(self.get(port, "/")[0], 200)  # a page view reads the cluster
        doc = json.loads(self.get(port, "/status")[2])
        bad = [j for j in doc["cron"] if j["name"] == "bad"][0]
        self.assertEqual(bad["last_run_cluster"]["node"], "n1")
        self.assertGreaterEqual(bad["last_run_cluster"]["failures_24h"], 2)
        fams = parse_prometheus(self.get(port, "/metrics")[2].decode())
        self.assertGreaterEqual(value(fams, "jobsync_cron_runs_total", job="bad", status="failed"), 2)
        self.assertGreaterEqual(value(fams, "jobsync_cron_runs_total", job="good",
                                      status="success"), 2)
        self.assertEqual(value(fams, "jobsync_cron_runs_total", job="good", status="failed"), 0)
        self.assertGreaterEqual(value(fams, "jobsync_cron_failures_24h", job="bad"), 2)
        html = self.get(port, "/")[2].decode()
        self.assertIn("failed on n1", html)

    def test_ready_follows_database(self):
        """Readiness is 503 while the database is down, liveness stays 200, and the
        node is ready again once it reconnects."""
        node = self.start_node("n1")
        port = self.port_of(node)
        H.wait_until(lambda: self.ready(port), 15, "n1 ready")
        self.pg.pause()
        try:
            H.wait_until(lambda: self.get(port, "/health/ready")[0] == 503, 10,
                         "503 while the database is down")
            st, _, body = self.get(port, "/health/ready")
            self.assertRegex(body.decode(), "database not connected|self-fenced|heartbeat stale")
            self.assertEqual(self.get(port, "/health/live")[0], 200)
            doc = json.loads(self.get(port, "/status")[2])
            self.assertFalse(doc["ready"])
        finally:
            self.pg.resume()
        H.wait_until(lambda: self.ready(port), 30, "ready again after the database returned")
        fams = parse_prometheus(self.get(port, "/metrics")[2].decode())
        self.assertGreaterEqual(value(fams, "jobsync_database_reconnects_total"), 1)

    def test_startup_errors(self):
        """A missing status file directory and a port in use are configuration errors."""
        missing = os.path.join(self.dir, "no", "such", "dir", "s.json")
        cfg = self.config("n1", health={"status_file": missing})
        node = self.start_node("n1", config=cfg, wait_registered=False)
        self.assertEqual(node.wait(15), H.EXIT_CONFIG, node.tail())
        self.assertIn("status_file", node.output())
        self.assertIn("does not exist", node.output())
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            cfg = self.config("n2", health={"listen": "127.0.0.1:%d" % busy.getsockname()[1]})
            node = self.start_node("n2", config=cfg, wait_registered=False)
            self.assertEqual(node.wait(15), H.EXIT_CONFIG, node.tail())
            self.assertIn("in use", node.output())
            self.assertIn("listen", node.output())
        finally:
            busy.close()

    def test_page_in_chromium(self):
        """The HTML page, rendered by headless Chromium, shows the three nodes: their
        names in the DOM and their colours in the token spread of the screenshot."""
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        self.assertIsNotNone(chromium, "chromium is not installed (tests/run.sh installs it)")
        from PIL import Image  # python3-pil
        nodes = self.start_cluster(["n1", "n2", "n3"])
        port = self.port_of(nodes[0])
        H.wait_until(lambda: self.balanced_over(["n1", "n2", "n3"]), 20, "tokens spread")
        url = "http://127.0.0.1:%d/" % port
        profile = os.path.join(self.dir, "chromium-profile")
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
                "--window-size=1000,900"]
        dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        for name in ("n1", "n2", "n3"):
            self.assertIn(">%s" % name, dom.stdout)
        png = os.path.join(self.dir, "page.png")
        shot = subprocess.run(base + ["--screenshot=" + png, url], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(shot.returncode, 0, shot.stderr[-2000:])
        img = Image.open(png).convert("RGB")
        self.assertGreaterEqual(img.size[0], 900)
        hist = {}
        for px in img.getdata():
            hist[px] = hist.get(px, 0) + 1
        for i, rgb in enumerate(PAGE_COLORS):
            # Each third of the spread bar is about 210 x 28 pixels of one colour.
            self.assertGreater(hist.get(rgb, 0), 3000,
                               "node %d's colour %r is missing from the screenshot" % (i + 1, rgb))
        self.assertLess(hist.get((255, 255, 255), 0) + hist.get((0xfa, 0xfa, 0xfa), 0),
                        img.size[0] * img.size[1], "a blank screenshot")


if __name__ == "__main__":
    H.main()
