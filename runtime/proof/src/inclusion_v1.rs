//! Version 1 of the inclusion proof (`runproof-inclusion/v1`), still read and verified: the
//! signed head is the DSSE envelope's JSON text inside a JSON string. Version 2
//! ([`crate::inclusion::InclusionProof`]) carries it as an object; nothing else differs.

use serde::{Deserialize, Serialize};

use crate::inclusion::{INCLUSION_FORMAT_V1, IncludedStep, InclusionProof};

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
    /// The version 1 form of a proof, with the envelope text as stored (kept so old proofs,
    /// and the format's test vectors, can be made and checked).
    pub fn new(proof: &InclusionProof, envelope_json: &str) -> Self {
        InclusionProofV1 {
            format: INCLUSION_FORMAT_V1.to_owned(),
            signed_head: envelope_json.to_owned(),
            tree_size: proof.tree_size,
            step: proof.step.clone(),
            audit_path: proof.audit_path.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("an inclusion proof of strings and integers always serializes")
    }
}
