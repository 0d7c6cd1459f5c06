"""The bundle and the inclusion proof, read (spec, "The bundle", "The inclusion proof",
"Which document is it"). Versions differ only in how the signed head is carried."""

from .encoding import digest_error, strict_b64decode
from .rules import Failure, check_object, check_types

BUNDLE_V1 = "runproof-bundle/v1"
BUNDLE_V2 = "runproof-bundle/v2"
INCLUSION_V1 = "runproof-inclusion/v1"
INCLUSION_V2 = "runproof-inclusion/v2"
INCLUSION_FORMATS = (INCLUSION_V1, INCLUSION_V2)

SIGNED_HEAD = [("envelope", "any"), ("statement", "any")]
# How each version carries the signed head: the type of the document's signed_head field.
HEAD_TYPE = {
    BUNDLE_V1: ("option", "string"),
    BUNDLE_V2: ("option", ("object", SIGNED_HEAD)),
    INCLUSION_V1: "string",
    INCLUSION_V2: ("object", SIGNED_HEAD),
}

TRACE = [
    ("tenant_id", "string"),
    ("run_id", "string"),
    ("trace_id", "string"),
    ("integrity_model", "string"),
    ("status", "string"),
    ("chain_length", ("option", "u64")),
    ("root_hash", ("option", "string")),
]
STEP = [
    ("step_index", "u64"),
    ("kind", "string"),
    ("skill_name", ("option", "string")),
    ("status", "string"),
    ("duration_ms", ("option", "u64")),
    ("cost_cents", "u64"),
    ("payload", "string"),
    ("prev_hash", "string"),
    ("hash", "string"),
]
INCLUDED_STEP = [("step_index", "u64"), ("payload", "string"), ("prev_hash", "string")]


# The one optional field (v2 only): component digest -> base64 of its bytes.
COMPONENTS = ("components", ("option", ("map", "string")))


def bundle_fields(fmt, value=None):
    fields = [
        ("format", "string"),
        ("trace", ("object", TRACE)),
        ("signed_head", HEAD_TYPE[fmt]),
        ("skill_digests", ("map", "string")),
        ("steps", ("list", ("object", STEP))),
    ]
    if fmt == BUNDLE_V2 and isinstance(value, dict) and COMPONENTS[0] in value:
        fields.append(COMPONENTS)
    return fields


def components_of(value):
    """The bundle's components, digest -> base64 text ({} when absent or null)."""
    return value.get(COMPONENTS[0]) or {}


def byte_order(keys):
    return sorted(keys, key=lambda s: s.encode("utf-8"))


def inclusion_fields(fmt):
    return [
        ("format", "string"),
        ("signed_head", HEAD_TYPE[fmt]),
        ("tree_size", "u64"),
        ("step", ("object", INCLUDED_STEP)),
        ("audit_path", ("list", "string")),
    ]


def document_format(value, what, known):
    if not isinstance(value, dict):
        raise Failure("read/type", "%s is malformed: not a JSON object" % what)
    if "format" not in value:
        raise Failure("read/missing-field", '%s is missing field "format"' % what)
    fmt = value["format"]
    if not isinstance(fmt, str):
        raise Failure("read/type", "%s is malformed: format is not a string" % what)
    if fmt not in known:
        raise Failure("read/format", "format is %r, expected one of %s" % (fmt, ", ".join(known)))
    return fmt


def is_inclusion(value):
    return isinstance(value, dict) and value.get("format") in INCLUSION_FORMATS


def _v2_head(fmt):
    return fmt in (BUNDLE_V2, INCLUSION_V2)


def read_bundle(value):
    """A strictly parsed bundle, checked in the spec's order; raises Failure("read/...")."""
    fmt = document_format(value, "bundle", (BUNDLE_V1, BUNDLE_V2))
    fields = bundle_fields(fmt, value)
    check_object(value, [n for n, _ in fields], "bundle", "read")
    check_object(value["trace"], [n for n, _ in TRACE], "bundle trace", "read")
    if _v2_head(fmt) and isinstance(value["signed_head"], dict):
        check_object(value["signed_head"], [n for n, _ in SIGNED_HEAD], "bundle signed_head", "read")
    if isinstance(value["steps"], list):
        for s in value["steps"]:
            check_object(s, [n for n, _ in STEP], "bundle step", "read")
    check_types(value, fields, "bundle", "read")
    trace = value["trace"]
    if trace["root_hash"] is not None:
        _digest(trace["root_hash"], "trace.root_hash", "read/hex")
    for name in sorted(value["skill_digests"], key=lambda s: s.encode("utf-8")):
        _digest(value["skill_digests"][name], "skill_digests[%r]" % name, "read/hex")
    for n, s in enumerate(value["steps"]):
        _digest(s["prev_hash"], "steps[%d].prev_hash" % n, "read/hex")
        _digest(s["hash"], "steps[%d].hash" % n, "read/hex")
        if strict_b64decode(s["payload"]) is None:
            raise Failure("read/base64", "steps[%d].payload is not strict standard base64" % n)
    components = components_of(value)
    for key in byte_order(components):
        _digest(key, "components[%r]" % key, "read/hex")
        if strict_b64decode(components[key]) is None:
            raise Failure("read/base64", "components[%r] is not strict standard base64" % key)
    return fmt, value


def read_inclusion(value):
    """A strictly parsed inclusion proof: format, shape and types. Its hex and base64 are
    checked later, after the head (spec order)."""
    fmt = document_format(value, "inclusion proof", INCLUSION_FORMATS)
    fields = inclusion_fields(fmt)
    check_object(value, [n for n, _ in fields], "inclusion proof", "read")
    if _v2_head(fmt) and isinstance(value["signed_head"], dict):
        check_object(value["signed_head"], [n for n, _ in SIGNED_HEAD],
                     "inclusion proof signed_head", "read")
    check_object(value["step"], [n for n, _ in INCLUDED_STEP], "inclusion proof step", "read")
    check_types(value, fields, "inclusion proof", "read")
    return fmt, value


def _digest(s, field, rule):
    why = digest_error(s)
    if why is not None:
        raise Failure(rule, "%s is not 32 bytes of lower-case hex (%s)" % (field, why))
    return bytes.fromhex(s)


def digest(s, field, rule):
    return _digest(s, field, rule)
