//! Version 1 of the bundle (`runproof-bundle/v1`), still read and verified: the signed head
//! is the DSSE envelope's JSON text, as stored, inside a JSON string. Version 2
//! ([`crate::bundle::Bundle`]) carries it as an object; nothing else differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle_types::{BUNDLE_FORMAT_V1, BundleStep, BundleTrace, bundle_step};
use crate::verify::StoredStep;

/// A version 1 bundle, as written to and read from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleV1 {
    pub format: String,
    pub trace: BundleTrace,
    /// The DSSE envelope exactly as stored (JSON text), `null` if the trace was not signed.
    pub signed_head: Option<String>,
    pub skill_digests: BTreeMap<String, String>,
    pub steps: Vec<BundleStep>,
}

impl BundleV1 {
    /// A version 1 bundle of stored rows, as earlier exporters wrote it (kept so old
    /// bundles, and the format's test vectors, can be made and checked).
    pub fn from_rows(
        trace: BundleTrace,
        signed_head: Option<String>,
        skill_digests: BTreeMap<String, String>,
        steps: impl IntoIterator<Item = StoredStep>,
    ) -> Self {
        BundleV1 {
            format: BUNDLE_FORMAT_V1.to_owned(),
            trace,
            signed_head,
            skill_digests,
            steps: steps.into_iter().map(|s| bundle_step(&s)).collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a bundle of strings and integers always serializes")
    }
}
