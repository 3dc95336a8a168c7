#!/usr/bin/env python3
"""test_contrib.py: the deployment files under contrib/ stay valid and consistent.

Every example INI and the INI of the Kubernetes ConfigMap pass `jobsync config check`; the
systemd unit passes `systemd-analyze verify` and stops later than the workers' stop
timeout; the Deployment's grace period, probes and ports agree with the ConfigMap's INI;
the example workers speak their protocols; and the exec, stream and batch examples run
their (shortened) workload to the end against a real PostgreSQL.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

try:
    import yaml
except ImportError:  # python3-yaml; the YAML tests skip without it
    yaml = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRIB = os.path.join(ROOT, "contrib")
EXAMPLES = os.path.join(CONTRIB, "examples")
WORKERS = os.path.join(EXAMPLES, "workers")
K8S = os.path.join(CONTRIB, "kubernetes")
UNIT = os.path.join(CONTRIB, "systemd", "jobsync.service")

# Only what the checks need: none of these is set in the examples' environment.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith("JOBSYNC_") and k not in ("WORKERS_DIR", "TASKS_FILE", "BILLING_DSN")}


def check_config(path, env=None):
    """`jobsync config check PATH` in a clean environment (plus env)."""
    e = dict(CLEAN_ENV, **(env or {}))
    return subprocess.run([H.JOBSYNC, "config", "check", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=e, timeout=30)


def ini_sections(text):
    """{section: {key: value}} of an INI text, comments (';', '#', ' ;', ' #') removed."""
    out, sec = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            sec = line.strip("[]").strip()
            out.setdefault(sec, {})
            continue
        key, _, value = line.partition("=")
        value = re.split(r"\s[;#]", value, maxsplit=1)[0].strip()
        out.setdefault(sec, {})[key.strip()] = value
    return out


def max_stop_timeout(text):
    """The longest stop timeout of a config: [worker] (default 30) and programs (default 10)."""
    secs = ini_sections(text)
    longest = 0
    for name, keys in secs.items():
        if name == "worker":
            longest = max(longest, int(keys.get("stop_timeout_sec", 30)))
        elif name.startswith(("service.", "cron.")):
            longest = max(longest, int(keys.get("stop_timeout_sec", 10)))
    if "worker" not in secs:
        longest = max(longest, 30)
    return longest


def unit_entries(path):
    """[(section, key, value)] of a systemd unit file."""
    out, sec = [], None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                sec = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.append((sec, key.strip(), value.strip()))
    return out


def systemd_seconds(value):
    """A systemd time span ("90", "90s", "1min 30s", "2m") in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    total = 0
    for num, unit in re.findall(r"(\d+)\s*([a-z]*)", value):
        total += int(num) * units[unit]
    return total


def configmap_ini():
    with open(os.path.join(K8S, "configmap.yaml")) as f:
        cm = yaml.safe_load(f)
    return cm["data"]["worker.ini"]


def example_inis():
    files = sorted(glob.glob(os.path.join(EXAMPLES, "*.ini")))
    assert files, "no contrib/examples/*.ini"
    return files


class ExampleConfigs(unittest.TestCase):
    def test_examples_pass_config_check(self):
        files = example_inis()
        self.assertGreaterEqual(len(files), 4, files)
        for path in files:
            r = check_config(path)
            self.assertEqual(r.returncode, 0, "%s:\n%s%s" % (path, r.stdout, r.stderr))
            self.assertIn("ok", r.stdout)

    def test_examples_cover_the_modes_and_sources(self):
        seen = {"mode": set(), "source": set(), "sections": set()}
        for path in example_inis():
            with open(path) as f:
                secs = ini_sections(f.read())
            seen["mode"].add(secs.get("worker", {}).get("mode", "exec" if "worker" in secs else None))
            seen["source"].add(secs.get("tasks", {}).get("source"))
            seen["sections"].update(s.split(".")[0] for s in secs)
        self.assertTrue({"exec", "stream", "batch"} <= seen["mode"], seen)
        self.assertTrue({"range", "sql", "command", "file"} <= seen["source"], seen)
        self.assertTrue({"service", "cron", "lock", "health"} <= seen["sections"], seen)

    def test_example_commands_name_existing_workers(self):
        """Every ${WORKERS_DIR:-...}/NAME of an example is a worker shipped in contrib."""
        for path in example_inis():
            with open(path) as f:
                text = f.read()
            for name in re.findall(r"\$\{WORKERS_DIR:-[^}]*\}/([\w.-]+)", text):
                w = os.path.join(WORKERS, name)
                self.assertTrue(os.access(w, os.X_OK), "%s names %s: missing or not executable" % (path, w))


