"""The signed head: a DSSE envelope carrying an in-toto Statement v1 whose predicate is the
trace-head claims (spec, "The signed head"). The claims are the one table to change when
the head changes."""

from .encoding import is_digest_hex, strict_b64decode
from .ed25519 import key_id, verify_strict
from .jsonread import JsonError, parse_strict
from .rules import Failure, check_object, check_types

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://runproof.dev/attestations/trace-head/v2"
PREDICATE_TYPE_V1 = "https://runproof.dev/attestations/trace-head/v1"
SUBJECT_PREFIX = "runproof:run:"
MODELS = ("HASH_CHAIN", "MERKLE_TREE")

ENVELOPE = [("payloadType", "string"), ("payload", "string"),
            ("signatures", ("list", ("object", [("keyid", "string"), ("sig", "string")])))]
SIGNATURE = ["keyid", "sig"]
STATEMENT = [("_type", "string"),
             ("subject", ("list", ("object", [("name", "string"),
                                              ("digest", ("object", [("sha256", "string")]))]))),
             ("predicateType", "string"), ("predicate", "any")]

# The predicate: every claim, its type. Version 1 (still read) is the first eleven; version 2
# adds the trace row's sealed_at and the run row.
CLAIMS_V1 = [
    ("tenant_id", "string"),
    ("run_id", "string"),
    ("trace_id", "string"),
    ("integrity_model", "string"),
    ("chain_length", "u64"),
    ("root_hash", "string"),
    ("merkle_root", "string"),
    ("skill_digests", ("map", "string")),
    ("status", "string"),
    ("started_at", "string"),
    ("completed_at", "string"),
]
RUN = [
    ("agent_id", "string"),
    ("origin_system_id", "string"),
    ("goal", "string"),
    ("plan_sha256", "string"),
    ("error_message", ("option", "string")),
    ("created_at", "string"),
    ("duration_ms", "u64"),
]
# null passes the type of sealed_at (and is refused as head/claim, rule 8); a null run is
# refused earlier, by its shape check.
CLAIMS_V2 = CLAIMS_V1 + [("sealed_at", ("option", "string")), ("run", ("object", RUN))]
DIGEST_CLAIMS = ["root_hash", "merkle_root"]
NON_EMPTY_CLAIMS = ["tenant_id", "run_id", "trace_id", "status", "started_at", "completed_at"]
NON_EMPTY_RUN = ["agent_id", "origin_system_id", "created_at"]


def claims_of_version(predicate_type):
    """The claims a predicate must have: v1's for the v1 type, else v2's (an unknown type is
    read as v2 and refused at rule 7)."""
    return CLAIMS_V1 if predicate_type == PREDICATE_TYPE_V1 else CLAIMS_V2


def pae(payload_type, body):
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def _strict(data, what):
    try:
        return parse_strict(data)
    except JsonError as e:
        raise Failure("head/" + ("json-syntax" if e.kind == "syntax" else e.kind),
                      "%s: %s" % (what, e)) from None


