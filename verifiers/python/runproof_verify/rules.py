"""Failures and the shape checks every phase shares (spec, "Verdict rules")."""


class Failure(Exception):
    """The first rule a document breaks: ``rule`` is the spec's id, ``reason`` for people."""

    def __init__(self, rule, reason):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def check_object(value, fields, what, phase):
    """``value`` is an object with exactly ``fields``: unknown fields first, then missing."""
    if not isinstance(value, dict):
        raise Failure(phase + "/type", "%s is malformed: not a JSON object" % what)
    for key in value:
        if key not in fields:
            raise Failure(phase + "/unknown-field", '%s has unknown field "%s"' % (what, key))
    for f in fields:
        if f not in value:
            raise Failure(phase + "/missing-field", '%s is missing field "%s"' % (what, f))
    return value


def has_type(value, t):
    """Whether a strictly parsed value has type ``t``: "string", "u64", "any",
    ("option", t), ("list", t), ("map", t) (an object of t), ("object", [(name, t)...])."""
    if t == "any":
        return True
    if t == "string":
        return isinstance(value, str)
    if t == "u64":
        return type(value) is int and value >= 0
    kind, inner = t
    if kind == "option":
        return value is None or has_type(value, inner)
    if kind == "list":
        return isinstance(value, list) and all(has_type(v, inner) for v in value)
    if kind == "map":
        return isinstance(value, dict) and all(has_type(v, inner) for v in value.values())
    if kind == "object":
        return isinstance(value, dict) and all(
            name in value and has_type(value[name], ft) for name, ft in inner
        )
    raise AssertionError("unknown type %r" % (t,))


def check_types(value, fields, what, phase):
    """Every field of an object (already shape-checked) has its declared type."""
    for name, t in fields:
        if not has_type(value[name], t):
            raise Failure(phase + "/type", "%s is malformed: field %s has the wrong type" % (what, name))
