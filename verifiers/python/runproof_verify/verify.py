"""The verdict rules, in order (spec, "Verdict rules"): reading, each step, the trace row,
the signed head, the signed claims, then what the document shows beside them."""

import hashlib

from . import documents, envelope, hashing, head
from .encoding import strict_b64decode
from .jsonread import JsonError, json_equal, parse_strict
from .rules import Failure

VERIFIED, FAILED, UNSUPPORTED = "VERIFIED", "FAILED", "UNSUPPORTED"


def verify_document(data, trusted):
    """The verdict on a proof file (bytes) against pinned keys (raw 32-byte public keys), as
    a dict shaped like ``runtime --json verify``'s, plus ``failure_rule``."""
    try:
        value = parse_strict(data)
    except JsonError as e:
        kind = "json-syntax" if e.kind == "syntax" else e.kind
        return _rejected(Failure("read/" + kind, "bundle rejected: not strict JSON: %s" % e))
    if documents.is_inclusion(value):
        return verify_inclusion(value, trusted)
    return verify_bundle(value, trusted)


def _rejected(f):
    return {
        "format": documents.BUNDLE_V2,
        "tenant_id": None,
        "run_id": None,
        "trace_id": None,
        "integrity": {
            "model": "NONE",
            "verification_status": FAILED,
            "chain_length": 0,
            "verified_prefix": 0,
            "root_hash": None,
            "merkle_root": None,
            "signed_by": None,
            "failure_reason": f.reason,
        },
        "signed_head": None,
        "failure_rule": f.rule,
    }


class Chain:
    """The steps, one at a time, in stored order (spec, "Each step")."""

    def __init__(self, tenant_id, run_id, trace_id):
        self.expected = 0
        self.prev = hashing.genesis(tenant_id, run_id, trace_id)
        self.tree = hashing.MerkleBuilder()
        self.last_kind = None
        self.last_run_status = None
        self.skill_digests = {}

    def push(self, step):
        i = self.expected
        if step["step_index"] != i:
            if step["step_index"] > i:
                raise Failure("step/index", "step_index %d is missing" % i)
            raise Failure("step/index", "step_index %d appears out of order or twice" % step["step_index"])
        if step["prev_hash"] != self.prev:
            raise Failure("step/link", "step_index %d: prev_hash does not link" % i)
        recomputed = hashing.step_hash(self.prev, i, step["payload"])
        if recomputed != step["hash"]:
            raise Failure("step/hash", "step_index %d: stored payload does not hash to the stored hash" % i)
        h = envelope.read_header(step["payload"])
        if h is None:
            raise Failure("step/envelope", "step_index %d: payload is not a step envelope" % i)
        if h["v"] != envelope.ENVELOPE_VERSION:
            raise Failure("step/version", "step_index %d: envelope version %d is not supported" % (i, h["v"]))
        for rule, column, field in envelope.COLUMNS:
            if step[column] != h[field]:
                raise Failure(rule, "step_index %d: %s column differs from the hashed %s" % (i, column, field))
        if i == 0:
            if h["kind"] != "run.start":
                raise Failure("step/first-kind", "step_index 0 is %s but a trace starts with run.start" % h["kind"])
            digests = envelope.run_start_digests(step["payload"])
            if digests is None:
                raise Failure("step/run-start", "step_index 0: run.start does not list its skills")
            self.skill_digests = digests
        elif h["kind"] == "run.start":
            raise Failure("step/second-run-start", "step_index %d: a second run.start" % i)
        if self.last_kind == "run.end":
            raise Failure("step/after-run-end", "step_index %d follows run.end" % i)
        self.last_kind = h["kind"]
        self.last_run_status = h["run_status"]
        self.prev = recomputed
        self.tree.push(hashing.leaf_hash(i, recomputed))
        self.expected += 1


