//! Proof that one step belongs to a signed trace, without the rest of the trace: the step's
//! stored bytes and the hash it links to, its RFC 6962 audit path, and the signed head whose
//! Merkle root the path leads to. A reviewer can be shown one host call and check it offline.
//!
//! The leaf is over the step's chain hash `h[i] = H(tag ‖ prev ‖ i ‖ len ‖ payload)`, so the
//! verifier recomputes `h[i]` from the payload and `prev_hash` it is given: a different
//! payload, index or link gives a different leaf.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::bundle::{BundleError, decode_digest};
use crate::hash::{Digest, step_hash};
use crate::merkle::{inclusion_proof, leaf_hash, verify_inclusion};
use crate::seal::{TraceHeadClaims, VerifyingKey, verify_head_detailed};
use crate::step::StepHeader;
use crate::strict::{check_object, clip, fields_of, parse_strict, typed};

/// The `format` of an inclusion proof this version writes and reads.
pub const INCLUSION_FORMAT: &str = "runproof-inclusion/v1";

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

/// An inclusion proof, as written to and read from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub format: String,
    /// The DSSE envelope exactly as stored (JSON text).
    pub signed_head: String,
    /// Leaves in the tree: the signed `chain_length`.
    pub tree_size: u64,
    pub step: IncludedStep,
    /// Sibling hashes from the leaf up (RFC 6962 §2.1.1), lower-case hex.
    pub audit_path: Vec<String>,
}

impl InclusionProof {
    /// Builds the proof for step `index` from every leaf hash of the trace (in order).
    /// `None` if `index` is not a step of the trace.
    pub fn build(
        signed_head: String,
        leaves: &[Digest],
        index: u64,
        payload: &[u8],
        prev_hash: &[u8],
    ) -> Option<Self> {
        let path = inclusion_proof(leaves, index)?;
        Some(InclusionProof {
            format: INCLUSION_FORMAT.to_owned(),
            signed_head,
            tree_size: leaves.len() as u64,
            step: IncludedStep {
                step_index: index,
                payload: STANDARD.encode(payload),
                prev_hash: hex::encode(prev_hash),
            },
            audit_path: path.iter().map(hex::encode).collect(),
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("an inclusion proof of strings and integers always serializes")
    }
}

/// What the offline verifier concluded about an inclusion proof.
#[derive(Debug, Clone, Serialize)]
pub struct InclusionVerdict {
    pub format: &'static str,
    /// `VERIFIED` or `FAILED`.
    pub verification_status: crate::VerificationStatus,
    pub step_index: Option<u64>,
    pub tree_size: Option<u64>,
    /// The signed claims, when everything verified.
    pub signed_head: Option<TraceHeadClaims>,
    /// The step's payload as JSON, when everything verified.
    pub step: Option<serde_json::Value>,
    pub signed_by: Option<String>,
    pub failure_reason: Option<String>,
}

/// Reads an inclusion proof strictly. Never panics, whatever the bytes.
pub fn parse_inclusion(bytes: &[u8]) -> Result<InclusionProof, BundleError> {
    let value = parse_strict(bytes, "inclusion proof")?;
    let top = check_object(&value, fields_of::<InclusionProof>(), "inclusion proof")?;
    if let Some(step) = top.get("step") {
        check_object(step, fields_of::<IncludedStep>(), "inclusion proof step")?;
    }
    let proof: InclusionProof = typed(value, "inclusion proof")?;
    if proof.format != INCLUSION_FORMAT {
        return Err(BundleError::WrongFormat {
            found: clip(&proof.format),
        });
    }
    Ok(proof)
}

/// Checks that the step is leaf `step_index` of the tree whose root a pinned key signed.
pub fn verify_inclusion_proof(bytes: &[u8], trusted: &[VerifyingKey]) -> InclusionVerdict {
    let mut verdict = InclusionVerdict {
        format: INCLUSION_FORMAT,
        verification_status: crate::VerificationStatus::Failed,
        step_index: None,
        tree_size: None,
        signed_head: None,
        step: None,
        signed_by: None,
        failure_reason: None,
    };
    match check(bytes, trusted, &mut verdict) {
        Ok(()) => verdict.verification_status = crate::VerificationStatus::Verified,
        Err(reason) => {
            verdict.signed_head = None;
            verdict.step = None;
            verdict.signed_by = None;
            verdict.failure_reason = Some(reason);
        }
    }
    verdict
}

fn check(bytes: &[u8], trusted: &[VerifyingKey], out: &mut InclusionVerdict) -> Result<(), String> {
    let proof = parse_inclusion(bytes).map_err(|e| format!("inclusion proof rejected: {e}"))?;
    out.step_index = Some(proof.step.step_index);
    out.tree_size = Some(proof.tree_size);
    let signed = verify_head_detailed(&proof.signed_head, trusted)
        .map_err(|e| format!("signed head rejected: {e}"))?;
    signed
        .claims
        .validate()
        .map_err(|e| format!("signed head rejected: {e}"))?;
    if proof.tree_size != signed.claims.chain_length {
        return Err(format!(
            "tree_size {} differs from the signed chain_length {}",
            proof.tree_size, signed.claims.chain_length
        ));
    }
    let payload = STANDARD.decode(&proof.step.payload).map_err(|_| {
        "step.payload is not strict standard base64 (RFC 4648 §4 alphabet, with padding)"
            .to_string()
    })?;
    let mut path = Vec::with_capacity(proof.audit_path.len());
    for (n, h) in proof.audit_path.iter().enumerate() {
        path.push(
            decode_digest(h, &format!("audit_path[{n}]"))
                .map_err(|e| format!("inclusion proof rejected: {e}"))?,
        );
    }
    let prev = decode_digest(&proof.step.prev_hash, "step.prev_hash")
        .map_err(|e| format!("inclusion proof rejected: {e}"))?;
    let root =
        decode_digest(&signed.claims.merkle_root, "merkle_root").map_err(|e| e.to_string())?;
    let leaf = leaf_hash(
        proof.step.step_index,
        &step_hash(&prev, proof.step.step_index, &payload),
    );
    verify_inclusion(&leaf, proof.step.step_index, proof.tree_size, &path, &root).map_err(|e| {
        format!(
            "step {} is not in the signed trace: {e}",
            proof.step.step_index
        )
    })?;
    StepHeader::parse(&payload)
        .map_err(|e| format!("step payload is not a step envelope ({e})"))?;
    out.step = serde_json::from_slice(&payload).ok();
    out.signed_by = Some(signed.key_id);
    out.signed_head = Some(signed.claims);
    Ok(())
}
