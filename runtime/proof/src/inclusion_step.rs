//! The step an inclusion proof shows: the same object in `runproof-inclusion/v1`
//! ([`crate::inclusion_v1`]) and v2 ([`crate::inclusion`]), so it lives apart from both.

use serde::{Deserialize, Serialize};

/// The step being shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludedStep {
    pub step_index: u64,
    /// Standard base64 (padded) of the stored payload bytes.
    pub payload: String,
    /// Lower-case hex of the previous step's chain hash (the genesis hash for step 0).
    pub prev_hash: String,
}
