"""JSON reading, as docs/proof-format.md ("Reading JSON") defines it.

Two readers over one scanner:

* ``parse_strict``: one JSON value of the grammar of RFC 8259, with no duplicate key, every
  number an integer within +-(2^53-1), strings of valid UTF-8 with paired surrogate escapes,
  at most 127 nested arrays/objects, and nothing but whitespace after it. Used for every
  document, envelope and statement.
* ``read_record``: the lenient reading of a step payload's header (spec, "Reading a payload's
  header"): only the declared fields are read and typed; every other value is skipped after
  a syntax check that looks at neither nesting depth, UTF-8 nor surrogate escapes.

Errors are ``JsonError(kind, message)`` with kind one of ``syntax``, ``duplicate-key``,
``number``, ``trailing-data``; record errors are ``RecordError``.
"""

MAX_SAFE_INTEGER = (1 << 53) - 1
MAX_DEPTH = 127
WHITESPACE = b" \t\n\r"


class JsonError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class RecordError(Exception):
    """A payload that does not read as the declared record."""


class _Scanner:
    def __init__(self, data):
        self.data = bytes(data)
        self.i = 0

    def fail(self, message, kind="syntax"):
        raise JsonError(kind, "%s at byte %d" % (message, self.i))

    def ws(self):
        d, n = self.data, len(self.data)
        while self.i < n and d[self.i] in WHITESPACE:
            self.i += 1

    def peek(self):
        return self.data[self.i] if self.i < len(self.data) else None

    def expect(self, byte):
        if self.peek() != byte:
            self.fail("expected %r" % chr(byte))
        self.i += 1

    def literal(self, word):
        if self.data[self.i : self.i + len(word)] != word:
            self.fail("invalid literal")
        self.i += len(word)

    # Strings -----------------------------------------------------------------------------

    def string(self, validate=True):
        """Reads a string after its opening quote. Returns its text, or None when not
        validating (the string is then only checked for control characters and escapes)."""
        d, n = self.data, len(self.data)
        parts = []
        start = self.i
        while True:
            if self.i >= n:
                self.fail("end of data inside a string")
            c = d[self.i]
            if c == 0x22:
                raw = d[start : self.i]
                self.i += 1
                if not validate:
                    return None
                parts.append(raw)
                try:
                    return b"".join(parts).decode("utf-8")
                except UnicodeDecodeError:
                    self.fail("invalid UTF-8 in a string")
            if c < 0x20:
                self.fail("control character in a string")
            if c == 0x5C:
                parts.append(d[start : self.i])
                self.i += 1
                parts.append(self._escape(validate))
                start = self.i
                continue
            self.i += 1

    def _hex4(self):
        h = self.data[self.i : self.i + 4]
        if len(h) < 4:
            self.fail("end of data inside an escape")
        try:
            if not all(chr(b) in "0123456789abcdefABCDEF" for b in h):
                raise ValueError
            v = int(h, 16)
        except ValueError:
            self.fail("invalid \\u escape")
        self.i += 4
        return v

    def _escape(self, validate):
        c = self.peek()
        if c is None:
            self.fail("end of data inside an escape")
        self.i += 1
        simple = {0x22: b'"', 0x5C: b"\\", 0x2F: b"/", 0x62: b"\b", 0x66: b"\f",
                  0x6E: b"\n", 0x72: b"\r", 0x74: b"\t"}
        if c in simple:
            return simple[c]
        if c != 0x75:
            self.fail("invalid escape")
        n = self._hex4()
        if not validate:
            return b""
        if 0xDC00 <= n <= 0xDFFF:
            self.fail("lone trailing surrogate escape")
        if 0xD800 <= n <= 0xDBFF:
            if self.data[self.i : self.i + 2] != b"\\u":
                self.fail("lone leading surrogate escape")
            self.i += 2
            n2 = self._hex4()
            if not 0xDC00 <= n2 <= 0xDFFF:
                self.fail("lone leading surrogate escape")
            n = 0x10000 + ((n - 0xD800) << 10) + (n2 - 0xDC00)
        return chr(n).encode("utf-8")

    # Numbers -----------------------------------------------------------------------------

    def number_token(self):
        """Scans a number; returns (text, is_integer)."""
        d, n = self.data, len(self.data)
        start = self.i
        if self.peek() == 0x2D:
            self.i += 1
        c = self.peek()
        if c == 0x30:
            self.i += 1
            if self.peek() is not None and 0x30 <= self.peek() <= 0x39:
                self.fail("leading zero in a number")
        elif c is not None and 0x31 <= c <= 0x39:
            while self.i < n and 0x30 <= d[self.i] <= 0x39:
                self.i += 1
        else:
            self.fail("invalid number")
        integer = True
        if self.peek() == 0x2E:
            integer = False
            self.i += 1
            digits = self.i
            while self.i < n and 0x30 <= d[self.i] <= 0x39:
                self.i += 1
            if self.i == digits:
                self.fail("invalid number")
        if self.peek() in (0x65, 0x45):
            integer = False
            self.i += 1
            if self.peek() in (0x2B, 0x2D):
                self.i += 1
            digits = self.i
            while self.i < n and 0x30 <= d[self.i] <= 0x39:
                self.i += 1
            if self.i == digits:
                self.fail("invalid number")
        return d[start : self.i].decode("ascii"), integer

    def integer_value(self, text, is_integer):
        """The value of a number token as the reference reads it: an exact integer when it is
        one that fits 64 bits (and is not -0); otherwise a double, and a double that
        overflows is a syntax error. Returns an int, or a float for anything else."""
        if is_integer and text != "-0":
            v = int(text)
            if -(1 << 63) <= v < (1 << 64):
                return v
        f = float(text)
        if f in (float("inf"), float("-inf")):
            self.fail("number out of range")
        return f

    # Skipping ----------------------------------------------------------------------------

    def skip_value(self):
        """Skips one value: grammar only, any depth, strings not decoded."""
        stack = []
        while True:
            self.ws()
            c = self.peek()
            if c == 0x5B or c == 0x7B:
                self.i += 1
                self.ws()
                close = 0x5D if c == 0x5B else 0x7D
                if self.peek() == close:
                    self.i += 1
                else:
                    stack.append(c)
                    if c == 0x7B:
                        self._skip_key()
                    continue
            else:
                self._skip_scalar(c)
            # After a value: close containers or move to the next element.
            while True:
                if not stack:
                    return
                self.ws()
                c = self.peek()
                top = stack[-1]
                if c == 0x2C:
                    self.i += 1
                    if top == 0x7B:
                        self.ws()
                        self._skip_key()
                    break
                if (top == 0x5B and c == 0x5D) or (top == 0x7B and c == 0x7D):
                    self.i += 1
                    stack.pop()
                    continue
                self.fail("expected ',' or a closing bracket")

    def _skip_key(self):
        self.ws()
        if self.peek() != 0x22:
            self.fail("key must be a string")
        self.i += 1
        self.string(validate=False)
        self.ws()
        self.expect(0x3A)

    def _skip_scalar(self, c):
        if c == 0x22:
            self.i += 1
            self.string(validate=False)
        elif c == 0x6E:
            self.literal(b"null")
        elif c == 0x74:
            self.literal(b"true")
        elif c == 0x66:
            self.literal(b"false")
        elif c == 0x2D or (c is not None and 0x30 <= c <= 0x39):
            self.number_token()
        else:
            self.fail("expected a value")


