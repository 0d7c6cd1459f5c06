//! One entry point for a proof file of either kind, as `runtime verify` reads it: the bytes
//! are parsed strictly once, then a document whose `format` is an inclusion-proof format
//! goes to [`crate::inclusion`] and anything else to [`crate::bundle`] (which names what is
//! wrong with it). `docs/proof-format.md` ("Which document is it") specifies the rule.

use serde::Serialize;
use serde_json::Value;

use crate::bundle::{BundleVerdict, verify_bundle, verify_bundle_value};
use crate::inclusion::{INCLUSION_FORMATS, InclusionVerdict, verify_inclusion_value};
use crate::seal::VerifyingKey;
use crate::strict::parse_strict;

/// The verdict on a proof file, of the kind the file turned out to be.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum DocumentVerdict {
    Bundle(BundleVerdict),
    Inclusion(InclusionVerdict),
}

impl DocumentVerdict {
    pub fn is_verified(&self) -> bool {
        match self {
            DocumentVerdict::Bundle(b) => b.integrity.is_verified(),
            DocumentVerdict::Inclusion(i) => {
                i.verification_status == crate::VerificationStatus::Verified
            }
        }
    }

    /// Why it is not verified; `None` when it is.
    pub fn failure_reason(&self) -> Option<&str> {
        match self {
            DocumentVerdict::Bundle(b) => b.integrity.failure_reason.as_deref(),
            DocumentVerdict::Inclusion(i) => i.failure_reason.as_deref(),
        }
    }
}

/// Verifies a bundle or an inclusion proof against the pinned keys. Never panics.
pub fn verify_document(bytes: &[u8], trusted: &[VerifyingKey]) -> DocumentVerdict {
    let value = match parse_strict(bytes, "bundle") {
        Ok(v) => v,
        // Not one strict JSON value: nothing says it is an inclusion proof, and the bundle
        // reader reports exactly what is wrong.
        Err(_) => return DocumentVerdict::Bundle(verify_bundle(bytes, trusted)),
    };
    if is_inclusion(&value) {
        DocumentVerdict::Inclusion(verify_inclusion_value(value, trusted))
    } else {
        DocumentVerdict::Bundle(verify_bundle_value(value, trusted))
    }
}

fn is_inclusion(value: &Value) -> bool {
    value
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| INCLUSION_FORMATS.contains(&f))
}