class SystemdUnit(unittest.TestCase):
    def entries(self):
        return unit_entries(UNIT)

    def get(self, key, section="Service"):
        vals = [v for s, k, v in self.entries() if k == key and s == section]
        return vals[-1] if vals else None

    def test_unit_settings(self):
        self.assertEqual(self.get("Type"), "notify")
        self.assertEqual(self.get("NotifyAccess"), "main")
        self.assertEqual(self.get("KillMode"), "mixed")
        self.assertGreater(systemd_seconds(self.get("WatchdogSec") or "0"), 0)
        self.assertRegex(self.get("ExecStart") or "", r"^/\S*jobsync run -c /etc/jobsync/worker\.ini$")
        self.assertIn("-HUP $MAINPID", self.get("ExecReload") or "")
        self.assertEqual(self.get("Restart"), "on-failure")
        self.assertIsNotNone(self.get("RestartSec"))
        self.assertEqual(set((self.get("RestartPreventExitStatus") or "").split()), {"78", "64"})
        self.assertEqual(self.get("RuntimeDirectory"), "jobsync")
        self.assertEqual(self.get("User"), "jobsync")
        for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelTunables",
                    "ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID",
                    "LockPersonality", "RestrictRealtime"):
            self.assertEqual(self.get(key), "yes", key)
        self.assertEqual(self.get("ProtectSystem"), "strict")
        self.assertIn("/run/jobsync", (self.get("ReadWritePaths") or "").split())
        self.assertEqual(self.get("SystemCallArchitectures"), "native")
        # Options that would break arbitrary worker programs stay out.
        for key in ("MemoryDenyWriteExecute", "SystemCallFilter", "PrivateNetwork", "PrivateDevices"):
            self.assertIsNone(self.get(key), key)

    def test_stop_timeout_above_the_workers(self):
        """TimeoutStopSec leaves the drain time to finish: above every INI's stop timeout."""
        stop = systemd_seconds(self.get("TimeoutStopSec") or "0")
        texts = []
        for path in example_inis():
            with open(path) as f:
                texts.append((path, f.read()))
        if yaml is not None:
            texts.append(("configmap.yaml", configmap_ini()))
        for name, text in texts:
            self.assertGreater(stop, max_stop_timeout(text) + 5,
                               "TimeoutStopSec=%d vs %s" % (stop, name))
        # The unit's status file directory is the examples' status_file directory.
        for name, text in texts:
            sf = ini_sections(text).get("health", {}).get("status_file")
            if sf and name != "configmap.yaml":
                self.assertEqual(os.path.dirname(sf), "/run/" + self.get("RuntimeDirectory"), name)

    def test_systemd_analyze_verify(self):
        exe = shutil.which("systemd-analyze")
        if not exe:
            self.skipTest("systemd-analyze is not installed")
        d = tempfile.mkdtemp(prefix="jobsync-unit-")
        try:
            with open(UNIT) as f:
                text = f.read()
            # ExecStart must name an existing executable: the binary under test.
            text = re.sub(r"^ExecStart=\S+", "ExecStart=" + H.JOBSYNC, text, flags=re.M)
            path = os.path.join(d, "jobsync.service")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([exe, "verify", path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertNotRegex(r.stdout, r"(?i)unknown (key|lvalue)|failed to parse", r.stdout)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Kubernetes(unittest.TestCase):
    def setUp(self):
        if yaml is None:
            self.skipTest("python3-yaml is not installed")

    def load(self, name):
        with open(os.path.join(K8S, name)) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        self.assertEqual(len(docs), 1, name)
        return docs[0]

    def test_yaml_parses(self):
        files = sorted(glob.glob(os.path.join(K8S, "*.yaml")))
        self.assertTrue(files)
        kinds = set()
        for path in files:
            with open(path) as f:
                for doc in yaml.safe_load_all(f):
                    self.assertIsInstance(doc, dict, path)
                    self.assertIn("apiVersion", doc, path)
                    kinds.add(doc.get("kind"))
        self.assertTrue({"Deployment", "ConfigMap", "Secret"} <= kinds, kinds)
        kust = self.load("kustomization.yaml")
        for res in kust["resources"]:
            self.assertTrue(os.path.exists(os.path.join(K8S, res)), res)

    def test_configmap_ini_passes_config_check(self):
        d = tempfile.mkdtemp(prefix="jobsync-k8s-")
        try:
            path = os.path.join(d, "worker.ini")
            with open(path, "w") as f:
                f.write(configmap_ini())
            r = check_config(path, {"JOBSYNC_DSN": "host=db dbname=jobs", "JOBSYNC_NODE": "jobsync-7d9f-x2k4p"})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # The dsn and node name really come from the pod's environment.
            r = check_config(path, {"JOBSYNC_NODE": "jobsync-7d9f-x2k4p"})
            self.assertEqual(r.returncode, H.EXIT_CONFIG, r.stdout + r.stderr)
            self.assertIn("JOBSYNC_DSN", r.stderr)
            r = check_config(path, {"JOBSYNC_DSN": "host=db"})
            self.assertEqual(r.returncode, H.EXIT_CONFIG, r.stdout + r.stderr)
            self.assertIn("JOBSYNC_NODE", r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_deployment_matches_the_configmap(self):
        dep = self.load("deployment.yaml")
        cm = self.load("configmap.yaml")
        secret = self.load("secret.yaml")
        ini = ini_sections(configmap_ini())
        self.assertEqual(dep["kind"], "Deployment")
        self.assertEqual(dep["spec"]["replicas"], 3)
        pod = dep["spec"]["template"]["spec"]
        self.assertEqual(dep["spec"]["selector"]["matchLabels"].items()
                         - dep["spec"]["template"]["metadata"]["labels"].items(), set())
        (c,) = pod["containers"]

        # Grace period above the drain: stop_timeout_sec plus some seconds to leave.
        self.assertGreater(pod["terminationGracePeriodSeconds"], max_stop_timeout(configmap_ini()) + 5)
        # SIGTERM drains: no preStop hook.
        self.assertNotIn("preStop", (c.get("lifecycle") or {}))

        # The node name is the pod name, and the INI uses it.
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["JOBSYNC_NODE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name")
        self.assertEqual(ini["cluster"]["node"], "${JOBSYNC_NODE}")
        self.assertEqual(ini["cluster"]["dsn"], "${JOBSYNC_DSN}")
        ref = env["JOBSYNC_DSN"]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref["name"], secret["metadata"]["name"])
        self.assertIn(ref["key"], secret.get("stringData") or secret.get("data"))

        # The config file is the ConfigMap's key, mounted where -c points.
        cfg_path = c["args"][c["args"].index("-c") + 1]
        self.assertEqual(c["args"][0], "run")
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in pod["volumes"]}
        cfg_mount = mounts[os.path.dirname(cfg_path)]
        self.assertEqual(vols[cfg_mount["name"]]["configMap"]["name"], cm["metadata"]["name"])
        self.assertIn(os.path.basename(cfg_path), cm["data"])

        # Probes: /health/ready and /health/live on the port of [health] listen.
        host, _, port = ini["health"]["listen"].rpartition(":")
        self.assertEqual(host, "0.0.0.0")
        ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports.get("health"), int(port))
        for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
            get = c[probe]["httpGet"]
            self.assertEqual(get["path"], path, probe)
            p = get["port"]
            self.assertEqual(ports.get(p, p), int(port), probe)
            self.assertGreater(c[probe].get("periodSeconds", 10), 0)
            self.assertGreaterEqual(c[probe].get("failureThreshold", 3), 2, probe)
        # A restart must not come sooner than a readiness change.
        self.assertGreaterEqual(c["livenessProbe"]["periodSeconds"] * c["livenessProbe"]["failureThreshold"],
                                c["readinessProbe"]["periodSeconds"] * c["readinessProbe"]["failureThreshold"])

        # Non-root, read-only root file system, and the status file on a writable emptyDir.
        sc = dict(pod.get("securityContext") or {}, **(c.get("securityContext") or {}))
        self.assertTrue(sc.get("runAsNonRoot"))
        self.assertTrue(sc.get("readOnlyRootFilesystem"))
        self.assertFalse(sc.get("allowPrivilegeEscalation", True))
        status_dir = os.path.dirname(ini["health"]["status_file"])
        self.assertIn(status_dir, mounts)
        self.assertIn("emptyDir", vols[mounts[status_dir]["name"]])
        self.assertIn("requests", c["resources"])
        self.assertIn("limits", c["resources"])

    def test_kustomize_builds(self):
        kubectl = shutil.which("kubectl")
        if not kubectl:
            self.skipTest("kubectl is not installed")
        r = subprocess.run([kubectl, "kustomize", K8S], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
        self.assertIn("Deployment", kinds)
        self.assertIn("ConfigMap", kinds)


STREAM_REPLY = re.compile(r"^(?P<id>.+?) (?:ok|fail (?P<msg>.*))$")


class Workers(unittest.TestCase):
    def run_worker(self, args, input=None, env=None, timeout=30):
        e = dict(CLEAN_ENV, JOBSYNC_NODE="n1", JOBSYNC_DATE="2026-11-01", JOBSYNC_LEADER="0",
                 WORK_SLEEP="0", **(env or {}))
        return subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=e, timeout=timeout)

    def test_process_task(self):
        w = os.path.join(WORKERS, "process-task.sh")
        for task in ("1", "invoice-42", "it's \"quoted\" $HOME"):
            r = self.run_worker([w, task], env={"JOBSYNC_TASK_ID": task, "JOBSYNC_ATTEMPT": "1",
                                                "JOBSYNC_FENCE": "17", "WORK_VERBOSE": "1"})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("task %s done on n1 (attempt 1, fence 17" % task, r.stdout)
        r = self.run_worker([w, "fail-7"], env={"JOBSYNC_ATTEMPT": "2"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("fail-7", r.stderr.strip().splitlines()[-1])
        r = self.run_worker([w])
        self.assertEqual(r.returncode, 64)
        # The task id may come from the environment alone.
        r = self.run_worker([w], env={"JOBSYNC_TASK_ID": "9"})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_process_task_stops_on_sigterm(self):
        w = os.path.join(WORKERS, "process-task.sh")
        e = dict(CLEAN_ENV, WORK_SLEEP="30")
        p = subprocess.Popen([w, "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=e, start_new_session=True)
        try:
            time.sleep(0.5)
            t = time.monotonic()
            os.killpg(p.pid, signal.SIGTERM)  # as jobsync stops a task: the whole group
            _, err = p.communicate(timeout=10)
            self.assertLess(time.monotonic() - t, 5)
            self.assertEqual(p.returncode, 143, err)
            self.assertIn("stopped by SIGTERM", err)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def test_batch_worker(self):
        w = os.path.join(WORKERS, "batch-worker.sh")
        r = self.run_worker([w], input="1\n2\n3\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("batch of 3 ids on n1: done", r.stdout)
        r = self.run_worker([w], input="1\nfail-2\n3\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("fail-2", r.stderr)

    def test_stream_worker(self):
        w = os.path.join(WORKERS, "stream-worker.py")
        r = self.run_worker([w], input="1\n2\nabc def\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "1 ok\n2 ok\nabc def ok\n")
        r = self.run_worker([w], input="x-1\nfail-2\nx-3\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, r.stdout)
        for line in lines:
            self.assertRegex(line, STREAM_REPLY)
        self.assertEqual(lines[0], "x-1 ok")
        m = STREAM_REPLY.match(lines[1])
        self.assertEqual(m.group("id"), "fail-2")
        self.assertTrue(m.group("msg"))
        self.assertEqual(lines[2], "x-3 ok")
        self.assertIn("stdin closed after 3 tasks", r.stderr)  # logs go to stderr only

    def test_stream_worker_answers_each_id_at_once(self):
        """With inflight = 1 jobsync waits for each answer: the worker must flush per id."""
        w = os.path.join(WORKERS, "stream-worker.py")
        e = dict(CLEAN_ENV, WORK_SLEEP="0")
        p = subprocess.Popen([w], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=e, bufsize=1)
        try:
            for task in ("a", "b", "c"):
                p.stdin.write(task + "\n")
                p.stdin.flush()
                line = read_line(p.stdout, 10)
                self.assertEqual(line, "%s ok\n" % task)
            p.stdin.close()
            self.assertEqual(p.wait(timeout=10), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()


def read_line(f, timeout):
    """One line of a pipe, or AssertionError after timeout seconds."""
    import select
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no line within %s s" % timeout)
        r, _, _ = select.select([f], [], [], left)
        if r:
            return f.readline()


class ExamplesRun(H.ClusterCase):
    """The examples run for real, shortened: a few ids, batch mode (exit when done)."""

    def prepared(self, name, subs, extra_env=None):
        """Copy example NAME with the regex substitutions subs (each must match)."""
        with open(os.path.join(EXAMPLES, name)) as f:
            text = f.read()
        subs = list(subs) + [
            (r"(?m)^poll_interval_sec = \d+$", "poll_interval_sec = 0"),
            (r"(?m)^heartbeat_interval_sec = 5$", "heartbeat_interval_sec = 1"),
            (r"(?m)^heartbeat_timeout_sec = 15$", "heartbeat_timeout_sec = 3"),
            (r"(?m)^status_file = .*$", "status_file = " + os.path.join(self.dir, "status.json")),
            (r"(?m)^listen = .*$", "listen ="),
        ]
        for pattern, repl in subs:
            text, n = re.subn(pattern, repl, text)
            self.assertGreaterEqual(n, 1, "%s: no match for %r" % (name, pattern))
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_example(self, path, prefix, total, env=None):
        e = {"JOBSYNC_DSN": self.dsn, "WORKERS_DIR": WORKERS, "WORK_SLEEP": "0"}
        e.update(env or {})
        self.prefix = prefix
        node = self.start_node("ex-1", config=path, env=e, args=["--node", "ex-1"])
        rc = node.wait(60)
        self.assertEqual(rc, 0, node.tail())
        rows = dict(self.q("SELECT status, count(*) FROM @audit GROUP BY status"))
        self.assertEqual(rows, {"done": total}, node.tail())
        return node

    def test_exec_shell_example_runs(self):
        path = self.prepared("exec-shell.ini", [(r"(?m)^range = 1-100000$", "range = 1-40")])
        self.run_example(path, "sync_", 40)

    def test_stream_python_example_runs(self):
        path = self.prepared("stream-python.ini",
                             [(r"(?m)^command = seq 1 50000 ", "command = seq 1 40 ")])
        self.run_example(path, "stream_", 40)
        self.assertEqual(self.scalar("SELECT count(*) FROM @audit WHERE item LIKE 'doc-%'"), 40)

    def test_batch_file_example_runs(self):
        ids = os.path.join(self.dir, "ids.txt")
        with open(ids, "w") as f:
            f.write("".join("order-%d\n" % i for i in range(1, 1201)))
        path = self.prepared("batch-file.ini", [(r"(?m)^wait_on_enter = 30$", "wait_on_enter = 5")])
        self.run_example(path, "batch_", 1200, env={"TASKS_FILE": ids})


if __name__ == "__main__":
    H.main()