# Strict values -------------------------------------------------------------------------------


def parse_strict(data):
    """The one strict JSON value in ``data`` (bytes). Objects are dicts, arrays lists,
    integers ints; raises JsonError."""
    s = _Scanner(data)
    value = _strict_value(s, 0)
    s.ws()
    if s.i != len(s.data):
        raise JsonError("trailing-data", "trailing data after the JSON value")
    return value


def _strict_value(s, depth):
    s.ws()
    c = s.peek()
    if c == 0x7B:
        if depth + 1 > MAX_DEPTH:
            s.fail("nesting deeper than %d" % MAX_DEPTH)
        s.i += 1
        out = {}
        s.ws()
        if s.peek() == 0x7D:
            s.i += 1
            return out
        while True:
            s.ws()
            if s.peek() != 0x22:
                s.fail("key must be a string")
            s.i += 1
            key = s.string()
            if key in out:
                raise JsonError("duplicate-key", "duplicate JSON key %r" % key)
            s.ws()
            s.expect(0x3A)
            out[key] = _strict_value(s, depth + 1)
            s.ws()
            if s.peek() == 0x2C:
                s.i += 1
                continue
            s.expect(0x7D)
            return out
    if c == 0x5B:
        if depth + 1 > MAX_DEPTH:
            s.fail("nesting deeper than %d" % MAX_DEPTH)
        s.i += 1
        out = []
        s.ws()
        if s.peek() == 0x5D:
            s.i += 1
            return out
        while True:
            out.append(_strict_value(s, depth + 1))
            s.ws()
            if s.peek() == 0x2C:
                s.i += 1
                continue
            s.expect(0x5D)
            return out
    if c == 0x22:
        s.i += 1
        return s.string()
    if c == 0x6E:
        s.literal(b"null")
        return None
    if c == 0x74:
        s.literal(b"true")
        return True
    if c == 0x66:
        s.literal(b"false")
        return False
    if c == 0x2D or (c is not None and 0x30 <= c <= 0x39):
        text, is_integer = s.number_token()
        v = s.integer_value(text, is_integer)
        if isinstance(v, float) or abs(v) > MAX_SAFE_INTEGER:
            raise JsonError("number", "a number that is not an integer within +-(2^53-1)")
        return v
    s.fail("expected a value")


