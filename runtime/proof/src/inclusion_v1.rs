//! Version 1 of the inclusion proof (`runproof-inclusion/v1`), still read and verified: the
//! signed head is the DSSE envelope's JSON text inside a JSON string. Version 2
//! ([`crate::inclusion::InclusionProof`]) carries it as an object; nothing else differs.
//! (The v2 reader dispatches here and converts to this form, `InclusionProofV1::new`; this
//! module needs nothing from it.)

use serde::{Deserialize, Serialize};

use crate::inclusion_step::IncludedStep;

/// A version 1 inclusion proof, as written to and read from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProofV1 {
    pub format: String,
    /// The DSSE envelope exactly as stored (JSON text).
    pub signed_head: String,
    pub tree_size: u64,
    pub step: IncludedStep,
    pub audit_path: Vec<String>,
}

impl InclusionProofV1 {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("an inclusion proof of strings and integers always serializes")
    }
}
