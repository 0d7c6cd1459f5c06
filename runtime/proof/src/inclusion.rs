//! Proof that one step belongs to a signed trace, without the rest of the trace: the step's
//! stored bytes and the hash it links to, its RFC 6962 audit path, and the signed head whose
//! Merkle root the path leads to. A reviewer can be shown one host call and check it offline.
//!
//! The leaf is over the step's chain hash `h[i] = H(tag ‖ prev ‖ i ‖ len ‖ payload)`, so the
//! verifier recomputes `h[i]` from the payload and `prev_hash` it is given: a different
//! payload, index or link gives a different leaf.
//!
//! Two versions are read, as for bundles: `runproof-inclusion/v2` (written by `runtime
//! proof inclusion`) carries the signed head as an object ([`SignedHead`]), and
//! `runproof-inclusion/v1` as the envelope's JSON text ([`crate::inclusion_v1`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bundle::document_format;
use crate::bundle_types::{BundleError, decode_digest};
use crate::hash::{Digest, step_hash};
pub use crate::inclusion_step::IncludedStep;
use crate::inclusion_v1::InclusionProofV1;
use crate::merkle::{inclusion_proof, leaf_hash, verify_inclusion};
use crate::seal::{TraceHeadClaims, VerifyingKey, verify_head_detailed};
use crate::signed_head::{HeadForm, SignedHead};
use crate::step::StepHeader;
use crate::strict::{check_object, fields_of, parse_strict, typed};

/// Version 1: the signed head as a JSON string.
pub const INCLUSION_FORMAT_V1: &str = "runproof-inclusion/v1";
/// Version 2: the signed head as a JSON object.
pub const INCLUSION_FORMAT_V2: &str = "runproof-inclusion/v2";
/// The `format` of an inclusion proof this version writes.
pub const INCLUSION_FORMAT: &str = INCLUSION_FORMAT_V2;
/// Every inclusion-proof format this version reads: a document whose `format` is one of
/// these is an inclusion proof, anything else is read as a bundle.
pub const INCLUSION_FORMATS: &[&str] = &[INCLUSION_FORMAT_V1, INCLUSION_FORMAT_V2];

/// An inclusion proof (version 2), as written to and read from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub format: String,
    /// The DSSE envelope as an object and its statement decoded.
    pub signed_head: SignedHead,
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
            signed_head: SignedHead::from_stored(&signed_head),
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

// Here rather than in `inclusion_v1`: the conversion starts from the v2 proof, and the v1
// module is kept free of anything from this one (no import cycle).
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
}

/// An inclusion proof as read, whichever its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadInclusion {
    /// [`INCLUSION_FORMAT_V1`] or [`INCLUSION_FORMAT_V2`].
    pub format: &'static str,
    pub signed_head: HeadForm,
    pub tree_size: u64,
    pub step: IncludedStep,
    pub audit_path: Vec<String>,
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
pub fn parse_inclusion(bytes: &[u8]) -> Result<ReadInclusion, BundleError> {
    parse_inclusion_value(parse_strict(bytes, "inclusion proof")?)
}

/// Reads an already strictly parsed inclusion proof: its `format`, the fields of every
/// object, their types. Hex and base64 are checked by the verifier, after the head.
pub(crate) fn parse_inclusion_value(value: Value) -> Result<ReadInclusion, BundleError> {
    const WHAT: &str = "inclusion proof";
    let format = document_format(
        &value,
        WHAT,
        INCLUSION_FORMATS,
        "\"runproof-inclusion/v2\" or \"runproof-inclusion/v1\"",
    )?;
    let v2 = format == INCLUSION_FORMAT_V2;
    let fields = if v2 {
        fields_of::<InclusionProof>()
    } else {
        fields_of::<InclusionProofV1>()
    };
    let top = check_object(&value, fields, WHAT)?;
    if let Some(h @ Value::Object(_)) = top.get("signed_head")
        && v2
    {
        check_object(h, fields_of::<SignedHead>(), "inclusion proof signed_head")?;
    }
    if let Some(step) = top.get("step") {
        check_object(step, fields_of::<IncludedStep>(), "inclusion proof step")?;
    }
    Ok(if v2 {
        let p: InclusionProof = typed(value, WHAT)?;
        ReadInclusion {
            format,
            signed_head: HeadForm::Object(p.signed_head),
            tree_size: p.tree_size,
            step: p.step,
            audit_path: p.audit_path,
        }
    } else {
        let p: InclusionProofV1 = typed(value, WHAT)?;
        ReadInclusion {
            format,
            signed_head: HeadForm::Text(p.signed_head),
            tree_size: p.tree_size,
            step: p.step,
            audit_path: p.audit_path,
        }
    })
}

/// Checks that the step is leaf `step_index` of the tree whose root a pinned key signed.
pub fn verify_inclusion_proof(bytes: &[u8], trusted: &[VerifyingKey]) -> InclusionVerdict {
    verify_inclusion_with(|| parse_inclusion(bytes), trusted)
}

/// [`verify_inclusion_proof`] of an already strictly parsed document.
pub(crate) fn verify_inclusion_value(value: Value, trusted: &[VerifyingKey]) -> InclusionVerdict {
    verify_inclusion_with(|| parse_inclusion_value(value), trusted)
}

fn verify_inclusion_with(
    read: impl FnOnce() -> Result<ReadInclusion, BundleError>,
    trusted: &[VerifyingKey],
) -> InclusionVerdict {
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
    match check(read, trusted, &mut verdict) {
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

fn check(
    read: impl FnOnce() -> Result<ReadInclusion, BundleError>,
    trusted: &[VerifyingKey],
    out: &mut InclusionVerdict,
) -> Result<(), String> {
    let proof = read().map_err(|e| format!("inclusion proof rejected: {e}"))?;
    out.format = proof.format;
    out.step_index = Some(proof.step.step_index);
    out.tree_size = Some(proof.tree_size);
    let signed = verify_head_detailed(&proof.signed_head.envelope_json(), trusted)
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
    if !proof.signed_head.statement_matches() {
        return Err(
            "the inclusion proof's signed_head.statement differs from the statement the signed envelope carries"
                .into(),
        );
    }
    out.step = serde_json::from_slice(&payload).ok();
    out.signed_by = Some(signed.key_id);
    out.signed_head = Some(signed.claims);
    Ok(())
}
