"""The command line: the same arguments, output and exit codes as `runtime verify`.

Exit codes: 0 VERIFIED; 4 not verified (FAILED or UNSUPPORTED); 1 error (a key file or the
proof file cannot be read); 2 usage."""

import argparse
import json
import os
import sys

from .ed25519 import KeyError_, key_id, load_public_key_pem
from .verify import VERIFIED, verify_document

EXIT_NOT_VERIFIED = 4
MAX_FILE_BYTES = 4 << 30


def error(message, as_json):
    if as_json:
        print(json.dumps({"error": message}))
    print("error: " + " ".join(message.split()), file=sys.stderr)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m runproof_verify",
        description="Verify a RunProof bundle or inclusion proof offline, from the format "
        "specification alone (docs/proof-format.md).",
    )
    parser.add_argument("file", help="a bundle (runtime proof export) or an inclusion proof (runtime proof inclusion)")
    parser.add_argument("--trusted-key", action="append", required=True, metavar="FILE",
                        help="public key (SPKI PEM) whose signature you accept; repeatable")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = parser.parse_args(argv)

    trusted = []
    for path in args.trusted_key:
        try:
            with open(path, encoding="utf-8") as f:
                trusted.append(load_public_key_pem(f.read()))
        except (OSError, UnicodeDecodeError) as e:
            return error("reading trusted key %s: %s" % (path, e), args.json)
        except KeyError_ as e:
            return error("trusted key %s: %s" % (path, e), args.json)
    try:
        if os.path.getsize(args.file) > MAX_FILE_BYTES:
            return error("%s is larger than any proof file" % args.file, args.json)
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        return error("reading %s: %s" % (args.file, e), args.json)

    v = verify_document(data, trusted)
    inclusion = "integrity" not in v
    status = v["verification_status"] if inclusion else v["integrity"]["verification_status"]
    if args.json:
        print(json.dumps(v, indent=2))
    elif inclusion:
        print("file: %s (inclusion proof)" % args.file)
        print("verification_status: %s" % status)
        if v["step_index"] is not None and v["tree_size"] is not None:
            print("step_index: %d of %d" % (v["step_index"], v["tree_size"]))
        if v["signed_head"]:
            c = v["signed_head"]
            print("run_id: %s  tenant_id: %s  trace_id: %s" % (c["run_id"], c["tenant_id"], c["trace_id"]))
            print("merkle_root: %s" % c["merkle_root"])
        if v["step"] is not None:
            print("step: %s" % json.dumps(v["step"], separators=(",", ":")))
        if v["signed_by"]:
            print("signed_by: %s" % v["signed_by"])
        if v["failure_reason"]:
            print("failure_rule: %s" % v["failure_rule"])
            print("failure_reason: %s" % v["failure_reason"])
    else:
        i = v["integrity"]
        print("file: %s (bundle)" % args.file)
        if v["run_id"] is not None:
            print("run_id: %s  tenant_id: %s" % (v["run_id"], v["tenant_id"]))
        print("integrity_model: %s" % i["model"])
        print("verification_status: %s" % status)
        print("chain_length: %d" % i["chain_length"])
        print("root_hash: %s" % (i["root_hash"] or "-"))
        if i["signed_by"]:
            print("signed_by: %s" % i["signed_by"])
        if i["failure_reason"]:
            print("failure_rule: %s" % v["failure_rule"])
            print("failure_reason: %s" % i["failure_reason"])
    return 0 if status == VERIFIED else EXIT_NOT_VERIFIED


if __name__ == "__main__":
    sys.exit(main())
