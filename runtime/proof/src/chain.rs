//! The writer's side: extends a chain one payload at a time.

use crate::hash::{Digest, genesis, step_hash};
use crate::merkle::{MerkleBuilder, leaf_hash};

/// One appended step: where it sits and what it links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedStep {
    pub step_index: u64,
    pub prev_hash: Digest,
    pub hash: Digest,
}

/// Extends a trace's chain, and the RFC 6962 tree over the same steps. Kept by the recorder
/// of a run; hashing happens here, on the calling task, so the stored hash is of exactly the
/// bytes handed in. Memory is O(log n) whatever the trace length.
#[derive(Debug, Clone)]
pub struct ChainBuilder {
    next_index: u64,
    head: Digest,
    tree: MerkleBuilder,
}

impl ChainBuilder {
    pub fn new(tenant_id: &str, run_id: &str, trace_id: &str) -> Self {
        ChainBuilder {
            next_index: 0,
            head: genesis(tenant_id, run_id, trace_id),
            tree: MerkleBuilder::new(),
        }
    }

    pub fn append(&mut self, payload: &[u8]) -> AppendedStep {
        let prev_hash = self.head;
        let hash = step_hash(&prev_hash, self.next_index, payload);
        // The leaf is over the step's chain hash, which commits to the payload already.
        self.tree.push(leaf_hash(self.next_index, &hash));
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

    /// Current RFC 6962 root over the steps appended so far.
    pub fn merkle_root(&self) -> Digest {
        self.tree.root()
    }
}
