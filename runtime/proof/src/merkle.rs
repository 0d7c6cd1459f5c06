//! An RFC 6962 Merkle tree over the steps of a trace, next to the hash chain.
//!
//! The chain proves "these n steps, in this order, and nothing else"; the tree adds short
//! proofs that one step is in a sealed trace (O(log n) hashes, no other payloads needed).
//!
//! Everything follows RFC 6962 §2.1 (= RFC 9162 §2.1) exactly, so any CT tooling agrees:
//! - leaf hash `SHA-256(0x00 ‖ leaf_data)`, node hash `SHA-256(0x01 ‖ left ‖ right)`;
//! - `MTH(D[n])` splits at `k`, the largest power of two smaller than `n`;
//! - the empty tree's hash is `SHA-256("")`.
//!
//! RunProof's leaf for step `i` is [`leaf_hash`]`(i, h[i])`: the leaf data is
//! `u64be(i) ‖ u64be(32) ‖ h[i]`, where `h[i]` is the step's chain hash, which already
//! commits to the exact payload bytes, the index and the previous step. So a leaf says
//! where it sits, and the tree costs one small hash per step instead of a second pass over
//! every payload (the writer's hot path and the verifier both feel that).
//!
//! Nothing here panics, whatever the input.

use sha2::{Digest as _, Sha256};

use crate::hash::Digest;

/// RFC 6962 domain separation: a leaf can never be read as an interior node and vice versa.
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// Why an inclusion proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of {tree_size} leaves")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error(
        "inclusion proof has {actual} hashes; leaf {index} of a tree of {tree_size} needs {expected}"
    )]
    ProofLength {
        index: u64,
        tree_size: u64,
        expected: usize,
        actual: usize,
    },
    #[error("inclusion proof does not lead to the expected root")]
    RootMismatch,
}

/// The hash of the empty tree, `SHA-256("")` (RFC 6962 §2.1).
pub fn empty_root() -> Digest {
    Sha256::digest([]).into()
}

/// The RFC 6962 leaf hash of raw leaf data: `SHA-256(0x00 ‖ data)`.
pub fn hash_leaf_data(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// The leaf at `step_index` over `data` (for a trace step: its 32-byte chain hash):
/// `SHA-256(0x00 ‖ u64be(step_index) ‖ u64be(len data) ‖ data)`.
pub fn leaf_hash(step_index: u64, data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(step_index.to_be_bytes());
    h.update((data.len() as u64).to_be_bytes());
    h.update(data);
    h.finalize().into()
}

/// An interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[n])` of a list of leaf hashes. O(n) time, O(log n) stack.
pub fn root_of(leaves: &[Digest]) -> Digest {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split_point(leaves.len() as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Builds the root of a tree one leaf at a time in O(log n) memory, so the writer can add
/// each step as it is recorded without keeping the steps.
///
/// It keeps the roots of the perfect subtrees that make up the tree so far (one per set bit
/// of the size, largest first: the "frontier" or compact range `[0, n)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleBuilder {
    size: u64,
    /// Perfect-subtree roots, left to right; subtree `j` has `2^(bit j of size)` leaves.
    frontier: Vec<Digest>,
}

impl MerkleBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next leaf hash.
    pub fn push(&mut self, leaf: Digest) {
        // Each trailing one bit of the old size is a perfect subtree of the same height as
        // the one being carried: merge them, like binary addition.
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            match self.frontier.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => break, // unreachable: one frontier entry per set bit
            }
            size >>= 1;
        }
        self.frontier.push(carry);
        self.size = self.size.saturating_add(1);
    }

    /// Appends leaf number [`len`](Self::len) over `data` (a step's chain hash): the same
    /// as `push(leaf_hash(self.len(), data))`.
    pub fn push_step(&mut self, data: &[u8]) {
        self.push(leaf_hash(self.size, data));
    }

    /// Leaves appended so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// `MTH` of the leaves so far (`SHA-256("")` when empty). May be called at any time.
    pub fn root(&self) -> Digest {
        let mut nodes = self.frontier.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        // The smaller subtrees sit on the right: fold right to left.
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// The RFC 6962 §2.1.1 audit path `PATH(index, D[n])` for leaf `index`, bottom-up, or `None`
/// when `index` is not a leaf of the tree. O(n) time.
pub fn inclusion_proof(leaves: &[Digest], index: u64) -> Option<Vec<Digest>> {
    let n = leaves.len() as u64;
    if index >= n {
        return None;
    }
    let mut path = Vec::with_capacity(proof_len(index, n));
    // Walk down from the root, collecting siblings top-down, then reverse to bottom-up.
    let (mut lo, mut hi, m) = (0usize, leaves.len(), index as usize);
    while hi - lo > 1 {
        let k = split_point((hi - lo) as u64) as usize;
        let mid = lo + k;
        if m < mid {
            path.push(root_of(&leaves[mid..hi]));
            hi = mid;
        } else {
            path.push(root_of(&leaves[lo..mid]));
            lo = mid;
        }
    }
    path.reverse();
    Some(path)
}

/// How many hashes the inclusion proof of leaf `index` in a tree of `tree_size` has
/// (`index < tree_size`).
fn proof_len(index: u64, tree_size: u64) -> usize {
    let (mut m, mut n, mut len) = (index, tree_size, 0usize);
    while n > 1 {
        let k = split_point(n);
        if m < k {
            n = k;
        } else {
            m -= k;
            n -= k;
        }
        len += 1;
    }
    len
}

/// Checks that `leaf` is leaf `index` of the tree of `tree_size` leaves whose hash is `root`,
/// with the audit path `proof` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Digest,
    index: u64,
    tree_size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, tree_size });
    }
    let expected = proof_len(index, tree_size);
    if proof.len() != expected {
        return Err(MerkleError::ProofLength {
            index,
            tree_size,
            expected,
            actual: proof.len(),
        });
    }
    // RFC 9162 §2.1.3.2, step by step.
    let (mut fnode, mut snode) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(MerkleError::ProofLength {
                index,
                tree_size,
                expected,
                actual: proof.len(),
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(MerkleError::ProofLength {
            index,
            tree_size,
            expected,
            actual: proof.len(),
        });
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [
            (2u64, 1u64),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ] {
            assert_eq!(split_point(n), k, "n={n}");
        }
    }

    #[test]
    fn proof_len_matches_generated_proofs() {
        let leaves: Vec<Digest> = (0..70u64).map(|i| leaf_hash(i, b"x")).collect();
        for n in 1..=leaves.len() {
            for i in 0..n as u64 {
                let p = inclusion_proof(&leaves[..n], i).unwrap();
                assert_eq!(p.len(), proof_len(i, n as u64), "n={n} i={i}");
            }
        }
        // The first leaf of the largest tree sits under a perfect 2^63 subtree; the last is
        // the lone right leaf of a 2^64 - 1 tree.
        assert_eq!(proof_len(0, u64::MAX), 64);
        assert_eq!(proof_len(u64::MAX - 1, u64::MAX), 63);
    }

    #[test]
    fn leaf_binds_index_and_length() {
        assert_ne!(leaf_hash(0, b"a"), leaf_hash(1, b"a"));
        assert_ne!(leaf_hash(0, b"a"), leaf_hash(0, b"b"));
        // Leaf data is index ‖ length ‖ payload, hashed as an RFC 6962 leaf.
        let mut data = 5u64.to_be_bytes().to_vec();
        data.extend(3u64.to_be_bytes());
        data.extend(b"abc");
        assert_eq!(leaf_hash(5, b"abc"), hash_leaf_data(&data));
    }
}
