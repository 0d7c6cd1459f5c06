//! The components a bundle may carry (`runtime proof export --with-components`), so a run
//! can be replayed offline. An optional, additive part of a bundle: `components` maps a
//! component's SHA-256 digest (lower-case hex) to its bytes (strict padded base64).
//!
//! A component is identified by the digest the signed head states for its skill, so it
//! needs no signature of its own: bytes whose SHA-256 is that digest are that component.
//! A bundle whose components do not hash to their keys, or name a digest the signed head
//! does not, is refused (`FAILED`) rather than shown beside a verdict that does not cover
//! them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::bundle::{BundleError, decode_digest};

/// The field of a bundle that holds components.
pub const COMPONENTS_FIELD: &str = "components";

/// Encodes components (digest → bytes) as a bundle carries them.
pub fn encode_components(components: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    components
        .iter()
        .map(|(d, b)| (d.clone(), STANDARD.encode(b)))
        .collect()
}

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

/// The components of a verified bundle, by digest (empty if it carries none). Read them only
/// after `verify_bundle` said `VERIFIED`: that is what checked them.
pub fn bundle_components(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, BundleError> {
    let bundle = crate::bundle::parse_bundle(bytes)?;
    match &bundle.components {
        Some(c) => parse_components(c),
        None => Ok(BTreeMap::new()),
    }
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
