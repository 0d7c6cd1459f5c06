//! The offline proof bundle: one JSON file with everything needed to verify a run's trace
//! away from the database: the trace row as sealed, the signed head (DSSE envelope), and
//! every step's stored bytes and hashes. `docs/proof-format.md` specifies it byte for byte.
//!
//! Two versions are read: `runproof-bundle/v2` (written by `runtime proof export`) carries
//! the signed head as a JSON object ([`SignedHead`]); `runproof-bundle/v1` carried the
//! envelope as a JSON string ([`crate::bundle_v1`]). Everything else is the same.
//!
//! A bundle is untrusted input. [`parse_bundle`] reads it strictly (see [`crate::strict`]):
//! no duplicate keys, no unknown fields, no trailing data, integers within ±(2^53−1),
//! hashes as exactly 64 lower-case hex characters, payloads as strict padded base64. Then
//! [`verify_bundle`] runs the same [`ChainVerifier`] the coordinator runs over Postgres, so
//! the offline verdict and the online one cannot disagree.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::bundle_types::{
    BUNDLE_FORMAT, BUNDLE_FORMAT_V1, BUNDLE_FORMAT_V2, BundleError, BundleStep, BundleTrace,
    bundle_step,
};
use crate::bundle_types::{decode_digest, decode_payload};
use crate::bundle_v1::BundleV1;
use crate::model::{Integrity, IntegrityModel, VerificationStatus};
use crate::seal::{TraceHeadClaims, VerifyingKey, verify_head_detailed};
use crate::signed_head::{HeadForm, SignedHead};
use crate::strict::{StrictError, check_object, clip, fields_of, parse_strict, typed};
use crate::verify::{ChainVerifier, StoredStep, TraceHead, TraceIds};

/// A whole bundle (version 2), as written to and read from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub trace: BundleTrace,
    /// The signed head: the DSSE envelope as an object and its statement decoded; `null` if
    /// the trace was not signed.
    pub signed_head: Option<SignedHead>,
    /// Skill name → component digest, as the run recorded them.
    pub skill_digests: BTreeMap<String, String>,
    pub steps: Vec<BundleStep>,
    /// Optional: component digest → its bytes (base64), for offline replay
    /// ([`crate::components`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<BTreeMap<String, String>>,
}

impl Bundle {
    /// The bundle's JSON text (pretty, so a reviewer can read it; whitespace is not signed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a bundle of strings and integers always serializes")
    }
}

/// A bundle as read, whichever its version: what verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBundle {
    /// [`BUNDLE_FORMAT_V1`] or [`BUNDLE_FORMAT_V2`].
    pub format: &'static str,
    pub trace: BundleTrace,
    pub signed_head: Option<HeadForm>,
    pub skill_digests: BTreeMap<String, String>,
    pub steps: Vec<BundleStep>,
    /// The components a v2 bundle carries (digest → base64), if any.
    pub components: Option<BTreeMap<String, String>>,
}

/// What the offline verifier concluded about a bundle.
#[derive(Debug, Clone, Serialize)]
pub struct BundleVerdict {
    pub format: &'static str,
    pub tenant_id: Option<String>,
    pub run_id: Option<String>,
    pub trace_id: Option<String>,
    pub integrity: Integrity,
    /// The signed claims, when the signature verified against a pinned key.
    pub signed_head: Option<TraceHeadClaims>,
}

/// Reads a bundle strictly. Never panics, whatever the bytes.
pub fn parse_bundle(bytes: &[u8]) -> Result<ReadBundle, BundleError> {
    parse_bundle_value(parse_strict(bytes, "bundle")?)
}

