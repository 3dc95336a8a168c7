#!/usr/bin/env python3
"""test_docs.py: the README's configuration reference is the one the binary generates,
and every command the README's CLI table names answers --help."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


class Docs(unittest.TestCase):
    def test_config_reference_is_current(self):
        with open(README) as f:
            text = f.read()
        m = re.search(r"<!-- BEGIN CONFIG REFERENCE -->\n(.*?)<!-- END CONFIG REFERENCE -->",
                      text, re.S)
        self.assertIsNotNone(m, "README has no generated config reference block")
        out = subprocess.run([H.JOBSYNC, "config", "reference"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout
        self.assertEqual(m.group(1), out, "README's reference is stale: paste "
                         "`jobsync config reference` between the markers")

    def test_readme_commands_have_help(self):
        with open(README) as f:
            text = f.read()
        cmds = set(re.findall(r"^\| `jobsync ([a-z][a-z-]*)", text, re.M))
        self.assertTrue({"run", "status", "lock", "token", "init-db", "config"} <= cmds, cmds)
        for cmd in sorted(cmds):
            r = subprocess.run([H.JOBSYNC, cmd, "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 0, "%s --help: %s" % (cmd, r.stderr))
            self.assertIn("usage", (r.stdout + r.stderr).lower(), cmd)


if __name__ == "__main__":
    H.main()
