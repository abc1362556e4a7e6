#!/usr/bin/python3
"""Runs deploy/docker/entrypoint.sh with a stub weft: patterns in WEFT_TARGETS
must become --pid arguments for the matching processes, and other commands
must pass through untouched."""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy/docker/entrypoint.sh"


class EntrypointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.stub = Path(self.tmp.name) / "weft"
        # Prints each argument on its own line.
        self.stub.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
        self.stub.chmod(0o755)
        # A target with a distinctive command line: sleep run via a symlink name.
        self.marker = f"weft-entrypoint-target-{os.getpid()}"
        link = Path(self.tmp.name) / self.marker
        link.symlink_to("/bin/sleep")
        self.target = subprocess.Popen([str(link), "60"])

    def tearDown(self):
        self.target.kill()
        self.target.wait()
        self.tmp.cleanup()

    def run_entrypoint(self, args, **env):
        environment = dict(os.environ, WEFT_BIN=str(self.stub), WEFT_WAIT_SECONDS="5")
        for inherited in ["WEFT_TARGETS", "WEFT_PIDS"]:
            environment.pop(inherited, None)
        environment.update(env)
        return subprocess.run(["/bin/sh", str(ENTRYPOINT), *args], env=environment,
                              capture_output=True, text=True, timeout=30)

    def test_targets_become_pid_arguments(self):
        result = self.run_entrypoint(["run", "--exporter", "otlp"],
                                     WEFT_TARGETS=self.marker, WEFT_PIDS="1")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(),
                         ["run", "--pid", "1", "--pid", str(self.target.pid),
                          "--exporter", "otlp"])

    def test_other_commands_pass_through(self):
        result = self.run_entrypoint(["check", "--json"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["check", "--json"])

    def test_pattern_without_process_fails_with_a_hint(self):
        result = self.run_entrypoint(["run"], WEFT_TARGETS="no-such-process-xyz-123",
                                     WEFT_WAIT_SECONDS="1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("pid: host", result.stderr)

    def test_nothing_to_trace_is_an_error(self):
        result = self.run_entrypoint(["run"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("WEFT_TARGETS", result.stderr)


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
