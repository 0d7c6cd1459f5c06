"""The Python verifier against docs/proof-vectors.json, the vectors the Rust reference
generated: every primitive, every key file, and every document's verdict and rule.

Run from the repository root: python3 -m unittest discover -s verifiers/python/tests
"""

import base64
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

from runproof_verify import ed25519, hashing, head  # noqa: E402
from runproof_verify.verify import verify_document  # noqa: E402

with open(os.path.join(ROOT, "docs", "proof-vectors.json"), encoding="utf-8") as f:
    V = json.load(f)

KEYS = {k["name"]: bytes.fromhex(k["public_key_hex"]) for k in V["keys"]}


def h(b):
    return b.hex()


class Primitives(unittest.TestCase):
    def test_keys(self):
        for k in V["keys"]:
            raw = ed25519.load_public_key_pem(k["public_key_pem"])
            self.assertEqual(h(raw), k["public_key_hex"])
            self.assertEqual(ed25519.key_id(raw), k["key_id"])

    def test_genesis(self):
        for c in V["genesis"]:
            self.assertEqual(h(hashing.genesis(c["tenant_id"], c["run_id"], c["trace_id"])), c["genesis"], c)

    def test_step_hash(self):
        for c in V["step_hash"]:
            got = hashing.step_hash(bytes.fromhex(c["prev_hash"]), c["step_index"], base64.b64decode(c["payload_b64"]))
            self.assertEqual(h(got), c["hash"], c)

    def test_merkle(self):
        m = V["merkle"]
        for c in m["leaf"]:
            self.assertEqual(h(hashing.leaf_hash(c["step_index"], bytes.fromhex(c["chain_hash"]))), c["leaf_hash"])
        for c in m["node"]:
            self.assertEqual(h(hashing.node_hash(bytes.fromhex(c["left"]), bytes.fromhex(c["right"]))), c["node_hash"])
        for t in m["trees"]:
            leaves = [hashing.leaf_hash(i, bytes.fromhex(x)) for i, x in enumerate(t["chain_hashes"])]
            self.assertEqual(h(hashing.root_of(leaves)), t["root"], t["tree_size"])
            b = hashing.MerkleBuilder()
            for leaf in leaves:
                b.push(leaf)
            self.assertEqual(h(b.root()), t["root"])
            for p in t["audit_paths"]:
                path = [bytes.fromhex(x) for x in p["audit_path"]]
                i = p["index"]
                self.assertIsNone(hashing.verify_inclusion(leaves[i], i, t["tree_size"], path, bytes.fromhex(t["root"])))
                if path:
                    self.assertIsNotNone(hashing.verify_inclusion(leaves[i], i, t["tree_size"], path[:-1], bytes.fromhex(t["root"])))

    def test_pae(self):
        for c in V["pae"]:
            self.assertEqual(h(head.pae(c["payload_type"], base64.b64decode(c["body_b64"]))), c["pae_hex"])

    def test_statement(self):
        s = V["statement"]
        claims, signer = head.verify_head(s["envelope_json"].encode(), [KEYS["main"]])
        self.assertEqual(claims, s["claims"])
        self.assertEqual(signer, s["signed_by"])
        self.assertEqual(h(head.pae(head.PAYLOAD_TYPE, s["statement_utf8"].encode())), s["pae_hex"])
        self.assertTrue(ed25519.verify_strict(KEYS["main"], bytes.fromhex(s["pae_hex"]), bytes.fromhex(s["signature_hex"])))

    def test_key_files(self):
        for c in V["key_files"]:
            try:
                raw = ed25519.load_public_key_pem(c["pem"])
                got = ("ok", ed25519.key_id(raw))
            except ed25519.KeyError_:
                got = ("error", None)
            self.assertEqual(got, (c["result"], c.get("key_id")), c["name"])


def comparable(v):
    """The parts of a verdict both verifiers must agree on (reasons are for people)."""
    if "integrity" in v:
        i = dict(v["integrity"])
        i.pop("failure_reason")
        return {"kind": "bundle", "format": v["format"], "ids": [v["tenant_id"], v["run_id"], v["trace_id"]],
                "integrity": i, "signed_head": v["signed_head"]}
    return {"kind": "inclusion", "format": v["format"], "status": v["verification_status"],
            "step_index": v["step_index"], "tree_size": v["tree_size"], "signed_head": v["signed_head"],
            "signed_by": v["signed_by"], "step_kind": (v["step"] or {}).get("kind")}


class Documents(unittest.TestCase):
    def test_every_document(self):
        self.assertGreater(len(V["documents"]), 100)
        for c in V["documents"]:
            with self.subTest(c["name"]):
                data = c["document"].encode("utf-8") if "document" in c else base64.b64decode(c["document_b64"])
                got = verify_document(data, [KEYS[k] for k in c["trusted_keys"]])
                want = c["expected"]
                self.assertEqual(got["failure_rule"], want["rule"], got.get("failure_reason") or got.get("integrity", {}).get("failure_reason"))
                self.assertEqual(comparable(got), comparable(want["verdict"]))


if __name__ == "__main__":
    unittest.main()
