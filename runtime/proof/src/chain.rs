//! The writer's side: extends a chain one payload at a time.

use crate::hash::{Digest, genesis, step_hash};
use crate::merkle::MerkleBuilder;

/// One appended step: where it sits and what it links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedStep {
    pub step_index: u64,
    pub prev_hash: Digest,
    pub hash: Digest,
}

/// Extends a trace's hash chain alone: what must be computed in call order, on the
/// calling task (each hash links the one before). The RFC 6962 tree over the same steps
/// can be built anywhere the hashes arrive in order ([`MerkleBuilder::push_step`]), e.g.
/// on the task that writes the rows; [`ChainBuilder`] does both in one place.
#[derive(Debug, Clone)]
pub struct Chain {
    next_index: u64,
    head: Digest,
}

impl Chain {
    pub fn new(tenant_id: &str, run_id: &str, trace_id: &str) -> Self {
        Chain {
            next_index: 0,
            head: genesis(tenant_id, run_id, trace_id),
        }
    }

    pub fn append(&mut self, payload: &[u8]) -> AppendedStep {
        let prev_hash = self.head;
        let hash = step_hash(&prev_hash, self.next_index, payload);
        let step = AppendedStep {
            step_index: self.next_index,
            prev_hash,
            hash,
        };
        self.head = hash;
        self.next_index += 1;
        step
    }

    /// Steps appended so far: the `chain_length` to seal.
    pub fn len(&self) -> u64 {
        self.next_index
    }

    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }

    /// Current chain head: the `root_hash` of a `HASH_CHAIN` trace.
    pub fn head(&self) -> Digest {
        self.head
    }
}

/// Extends a trace's chain, and the RFC 6962 tree over the same steps. Hashing happens
/// here, so the stored hash is of exactly the bytes handed in. Memory is O(log n) whatever
/// the trace length.
#[derive(Debug, Clone)]
pub struct ChainBuilder {
    chain: Chain,
    tree: MerkleBuilder,
}

impl ChainBuilder {
    pub fn new(tenant_id: &str, run_id: &str, trace_id: &str) -> Self {
        ChainBuilder {
            chain: Chain::new(tenant_id, run_id, trace_id),
            tree: MerkleBuilder::new(),
        }
    }

    pub fn append(&mut self, payload: &[u8]) -> AppendedStep {
        let step = self.chain.append(payload);
        // The leaf is over the step's chain hash, which commits to the payload already.
        self.tree.push_step(&step.hash);
        step
    }

    /// Steps appended so far: the `chain_length` to seal.
    pub fn len(&self) -> u64 {
        self.chain.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// Current chain head: the `root_hash` of a `HASH_CHAIN` trace.
    pub fn head(&self) -> Digest {
        self.chain.head()
    }

    /// Current RFC 6962 root over the steps appended so far.
    pub fn merkle_root(&self) -> Digest {
        self.tree.root()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_and_a_tree_built_apart_equal_the_builder() {
        let mut both = ChainBuilder::new("t", "r", "x");
        let mut chain = Chain::new("t", "r", "x");
        let mut tree = MerkleBuilder::new();
        for i in 0..37u32 {
            let payload = format!("{{\"n\":{i}}}");
            let a = both.append(payload.as_bytes());
            let b = chain.append(payload.as_bytes());
            assert_eq!(a, b);
            tree.push_step(&b.hash);
        }
        assert_eq!(both.head(), chain.head());
        assert_eq!(both.len(), chain.len());
        assert_eq!(both.merkle_root(), tree.root());
    }
}
