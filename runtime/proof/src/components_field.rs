//! The `components` field of a bundle as the bundle reader reads and checks it: digest keys,
//! strict base64 values, each hashing to its key and named by the signed head. What the
//! field is for and why it needs no signature of its own is in [`crate::components`], which
//! builds on the bundle reader; these rules sit below it so the reader needs nothing back.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::bundle_types::{BundleError, decode_digest};

/// The field of a bundle that holds components.
pub const COMPONENTS_FIELD: &str = "components";

/// Reads a bundle's components: keys are digests, values strict base64. (Whether each is
/// the component it names is [`check_components`]'s question.)
pub(crate) fn parse_components(
    components: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<u8>>, BundleError> {
    components
        .iter()
        .map(|(digest, b64)| {
            let field = format!("components[\"{}\"]", crate::strict::clip(digest));
            decode_digest(digest, &field)?;
            let bytes = STANDARD
                .decode(b64)
                .map_err(|_| BundleError::Base64 { field })?;
            Ok((digest.clone(), bytes))
        })
        .collect()
}

/// `Err(reason)` if a component does not hash to its digest, or is not one of the
/// components the signed head names.
pub(crate) fn check_components(
    components: &BTreeMap<String, Vec<u8>>,
    signed_digests: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (digest, bytes) in components {
        let actual = hex::encode(Sha256::digest(bytes));
        if &actual != digest {
            return Err(format!(
                "the bundle's component {digest} has sha256 {actual}: it is not that component"
            ));
        }
        if !signed_digests.values().any(|d| d == digest) {
            return Err(format!(
                "the bundle carries component {digest}, which the signed head does not name"
            ));
        }
    }
    Ok(())
}

/// The fields a bundle object must have: every declared one, except `components` when the
/// bundle carries none (it is optional; every other field is required).
pub(crate) fn required_fields(
    bundle: &serde_json::Value,
    declared: &'static [&'static str],
) -> Vec<&'static str> {
    let has = bundle.get(COMPONENTS_FIELD).is_some();
    declared
        .iter()
        .copied()
        .filter(|f| has || *f != COMPONENTS_FIELD)
        .collect()
}
