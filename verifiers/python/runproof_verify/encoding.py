"""Hex and base64 as the format spells them (spec, "Encodings")."""

import base64
import binascii

HEX_DIGITS = frozenset("0123456789abcdef")


def is_digest_hex(s):
    """Exactly 64 lower-case hex characters."""
    return isinstance(s, str) and len(s) == 64 and all(c in HEX_DIGITS for c in s)


def digest_error(s):
    """Why ``s`` is not a digest in hex ("wrong length" / "not lower-case hex"), or None."""
    if len(s) != 64:
        return "wrong length"
    if not all(c in HEX_DIGITS for c in s):
        return "not lower-case hex"
    return None


def strict_b64decode(s):
    """RFC 4648 section 4 base64 with padding, canonical: the text must be exactly the
    encoding of the bytes it decodes to (no missing padding, no non-zero trailing bits, no
    whitespace, no other alphabet). Returns bytes, or None."""
    if not isinstance(s, str) or not s.isascii():
        return None
    try:
        data = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(data).decode("ascii") != s:
        return None
    return data
