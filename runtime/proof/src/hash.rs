//! The hash function of a trace, with its domain separation. Changing anything here is a
//! breaking change of the proof format: bump the tags' version.

use sha2::{Digest as _, Sha256};

/// Length of every digest in a trace (SHA-256).
pub const DIGEST_LEN: usize = 32;
/// A SHA-256 digest.
pub type Digest = [u8; DIGEST_LEN];

/// Tags keep a genesis value from ever colliding with a step hash (and both from any other
/// SHA-256 use), whatever bytes an attacker chooses.
const GENESIS_TAG: &[u8] = b"runproof/trace-genesis/v1\0";
const STEP_TAG: &[u8] = b"runproof/trace-step/v1\0";

/// The value the first step links to. Binding tenant, run and trace ids here means a step
/// (or a whole chain) copied from another run or tenant can never link.
pub fn genesis(tenant_id: &str, run_id: &str, trace_id: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(GENESIS_TAG);
    for part in [tenant_id, run_id, trace_id] {
        // Length prefixes make the encoding injective: ("ab","c") and ("a","bc") differ.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// The hash of step `index` with the exact stored `payload` bytes, linked to `prev`.
pub fn step_hash(prev: &Digest, index: u64, payload: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(STEP_TAG);
    h.update(prev);
    h.update(index.to_be_bytes());
    h.update((payload.len() as u64).to_be_bytes());
    h.update(payload);
    h.finalize().into()
}

/// Lower-case hex of a digest, the form shown to people and stored in JSON.
pub fn to_hex(d: &[u8]) -> String {
    hex::encode(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_bound_to_every_id_and_injective() {
        let g = genesis("t", "r", "x");
        assert_ne!(g, genesis("t2", "r", "x"));
        assert_ne!(g, genesis("t", "r2", "x"));
        assert_ne!(g, genesis("t", "r", "x2"));
        assert_ne!(genesis("ab", "c", "x"), genesis("a", "bc", "x"));
    }

    #[test]
    fn step_hash_covers_prev_index_and_payload() {
        let p = [7u8; 32];
        let h = step_hash(&p, 3, b"{}");
        assert_ne!(h, step_hash(&[8u8; 32], 3, b"{}"));
        assert_ne!(h, step_hash(&p, 4, b"{}"));
        assert_ne!(h, step_hash(&p, 3, b"{ }"));
        assert_eq!(h, step_hash(&p, 3, b"{}"));
    }

    #[test]
    fn genesis_and_step_domains_differ() {
        // A step over an empty payload must not equal any genesis-shaped value.
        assert_ne!(step_hash(&[0; 32], 0, b""), genesis("", "", ""));
    }
}
