"""Ed25519 as the format uses it (spec, "Keys and signatures"): SPKI PEM public keys,
key ids, and strict verification. The signature equation is checked by the `cryptography`
package; the rules it does not enforce by itself (S < L, no small-order R, no small-order
public key) are checked here, on the curve, with integers."""

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class KeyError_(Exception):
    """A key file that is not an Ed25519 public key the format accepts."""


def decode_point(b):
    """The point encoded by 32 bytes, as curve25519-dalek decodes it (the y coordinate is
    read modulo p; the sign bit picks x), in extended coordinates; None if y is not on the
    curve."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    y %= P
    sign = b[31] >> 7
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    # x = sqrt(u / v), RFC 8032 section 5.1.3.
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    vx2 = (v * x * x) % P
    if vx2 == u:
        pass
    elif vx2 == (-u) % P:
        x = (x * SQRT_M1) % P
    else:
        return None
    if (x & 1) != sign:
        x = (-x) % P
    return (x, y, 1, (x * y) % P)


def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def is_small_order(point):
    """[8]P is the identity."""
    q = point
    for _ in range(3):
        q = _add(q, q)
    x, y, z, _ = q
    return x % P == 0 and (y - z) % P == 0


def key_id(raw):
    """Lower-case hex SHA-256 of the 32 raw public key bytes."""
    return hashlib.sha256(raw).hexdigest()


def load_public_key_pem(text):
    """The 32 raw bytes of an SPKI PEM Ed25519 public key (RFC 7468, RFC 8410). Raises
    KeyError_ with a one-line reason."""
    text = text.strip()
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    label = None
    if first.startswith("-----BEGIN ") and first.endswith("-----"):
        label = first[len("-----BEGIN ") : -len("-----")]
    if label is None:
        raise KeyError_('not PEM: expected a "-----BEGIN PUBLIC KEY-----" line first')
    if label == "ENCRYPTED PRIVATE KEY":
        raise KeyError_("encrypted PKCS#8 private keys are not supported; decrypt it first")
    if label != "PUBLIC KEY":
        raise KeyError_(
            'expected a "-----BEGIN PUBLIC KEY-----" PEM block, found "-----BEGIN %s-----"'
            % label
        )
    if len(lines) < 3 or lines[-1].strip() != "-----END PUBLIC KEY-----":
        raise KeyError_("not an Ed25519 SPKI public key: no END line")
    body = "".join(line.strip() for line in lines[1:-1])
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_("not an Ed25519 SPKI public key: bad base64") from None
    if len(der) != len(SPKI_PREFIX) + 32 or not der.startswith(SPKI_PREFIX):
        raise KeyError_("not an Ed25519 SPKI public key")
    raw = der[len(SPKI_PREFIX) :]
    point = decode_point(raw)
    if point is None:
        raise KeyError_("not an Ed25519 SPKI public key: not a point on the curve")
    if is_small_order(point):
        raise KeyError_("the public key is a weak (small-order) point")
    return raw


def verify_strict(raw_key, message, sig):
    """Ed25519 verification (RFC 8032, cofactorless) with the strict rules: S < L, R a
    point not of small order, and the key not of small order (checked when it was loaded)."""
    if len(sig) != 64:
        return False
    if int.from_bytes(sig[32:], "little") >= L:
        return False
    r = decode_point(sig[:32])
    if r is None or is_small_order(r):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(sig, message)
    except InvalidSignature:
        return False
    return True
