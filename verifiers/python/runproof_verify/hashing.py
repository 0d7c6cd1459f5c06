"""The hashes of a trace (spec, "The chain" and "The Merkle tree")."""

import hashlib

GENESIS_TAG = b"runproof/trace-genesis/v1\x00"
STEP_TAG = b"runproof/trace-step/v1\x00"


def u64be(n):
    return n.to_bytes(8, "big")


def genesis(tenant_id, run_id, trace_id):
    h = hashlib.sha256(GENESIS_TAG)
    for part in (tenant_id, run_id, trace_id):
        b = part.encode("utf-8")
        h.update(u64be(len(b)))
        h.update(b)
    return h.digest()


def step_hash(prev, index, payload):
    return hashlib.sha256(STEP_TAG + prev + u64be(index) + u64be(len(payload)) + payload).digest()


def leaf_hash(index, data):
    return hashlib.sha256(b"\x00" + u64be(index) + u64be(len(data)) + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n):
    """The largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_of(leaves):
    """MTH(D[n]) of RFC 6962 section 2.1 over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


class MerkleBuilder:
    """The root of a growing tree in O(log n) memory."""

    def __init__(self):
        self.size = 0
        self.frontier = []

    def push(self, leaf):
        carry, size = leaf, self.size
        while size & 1:
            carry = node_hash(self.frontier.pop(), carry)
            size >>= 1
        self.frontier.append(carry)
        self.size += 1

    def root(self):
        if not self.frontier:
            return hashlib.sha256(b"").digest()
        r = self.frontier[-1]
        for left in reversed(self.frontier[:-1]):
            r = node_hash(left, r)
        return r


def proof_len(index, size):
    m, n, length = index, size, 0
    while n > 1:
        k = _split(n)
        if m < k:
            n = k
        else:
            m -= k
            n -= k
        length += 1
    return length


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2. Returns None, or the rule broken:
    "inclusion/index", "inclusion/path-length", "inclusion/root"."""
    if index >= size:
        return "inclusion/index"
    if len(path) != proof_len(index, size):
        return "inclusion/path-length"
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return "inclusion/path-length"
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "inclusion/path-length"
    if r != root:
        return "inclusion/root"
    return None