def verify_head(envelope, trusted):
    """Verifies an envelope (JSON text as bytes, or an already parsed value) against the
    pinned keys (raw 32-byte public keys). Returns (claims, signer key id); raises Failure."""
    if isinstance(envelope, (bytes, bytearray)):
        envelope = _strict(envelope, "envelope")
    # 1. The envelope.
    check_object(envelope, [n for n, _ in ENVELOPE], "envelope", "head")
    if isinstance(envelope["signatures"], list):
        for s in envelope["signatures"]:
            check_object(s, SIGNATURE, "signature", "head")
    check_types(envelope, ENVELOPE, "envelope", "head")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise Failure("head/payload-type", "payloadType is %r" % envelope["payloadType"])
    sigs = envelope["signatures"]
    if not sigs:
        raise Failure("head/no-signature", "envelope has no signature")
    if len(sigs) > 1:
        raise Failure("head/too-many-signatures", "envelope has %d signatures" % len(sigs))
    body = strict_b64decode(envelope["payload"])
    if body is None:
        raise Failure("head/base64", "payload is not strict standard base64")
    sig = strict_b64decode(sigs[0]["sig"])
    if sig is None:
        raise Failure("head/base64", "signature sig is not strict standard base64")
    if len(sig) != 64:
        raise Failure("head/signature-length", "signature is %d bytes" % len(sig))
    # 2. The signature, over exactly the carried bytes, before anything reads them.
    message = pae(envelope["payloadType"], body)
    claimed = sigs[0]["keyid"]
    named = [k for k in trusted if key_id(k) == claimed]
    if named:
        if not verify_strict(named[0], message, sig):
            raise Failure("head/bad-signature",
                          "signature does not verify with trusted key %s" % claimed)
        signer = claimed
    else:
        for k in trusted:
            if verify_strict(k, message, sig):
                raise Failure("head/keyid-mismatch",
                              "signature keyid %s does not name trusted key %s, which made "
                              "the signature" % (claimed, key_id(k)))
        raise Failure("head/untrusted-key", "signed by key %s, which is not trusted" % claimed)
    # 3. The statement.
    st = _strict(body, "statement")
    check_object(st, [n for n, _ in STATEMENT], "statement", "head")
    if isinstance(st["subject"], list):
        for s in st["subject"]:
            check_object(s, ["name", "digest"], "subject", "head")
            check_object(s["digest"], ["sha256"], "subject digest", "head")
    fields = claims_of_version(st["predicateType"])
    check_object(st["predicate"], [n for n, _ in fields], "predicate", "head")
    if "run" in st["predicate"]:
        check_object(st["predicate"]["run"], [n for n, _ in RUN], "predicate run", "head")
    check_types(st, STATEMENT, "statement", "head")
    claims = st["predicate"]
    check_types(claims, fields, "predicate", "head")
    if st["_type"] != STATEMENT_TYPE:
        raise Failure("head/statement-type", "statement _type is %r" % st["_type"])
    if st["predicateType"] not in (PREDICATE_TYPE, PREDICATE_TYPE_V1):
        raise Failure("head/predicate-type", "statement predicateType is %r" % st["predicateType"])
    _well_formed(claims)
    if len(st["subject"]) != 1:
        raise Failure("head/subject", "%d subjects, expected exactly one" % len(st["subject"]))
    subject = st["subject"][0]
    name = "%s%s/%s" % (SUBJECT_PREFIX, claims["tenant_id"], claims["run_id"])
    if subject["name"] != name:
        raise Failure("head/subject", "subject name %r is not %r" % (subject["name"], name))
    if subject["digest"]["sha256"] != claims["root_hash"]:
        raise Failure("head/subject", "subject sha256 is not the predicate's root_hash")
    return claims, signer


def _well_formed(claims):
    if "run" in claims:
        if claims["sealed_at"] is None:
            raise Failure("head/claim", "claim sealed_at is missing; a v2 head states both sealed_at and run")
        if not is_digest_hex(claims["run"]["plan_sha256"]):
            raise Failure("head/claim", "claim run.plan_sha256 is not a SHA-256 digest in hex")
    for f in DIGEST_CLAIMS:
        if not is_digest_hex(claims[f]):
            raise Failure("head/claim", "claim %s is not a SHA-256 digest in hex" % f)
    for skill in sorted(claims["skill_digests"], key=lambda s: s.encode("utf-8")):
        if not is_digest_hex(claims["skill_digests"][skill]):
            raise Failure("head/claim", "claim skill_digests[%r] is not a digest" % skill)


def validate_claims(claims):
    """The claims on their own (after the signature verified)."""
    _well_formed(claims)
    if claims["integrity_model"] not in MODELS:
        raise Failure("head/claim-model",
                      "integrity model %r cannot be claimed by a trace head" % claims["integrity_model"])
    if claims["chain_length"] == 0:
        raise Failure("head/claim", "claim chain_length is 0; a sealed trace has steps")
    for f in NON_EMPTY_CLAIMS:
        if claims[f] == "":
            raise Failure("head/claim", "claim %s is empty" % f)
    if "" in claims["skill_digests"]:
        raise Failure("head/claim", "claim skill_digests has an empty skill name")
    if "run" in claims:
        if claims["sealed_at"] == "":
            raise Failure("head/claim", "claim sealed_at is empty")
        for f in NON_EMPTY_RUN:
            if claims["run"][f] == "":
                raise Failure("head/claim", "claim run.%s is empty" % f)


def carried_statement(envelope):
    """The statement an envelope value carries (for the v2 statement check), or None."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str):
        return None
    body = strict_b64decode(envelope["payload"])
    if body is None:
        return None
    try:
        return parse_strict(body)
    except JsonError:
        return None