def verify_bundle(value, trusted):
    try:
        fmt, b = documents.read_bundle(value)
    except Failure as f:
        f.reason = "bundle rejected: " + f.reason
        return _rejected(f)
    t = b["trace"]
    chain = Chain(t["tenant_id"], t["run_id"], t["trace_id"])
    step_failure = None
    for s in b["steps"]:
        try:
            chain.push({
                "step_index": s["step_index"],
                "kind": s["kind"],
                "skill_name": s["skill_name"],
                "status": s["status"],
                "duration_ms": s["duration_ms"],
                "cost_cents": s["cost_cents"],
                "payload": strict_b64decode(s["payload"]),
                "prev_hash": bytes.fromhex(s["prev_hash"]),
                "hash": bytes.fromhex(s["hash"]),
            })
        except Failure as f:
            step_failure = f
            break
    signed = b["signed_head"]
    if signed is None:
        env = None
    elif fmt == documents.BUNDLE_V1:
        env = signed.encode("utf-8")
    else:
        env = signed["envelope"]
    status, model, signer, claims, failure = _finish(chain, t, env, trusted, step_failure)
    if status == VERIFIED:
        # What the bundle shows beside the verified head (spec, "Beside the head").
        if not json_equal(claims["skill_digests"], b["skill_digests"]):
            failure = Failure("bundle/skill-digests", "the bundle's skill_digests differ from the signed skill digests")
        elif fmt == documents.BUNDLE_V2 and not json_equal(
            head.carried_statement(signed["envelope"]), signed["statement"]
        ):
            failure = Failure("bundle/statement", "the bundle's signed_head.statement differs from the statement the signed envelope carries")
        else:
            failure = component_failure(b, claims)
        if failure is not None:
            status, signer = FAILED, None
    has_steps = chain.expected > 0
    chain_head = chain.prev.hex() if has_steps else None
    merkle_root = chain.tree.root().hex() if has_steps else None
    return {
        "format": fmt,
        "tenant_id": t["tenant_id"],
        "run_id": t["run_id"],
        "trace_id": t["trace_id"],
        "integrity": {
            "model": model,
            "verification_status": status,
            "chain_length": chain.expected,
            "verified_prefix": chain.expected,
            "root_hash": merkle_root if model == "MERKLE_TREE" else chain_head,
            "merkle_root": merkle_root,
            "signed_by": signer,
            "failure_reason": failure.reason if failure else None,
        },
        "signed_head": claims if status == VERIFIED else None,
        "failure_rule": failure.rule if failure else None,
    }


def _finish(chain, t, env, trusted, step_failure):
    """The trace row, the head and the claims (spec, "The trace row" onwards). Returns
    (status, model, signer, claims, failure)."""
    model = t["integrity_model"]
    if model not in head.MODELS:
        reason = ("integrity model %s cannot be verified" % model if model == "NONE"
                  else "unknown integrity model %r" % model)
        return UNSUPPORTED, "NONE", None, None, Failure("trace/model", reason)
    try:
        claims, signer = _check_head(chain, t, model, env, trusted, step_failure)
    except Failure as f:
        return FAILED, model, None, None, f
    return VERIFIED, model, signer, claims, None


def _check_head(chain, t, model, env, trusted, step_failure):
    if step_failure is not None:
        raise step_failure
    n = chain.expected
    if t["chain_length"] is None or t["root_hash"] is None:
        raise Failure("trace/not-sealed", "trace %s is not sealed (status %s)" % (t["trace_id"], t["status"]))
    if t["chain_length"] > n:
        raise Failure("trace/length", "step_index %d is missing: sealed chain_length is %d" % (n, t["chain_length"]))
    if t["chain_length"] < n:
        raise Failure("trace/length", "step_index %d is beyond the sealed chain_length" % t["chain_length"])
    chain_head = chain.prev.hex()
    merkle_root = chain.tree.root().hex()
    model_root = merkle_root if model == "MERKLE_TREE" else chain_head
    if n == 0 or t["root_hash"] != model_root:
        raise Failure("trace/root", "sealed root_hash does not match the recomputed root")
    if chain.last_kind != "run.end":
        raise Failure("trace/cut-short", "step_index %d is not run.end: the trace is cut short" % (n - 1))
    if chain.last_run_status != t["status"]:
        raise Failure("trace/run-end-status", "trace status %r differs from the status sealed in run.end (%r)" % (t["status"], chain.last_run_status))
    if env is None:
        raise Failure("trace/unsigned", "the trace head is not signed")
    claims, signer = _signed(env, trusted)
    _compare_claims(claims, t, chain, chain_head, merkle_root)
    return claims, signer


def _signed(env, trusted):
    try:
        claims, signer = head.verify_head(env, trusted)
        head.validate_claims(claims)
    except Failure as f:
        f.reason = "signed head rejected: " + f.reason
        raise
    return claims, signer


