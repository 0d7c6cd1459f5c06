//! The verdict vocabulary operators and reviewers already use (names kept from the original
//! system so its reports and SQL carry over).

use serde::{Deserialize, Serialize};

/// How a trace's integrity is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrityModel {
    /// Nothing to verify (no trace).
    None,
    /// Each step's hash links to the previous one; `root_hash` is the chain head.
    HashChain,
    /// The same chain, and `root_hash` is the RFC 6962 Merkle root over the steps. (Both
    /// roots are in every signed head; the model says which one the trace row carries.)
    MerkleTree,
}

impl IntegrityModel {
    /// The spelling stored in `aos_traces.integrity_model`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrityModel::None => "NONE",
            IntegrityModel::HashChain => "HASH_CHAIN",
            IntegrityModel::MerkleTree => "MERKLE_TREE",
        }
    }

    /// Parses a stored spelling; unknown spellings are `None` so callers fail closed.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NONE" => Some(IntegrityModel::None),
            "HASH_CHAIN" => Some(IntegrityModel::HashChain),
            "MERKLE_TREE" => Some(IntegrityModel::MerkleTree),
            _ => None,
        }
    }
}

/// The outcome of verification. Anything short of a complete check is not `Verified`.
/// Spelled `VERIFIED`, `FAILED`, `UNSUPPORTED` (the table in `vocabulary.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStatus {
    Verified,
    Failed,
    Unsupported,
}

/// The `integrity` object of a proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    pub model: IntegrityModel,
    pub verification_status: VerificationStatus,
    /// Number of steps whose hashes were recomputed and linked.
    pub chain_length: u64,
    /// How many leading steps (from `step_index` 0) hash and link intact from the genesis of
    /// their trace: all of them when `VERIFIED`; up to the first bad step otherwise (what
    /// a reviewer can still read of a lost or damaged run). Only a `VERIFIED` proof's steps
    /// are vouched for by a signature: without one, an intact prefix could have been
    /// rebuilt by whoever can write the database.
    pub verified_prefix: u64,
    /// Hex of the recomputed head (the last linked step's hash); `null` with no steps.
    pub root_hash: Option<String>,
    /// Hex of the recomputed RFC 6962 root over the steps; `null` with no steps.
    pub merkle_root: Option<String>,
    /// Key id of the pinned key whose signature over the trace head verified; `null` unless
    /// the signature verified.
    pub signed_by: Option<String>,
    /// Why the status is not `VERIFIED`; names the first bad `step_index` where there is one.
    pub failure_reason: Option<String>,
}

impl Integrity {
    /// Whether this verdict may be shown as trustworthy.
    pub fn is_verified(&self) -> bool {
        self.verification_status == VerificationStatus::Verified
    }
}
