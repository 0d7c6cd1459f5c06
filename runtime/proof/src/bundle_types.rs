//! What both versions of the bundle share ([`crate::bundle`] reads v2 and v1,
//! [`crate::bundle_v1`] defines v1): the format names, the trace and step objects, and the
//! error and the hex/base64 rules every bundle field is read by (inclusion proofs and a
//! bundle's components use them too). Kept apart so the v1 module and the components need
//! nothing from the bundle reader that dispatches to them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::hash::DIGEST_LEN;
use crate::strict::StrictError;
use crate::verify::StoredStep;

/// Version 1: the signed head as a JSON string.
pub const BUNDLE_FORMAT_V1: &str = "runproof-bundle/v1";
/// Version 2: the signed head as a JSON object.
pub const BUNDLE_FORMAT_V2: &str = "runproof-bundle/v2";
/// The `format` of a bundle this version writes.
pub const BUNDLE_FORMAT: &str = BUNDLE_FORMAT_V2;

/// Why a bundle could not be read. One line each; input text is escaped and cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Json(#[from] StrictError),
    #[error("format is \"{found}\", expected {expected}")]
    WrongFormat {
        found: String,
        expected: &'static str,
    },
    #[error("{field} is not {DIGEST_LEN} bytes of lower-case hex ({reason})")]
    Hash { field: String, reason: &'static str },
    #[error("{field} is not strict standard base64 (RFC 4648 §4 alphabet, with padding)")]
    Base64 { field: String },
}

/// The sealed trace row, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleTrace {
    pub tenant_id: String,
    pub run_id: String,
    pub trace_id: String,
    pub integrity_model: String,
    pub status: String,
    pub chain_length: Option<u64>,
    /// Lower-case hex; `null` if the trace was never sealed.
    pub root_hash: Option<String>,
}

/// One stored step, as exported: every column the verifier checks, and the exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleStep {
    pub step_index: u64,
    pub kind: String,
    pub skill_name: Option<String>,
    pub status: String,
    pub duration_ms: Option<u64>,
    pub cost_cents: u64,
    /// Standard base64 (padded) of the stored payload bytes.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Exactly 64 lower-case hex characters: one spelling per digest, so a bundle cannot carry
/// the same hash two ways.
pub(crate) fn decode_digest(s: &str, field: &str) -> Result<[u8; DIGEST_LEN], BundleError> {
    let err = |reason| BundleError::Hash {
        field: field.to_owned(),
        reason,
    };
    if s.len() != DIGEST_LEN * 2 {
        return Err(err("wrong length"));
    }
    if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(err("not lower-case hex"));
    }
    let mut out = [0u8; DIGEST_LEN];
    hex::decode_to_slice(s, &mut out).map_err(|_| err("not lower-case hex"))?;
    Ok(out)
}

pub(crate) fn decode_payload(s: &str, n: usize) -> Result<Vec<u8>, BundleError> {
    STANDARD.decode(s).map_err(|_| BundleError::Base64 {
        field: format!("steps[{n}].payload"),
    })
}

/// One stored row as a bundle step. Negative values cannot come from our writer; they are
/// exported as 0 only if a row was tampered with, and then the hash check fails anyway.
pub fn bundle_step(s: &StoredStep) -> BundleStep {
    BundleStep {
        step_index: s.step_index.max(0) as u64,
        kind: s.kind.clone(),
        skill_name: s.skill_name.clone(),
        status: s.status.clone(),
        duration_ms: s.duration_ms.map(|d| d.max(0) as u64),
        cost_cents: s.cost_cents.max(0) as u64,
        payload: STANDARD.encode(&s.payload),
        prev_hash: hex::encode(&s.prev_hash),
        hash: hex::encode(&s.hash),
    }
}