def json_equal(a, b):
    """JSON value equality (Python's == would take True for 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return a == b


# Lenient records -----------------------------------------------------------------------------
#
# A record type is a list of (name, type, default) with default NO_DEFAULT for required
# fields. Types: "u32", "u64", "string", ("option", type), ("enum", names), ("record", fields),
# ("map", type).

NO_DEFAULT = object()


def read_record(data, fields):
    """Reads ``data`` (bytes) as one record of ``fields``, then only whitespace. Returns a
    dict of the declared fields. Raises RecordError."""
    s = _Scanner(data)
    try:
        value = _read_typed(s, ("record", fields), 0)
        s.ws()
        if s.i != len(s.data):
            s.fail("trailing data")
    except JsonError as e:
        raise RecordError(str(e)) from None
    return value


def _read_typed(s, t, depth):
    s.ws()
    c = s.peek()
    if isinstance(t, tuple) and t[0] == "option":
        if c == 0x6E:
            s.literal(b"null")
            return None
        return _read_typed(s, t[1], depth)
    if t in ("u32", "u64"):
        if not (c == 0x2D or (c is not None and 0x30 <= c <= 0x39)):
            raise RecordError("expected an integer")
        text, is_integer = s.number_token()
        v = s.integer_value(text, is_integer)
        limit = (1 << 32) if t == "u32" else (1 << 64)
        if isinstance(v, float) or not 0 <= v < limit:
            raise RecordError("integer out of range for %s" % t)
        return v
    if t == "string":
        if c != 0x22:
            raise RecordError("expected a string")
        s.i += 1
        return s.string()
    kind = t[0]
    if kind == "enum":
        return _read_enum(s, t[1], depth)
    if kind == "map":
        if c != 0x7B:
            raise RecordError("expected an object")
        return _read_map(s, t[1], depth)
    if kind == "record":
        if c == 0x7B:
            return _read_record_object(s, t[1], depth)
        if c == 0x5B:
            return _read_record_array(s, t[1], depth)
        raise RecordError("expected an object or an array")
    raise AssertionError("unknown type %r" % (t,))


def _enter(s, depth):
    if depth + 1 > MAX_DEPTH:
        s.fail("nesting deeper than %d" % MAX_DEPTH)
    s.i += 1
    return depth + 1


def _read_enum(s, names, depth):
    c = s.peek()
    if c == 0x22:
        s.i += 1
        name = s.string()
    elif c == 0x7B:
        # The one-entry object form {"name": null} (spec: "Reading a payload's header").
        depth = _enter(s, depth)
        s.ws()
        if s.peek() != 0x22:
            raise RecordError("expected a variant name")
        s.i += 1
        name = s.string()
        s.ws()
        s.expect(0x3A)
        s.ws()
        s.literal(b"null")
        s.ws()
        s.expect(0x7D)
    else:
        raise RecordError("expected a string")
    if name not in names:
        raise RecordError("unknown variant %r" % name)
    return name


def _read_map(s, value_type, depth):
    depth = _enter(s, depth)
    out = {}
    s.ws()
    if s.peek() == 0x7D:
        s.i += 1
        return out
    while True:
        s.ws()
        if s.peek() != 0x22:
            s.fail("key must be a string")
        s.i += 1
        key = s.string()
        s.ws()
        s.expect(0x3A)
        out[key] = _read_typed(s, value_type, depth)  # a repeated key: the last one wins
        s.ws()
        if s.peek() == 0x2C:
            s.i += 1
            continue
        s.expect(0x7D)
        return out


def _finish_record(fields, got):
    out = {}
    for name, _, default in fields:
        if name in got:
            out[name] = got[name]
        elif default is NO_DEFAULT:
            raise RecordError("missing field %r" % name)
        else:
            out[name] = default
    return out


def _read_record_object(s, fields, depth):
    depth = _enter(s, depth)
    types = {name: t for name, t, _ in fields}
    got = {}
    s.ws()
    if s.peek() == 0x7D:
        s.i += 1
        return _finish_record(fields, got)
    while True:
        s.ws()
        if s.peek() != 0x22:
            s.fail("key must be a string")
        s.i += 1
        key = s.string()
        s.ws()
        s.expect(0x3A)
        if key in types:
            if key in got:
                raise RecordError("duplicate field %r" % key)
            got[key] = _read_typed(s, types[key], depth)
        else:
            s.skip_value()
        s.ws()
        if s.peek() == 0x2C:
            s.i += 1
            continue
        s.expect(0x7D)
        return _finish_record(fields, got)


def _read_record_array(s, fields, depth):
    """The array form: the fields' values in declaration order; missing trailing fields take
    their defaults; no more elements than fields."""
    depth = _enter(s, depth)
    got = {}
    s.ws()
    ended = s.peek() == 0x5D
    for n, (name, t, _) in enumerate(fields):
        if ended:
            break
        if n > 0:
            s.ws()
            if s.peek() == 0x5D:
                ended = True
                break
            s.expect(0x2C)
        got[name] = _read_typed(s, t, depth)
    s.ws()
    if s.peek() != 0x5D:
        raise RecordError("more elements than fields")
    s.i += 1
    return _finish_record(fields, got)