/// Reads an already strictly parsed bundle. In order: the `format` (which says which
/// fields to expect), the fields of every object, their types, then hex and base64.
pub(crate) fn parse_bundle_value(value: Value) -> Result<ReadBundle, BundleError> {
    let format = document_format(
        &value,
        "bundle",
        &[BUNDLE_FORMAT_V1, BUNDLE_FORMAT_V2],
        "\"runproof-bundle/v2\" or \"runproof-bundle/v1\"",
    )?;
    let bundle = if format == BUNDLE_FORMAT_V1 {
        check_shape(&value, fields_of::<BundleV1>(), false)?;
        let b: BundleV1 = typed(value, "bundle")?;
        ReadBundle {
            format,
            trace: b.trace,
            signed_head: b.signed_head.map(HeadForm::Text),
            skill_digests: b.skill_digests,
            steps: b.steps,
            components: None,
        }
    } else {
        let fields = crate::components_field::required_fields(&value, fields_of::<Bundle>());
        check_shape(&value, &fields, true)?;
        let b: Bundle = typed(value, "bundle")?;
        ReadBundle {
            format,
            trace: b.trace,
            signed_head: b.signed_head.map(HeadForm::Object),
            skill_digests: b.skill_digests,
            steps: b.steps,
            components: b.components,
        }
    };
    if let Some(root) = &bundle.trace.root_hash {
        decode_digest(root, "trace.root_hash")?;
    }
    for (name, digest) in &bundle.skill_digests {
        decode_digest(digest, &format!("skill_digests[\"{}\"]", clip(name)))?;
    }
    for (n, s) in bundle.steps.iter().enumerate() {
        decode_digest(&s.prev_hash, &format!("steps[{n}].prev_hash"))?;
        decode_digest(&s.hash, &format!("steps[{n}].hash"))?;
        decode_payload(&s.payload, n)?;
    }
    if let Some(c) = &bundle.components {
        crate::components_field::parse_components(c)?;
    }
    Ok(bundle)
}