def _compare_claims(c, t, chain, chain_head, merkle_root):
    """Spec, "The signed claims": each claim against what was recomputed or the row."""
    for f in ("tenant_id", "run_id", "trace_id"):
        if c[f] != t[f]:
            raise Failure("claims/ids", "signed head is for another trace: signed %s %r, found %r" % (f, c[f], t[f]))
    if c["integrity_model"] != t["integrity_model"]:
        raise Failure("claims/model", "integrity model %r differs from the signed %r (a downgrade is refused)" % (t["integrity_model"], c["integrity_model"]))
    if c["chain_length"] != chain.expected:
        raise Failure("claims/chain-length", "signed chain_length %d differs from the %d steps recomputed" % (c["chain_length"], chain.expected))
    if c["root_hash"] != chain_head:
        raise Failure("claims/chain-head", "signed chain head differs from the recomputed chain head")
    if c["merkle_root"] != merkle_root:
        raise Failure("claims/merkle-root", "signed Merkle root differs from the recomputed Merkle root")
    if c["status"] != t["status"]:
        raise Failure("claims/status", "trace status %r differs from the signed status %r" % (t["status"], c["status"]))
    if not json_equal(c["skill_digests"], chain.skill_digests):
        raise Failure("claims/skill-digests", "signed skill digests differ from the skills recorded in run.start")


def verify_inclusion(value, trusted):
    out = {
        "format": documents.INCLUSION_V2,
        "verification_status": FAILED,
        "step_index": None,
        "tree_size": None,
        "signed_head": None,
        "step": None,
        "signed_by": None,
        "failure_reason": None,
        "failure_rule": None,
    }
    try:
        claims, signer, payload = _check_inclusion(value, trusted, out)
    except Failure as f:
        out["failure_reason"], out["failure_rule"] = f.reason, f.rule
        return out
    out["verification_status"] = VERIFIED
    out["signed_head"] = claims
    out["signed_by"] = signer
    try:
        import json
        out["step"] = json.loads(payload)
    except ValueError:
        out["step"] = None
    return out


def _check_inclusion(value, trusted, out):
    try:
        fmt, p = documents.read_inclusion(value)
    except Failure as f:
        f.reason = "inclusion proof rejected: " + f.reason
        raise
    out["format"] = fmt
    step = p["step"]
    out["step_index"], out["tree_size"] = step["step_index"], p["tree_size"]
    env = p["signed_head"].encode("utf-8") if fmt == documents.INCLUSION_V1 else p["signed_head"]["envelope"]
    claims, signer = _signed(env, trusted)
    if p["tree_size"] != claims["chain_length"]:
        raise Failure("inclusion/tree-size", "tree_size %d differs from the signed chain_length %d" % (p["tree_size"], claims["chain_length"]))
    payload = strict_b64decode(step["payload"])
    if payload is None:
        raise Failure("inclusion/base64", "step.payload is not strict standard base64")
    path = [documents.digest(h, "audit_path[%d]" % n, "inclusion/hex") for n, h in enumerate(p["audit_path"])]
    prev = documents.digest(step["prev_hash"], "step.prev_hash", "inclusion/hex")
    root = bytes.fromhex(claims["merkle_root"])
    i = step["step_index"]
    leaf = hashing.leaf_hash(i, hashing.step_hash(prev, i, payload))
    broken = hashing.verify_inclusion(leaf, i, p["tree_size"], path, root)
    if broken is not None:
        raise Failure(broken, "step %d is not in the signed trace (%s)" % (i, broken))
    if envelope.read_header(payload) is None:
        raise Failure("inclusion/envelope", "step payload is not a step envelope")
    if fmt == documents.INCLUSION_V2 and not json_equal(
        head.carried_statement(p["signed_head"]["envelope"]), p["signed_head"]["statement"]
    ):
        raise Failure("inclusion/statement", "the inclusion proof's signed_head.statement differs from the statement the signed envelope carries")
    return claims, signer, payload


def component_failure(b, claims):
    """Spec, verdict rules A.9: each component is exactly a component the head signs."""
    signed = set(claims["skill_digests"].values())
    components = documents.components_of(b)
    for key in documents.byte_order(components):
        actual = hashlib.sha256(strict_b64decode(components[key])).hexdigest()
        if actual != key:
            return Failure("bundle/component-digest", "the bundle's component %s has sha256 %s: it is not that component" % (key, actual))
        if key not in signed:
            return Failure("bundle/component-unsigned", "the bundle carries component %s, which the signed head does not name" % key)
    return None
