"""The command line: exit codes and output as `runtime verify` gives them."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PKG_DIR))

with open(os.path.join(ROOT, "docs", "proof-vectors.json"), encoding="utf-8") as f:
    V = json.load(f)


def run(*args):
    env = dict(os.environ, PYTHONPATH=PKG_DIR)
    return subprocess.run([sys.executable, "-m", "runproof_verify", *args],
                          capture_output=True, text=True, env=env)


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.key = self.write("main.pub", V["keys"][0]["public_key_pem"])
        self.other = self.write("other.pub", V["keys"][1]["public_key_pem"])

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def doc(self, name):
        d = next(x for x in V["documents"] if x["name"] == name)
        return self.write(name.replace(" ", "_").replace(",", "") + ".json", d["document"])

    def test_verified_is_exit_0(self):
        r = run(self.doc("bundle v2, five steps"), "--trusted-key", self.key)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("verification_status: VERIFIED", r.stdout)
        r = run("--json", self.doc("inclusion v2, step 2 of 5"), "--trusted-key", self.key)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(json.loads(r.stdout)["verification_status"], "VERIFIED")

    def test_not_verified_is_exit_4_with_the_rule(self):
        r = run(self.doc("bundle v2, five steps"), "--trusted-key", self.other)
        self.assertEqual(r.returncode, 4, r)
        self.assertIn("verification_status: FAILED", r.stdout)
        self.assertIn("failure_rule: head/untrusted-key", r.stdout)
        r = run("--json", self.doc("integrity model NONE"), "--trusted-key", self.key)
        self.assertEqual(r.returncode, 4, r)
        self.assertEqual(json.loads(r.stdout)["integrity"]["verification_status"], "UNSUPPORTED")

    def test_bad_key_file_is_exit_1_one_line(self):
        bad = next(k for k in V["key_files"] if k["name"] == "private key instead")
        r = run(self.doc("bundle v2, five steps"), "--trusted-key", self.write("bad.pem", bad["pem"]))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("PUBLIC KEY", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = run(os.path.join(self.dir.name, "missing.json"), "--trusted-key", self.key)
        self.assertEqual(r.returncode, 1, r)

    def test_no_pinned_key_is_usage_exit_2(self):
        r = run(self.doc("bundle v2, five steps"))
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("--trusted-key", r.stderr)


if __name__ == "__main__":
    unittest.main()
