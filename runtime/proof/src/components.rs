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

use crate::bundle::BundleError;
pub use crate::components_field::COMPONENTS_FIELD;
use crate::components_field::parse_components;

/// Encodes components (digest → bytes) as a bundle carries them.
pub fn encode_components(components: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    components
        .iter()
        .map(|(d, b)| (d.clone(), STANDARD.encode(b)))
        .collect()
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
