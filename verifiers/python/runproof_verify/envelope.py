"""The step envelope: what a step's payload must say, and which row columns it binds
(spec, "The step envelope"). Change this module, and only this one, when the envelope
changes."""

from .jsonread import NO_DEFAULT, RecordError, read_record

ENVELOPE_VERSION = 1

KINDS = [
    "run.start", "skill.start", "skill.end", "skill.skipped", "host.log", "host.denied",
    "host.http", "host.intent", "host.clock.wall", "host.clock.monotonic", "host.random",
    "host.stdout", "host.stderr", "run.end",
]
STATUSES = ["success", "failure", "retry", "skipped"]

# The header, in declaration order (the order of the array form): name, type, default.
HEADER = [
    ("v", "u32", NO_DEFAULT),
    ("kind", ("enum", KINDS), NO_DEFAULT),
    ("skill", ("option", "string"), None),
    ("status", ("enum", STATUSES), NO_DEFAULT),
    ("duration_ms", ("option", "u64"), None),
    ("run_status", ("option", "string"), None),
    ("cost_cents", "u64", 0),
]

# What run.start must say beyond its header: the skills that ran and their digests.
RUN_START = [
    ("body", ("record", [
        ("skills", ("map", ("record", [("digest", "string", NO_DEFAULT)])), {}),
    ]), NO_DEFAULT),
]

# The row columns the header binds, in the order they are compared: rule, column, field.
COLUMNS = [
    ("step/kind-column", "kind", "kind"),
    ("step/skill-column", "skill_name", "skill"),
    ("step/status-column", "status", "status"),
    ("step/duration-column", "duration_ms", "duration_ms"),
    ("step/cost-column", "cost_cents", "cost_cents"),
]


def read_header(payload):
    """The header of a payload, or None if the payload is not a step envelope."""
    try:
        return read_record(payload, HEADER)
    except RecordError:
        return None


def run_start_digests(payload):
    """Skill name -> component digest from a run.start payload, or None if it has none."""
    try:
        body = read_record(payload, RUN_START)["body"]
    except RecordError:
        return None
    return {name: s["digest"] for name, s in body["skills"].items()}