/// Exactly the declared fields in the bundle, its trace, its signed head object (v2) and
/// every step, in that order.
fn check_shape(
    value: &Value,
    fields: &[&'static str],
    head_object: bool,
) -> Result<(), BundleError> {
    let top = check_object(value, fields, "bundle")?;
    if let Some(t) = top.get("trace") {
        check_object(t, fields_of::<BundleTrace>(), "bundle trace")?;
    }
    if let Some(h @ Value::Object(_)) = top.get("signed_head")
        && head_object
    {
        check_object(h, fields_of::<SignedHead>(), "bundle signed_head")?;
    }
    if let Some(Value::Array(steps)) = top.get("steps") {
        for s in steps {
            check_object(s, fields_of::<BundleStep>(), "bundle step")?;
        }
    }
    Ok(())
}

/// The document's `format`, one of `known`: read first, since it says which fields the
/// rest must have.
pub(crate) fn document_format(
    value: &Value,
    what: &'static str,
    known: &[&'static str],
    expected: &'static str,
) -> Result<&'static str, BundleError> {
    let Value::Object(map) = value else {
        return Err(StrictError::Malformed {
            what,
            reason: "not a JSON object".into(),
        }
        .into());
    };
    let Some(found) = map.get("format") else {
        return Err(StrictError::MissingField {
            what,
            field: "format",
        }
        .into());
    };
    let Value::String(found) = found else {
        return Err(StrictError::Malformed {
            what,
            reason: "format is not a string".into(),
        }
        .into());
    };
    known
        .iter()
        .find(|k| **k == found)
        .copied()
        .ok_or_else(|| BundleError::WrongFormat {
            found: clip(found),
            expected,
        })
}

/// Verifies a bundle's bytes against the pinned keys, with no database and no network.
/// Anything unreadable or unverifiable is `FAILED` with the first reason; never panics.
pub fn verify_bundle(bytes: &[u8], trusted: &[VerifyingKey]) -> BundleVerdict {
    match parse_strict(bytes, "bundle") {
        Ok(value) => verify_bundle_value(value, trusted),
        Err(e) => unreadable(e.into()),
    }
}

fn unreadable(e: BundleError) -> BundleVerdict {
    BundleVerdict {
        format: BUNDLE_FORMAT,
        tenant_id: None,
        run_id: None,
        trace_id: None,
        integrity: rejected(format!("bundle rejected: {e}")),
        signed_head: None,
    }
}

/// [`verify_bundle`] of an already strictly parsed document.
pub(crate) fn verify_bundle_value(value: Value, trusted: &[VerifyingKey]) -> BundleVerdict {
    let bundle = match parse_bundle_value(value) {
        Ok(b) => b,
        Err(e) => return unreadable(e),
    };
    let envelope = bundle.signed_head.as_ref().map(HeadForm::envelope_json);
    let ids = TraceIds {
        tenant_id: bundle.trace.tenant_id.clone(),
        run_id: bundle.trace.run_id.clone(),
        trace_id: bundle.trace.trace_id.clone(),
    };
    let head = TraceHead {
        ids: ids.clone(),
        integrity_model: bundle.trace.integrity_model.clone(),
        status: bundle.trace.status.clone(),
        chain_length: bundle.trace.chain_length.map(|n| n as i64),
        root_hash: bundle
            .trace
            .root_hash
            .as_deref()
            .and_then(|h| hex::decode(h).ok()),
        signed_head: envelope.clone(),
    };
    let mut verifier = ChainVerifier::new(ids.clone());
    for s in &bundle.steps {
        verifier.push(&stored_step(&ids, s));
        if verifier.has_failed() {
            break;
        }
    }
    let mut integrity = verifier.finish(&head, trusted);
    // The claims, for display, and the bundle's own list of digests checked against them
    // (a bundle whose summary disagrees with its signed head is not passed off as fine).
    let claims = envelope
        .as_deref()
        .and_then(|env| verify_head_detailed(env, trusted).ok())
        .map(|v| v.claims);
    if integrity.is_verified() {
        let shown = match (&claims, &bundle.signed_head) {
            (Some(c), _) if c.skill_digests != bundle.skill_digests => {
                Err("the bundle's skill_digests differ from the signed skill digests")
            }
            (Some(_), Some(head)) if !head.statement_matches() => Err(
                "the bundle's signed_head.statement differs from the statement the signed envelope carries",
            ),
            (Some(_), Some(_)) => Ok(()),
            _ => Err("the bundle's skill_digests differ from the signed skill digests"),
        };
        if let Err(reason) = shown {
            integrity.verification_status = VerificationStatus::Failed;
            integrity.signed_by = None;
            integrity.failure_reason = Some(reason.into());
        }
    }
    // Components ride along only if each is exactly a component the signed head names.
    if integrity.is_verified()
        && let Some(c) = &bundle.components
        && let Err(reason) = crate::components_field::parse_components(c)
            .map_err(|e| e.to_string())
            .and_then(|c| crate::components_field::check_components(&c, &bundle.skill_digests))
    {
        integrity.verification_status = VerificationStatus::Failed;
        integrity.signed_by = None;
        integrity.failure_reason = Some(reason);
    }
    BundleVerdict {
        format: bundle.format,
        tenant_id: Some(ids.tenant_id),
        run_id: Some(ids.run_id),
        trace_id: Some(ids.trace_id),
        signed_head: if integrity.is_verified() {
            claims
        } else {
            None
        },
        integrity,
    }
}

fn stored_step(ids: &TraceIds, s: &BundleStep) -> StoredStep {
    StoredStep {
        trace_id: ids.trace_id.clone(),
        run_id: ids.run_id.clone(),
        tenant_id: ids.tenant_id.clone(),
        // Values were range-checked (≤ 2^53−1) by the strict parser, so they fit an i64.
        step_index: s.step_index as i64,
        kind: s.kind.clone(),
        skill_name: s.skill_name.clone(),
        status: s.status.clone(),
        duration_ms: s.duration_ms.map(|d| d as i64),
        cost_cents: s.cost_cents as i64,
        // Decoding was checked by `parse_bundle`; an empty payload here would fail hashing.
        payload: STANDARD.decode(&s.payload).unwrap_or_default(),
        prev_hash: hex::decode(&s.prev_hash).unwrap_or_default(),
        hash: hex::decode(&s.hash).unwrap_or_default(),
    }
}

pub(crate) fn rejected(reason: String) -> Integrity {
    Integrity {
        model: IntegrityModel::None,
        verification_status: VerificationStatus::Failed,
        chain_length: 0,
        verified_prefix: 0,
        root_hash: None,
        merkle_root: None,
        signed_by: None,
        failure_reason: Some(reason),
    }
}

/// Builds a bundle (version 2) from stored rows (the exporter's side); `signed_head` is the
/// envelope text as stored.
pub fn bundle_from_rows(
    trace: BundleTrace,
    signed_head: Option<String>,
    skill_digests: BTreeMap<String, String>,
    steps: impl IntoIterator<Item = StoredStep>,
) -> Bundle {
    Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        trace,
        signed_head: signed_head.as_deref().map(SignedHead::from_stored),
        skill_digests,
        steps: steps.into_iter().map(|s| bundle_step(&s)).collect(),
        components: None,
    }
}
