//! The signed trace head: what a sealed trace claims, signed so it can be checked away from
//! the database that holds the trace.
//!
//! Format (standard, so other tools can read it):
//! - a [DSSE v1](https://github.com/secure-systems-lab/dsse) envelope
//!   `{"payloadType":"application/vnd.in-toto+json","payload":"<base64>","signatures":[{"keyid","sig"}]}`,
//!   signed with Ed25519 over `PAE(payloadType, payload bytes)`;
//! - carrying an [in-toto Statement v1](https://github.com/in-toto/attestation) whose one
//!   subject is `runproof:run:<tenant_id>/<run_id>` with the chain head as its `sha256`
//!   digest, and whose predicate (type [`PREDICATE_TYPE`]) is the [`TraceHeadClaims`].
//!
//! Verification ([`verify_head`]) is strict and fails closed: exactly one signature, by a
//! pinned key, named by its key id, checked with `verify_strict`; the envelope and the
//! statement are parsed with no duplicate keys, no unknown fields, no trailing data and no
//! number outside the exactly representable range (±(2^53−1)). It never panics.
//!
//! What the claims *say* (model, length, digests) is for the caller to compare with the
//! stored trace; [`TraceHeadClaims::validate`] checks that they are sensible on their own.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
/// Re-exported so callers use the same `ed25519-dalek` as the verifier.
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

use crate::model::IntegrityModel;
use crate::strict::{StrictError, check_object, clip, fields_of, parse_strict, typed};

/// DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of a RunProof trace head.
pub const PREDICATE_TYPE: &str = "https://runproof.dev/attestations/trace-head/v1";
/// Prefix of the statement's subject name: `runproof:run:<tenant_id>/<run_id>`.
pub const SUBJECT_PREFIX: &str = "runproof:run:";
/// Largest integer every JSON reader holds exactly (I-JSON, RFC 7493 §2.2): 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// What a sealed trace claims. The predicate of the signed statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceHeadClaims {
    pub tenant_id: String,
    pub run_id: String,
    pub trace_id: String,
    /// `HASH_CHAIN` or `MERKLE_TREE`: which root the trace row's `root_hash` holds. Both roots
    /// are always signed; the model is signed so it cannot be downgraded in the database.
    pub integrity_model: String,
    /// Steps in the chain (the sealed `chain_length`).
    pub chain_length: u64,
    /// Lower-case hex of the chain head (the sealed `root_hash`).
    pub root_hash: String,
    /// Lower-case hex of the RFC 6962 root over the steps ([`crate::merkle`]).
    pub merkle_root: String,
    /// Skill name → lower-case hex SHA-256 of the component that ran.
    pub skill_digests: BTreeMap<String, String>,
    /// Final trace status (`succeeded`, `failed`).
    pub status: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub completed_at: String,
}

impl TraceHeadClaims {
    /// The statement's subject name: `runproof:run:<tenant_id>/<run_id>`.
    pub fn subject_name(&self) -> String {
        format!("{SUBJECT_PREFIX}{}/{}", self.tenant_id, self.run_id)
    }

    /// Checks the claims on their own: a model a trace head can claim (`HASH_CHAIN` or
    /// `MERKLE_TREE`), digests
    /// in 64 lower-case hex, `chain_length` in `1..=2^53-1`, no empty id, status or time.
    /// [`verify_head`] checks only the digests and the range, and returns claims with any
    /// model so the caller can say what was claimed; call this before trusting them.
    pub fn validate(&self) -> Result<(), SealError> {
        self.check_well_formed()?;
        if !matches!(
            IntegrityModel::parse(&self.integrity_model),
            Some(IntegrityModel::HashChain | IntegrityModel::MerkleTree)
        ) {
            return Err(SealError::UnsupportedIntegrityModel {
                found: clip(&self.integrity_model),
            });
        }
        if self.chain_length == 0 {
            return Err(invalid_claim(
                "chain_length",
                "is 0; a sealed trace has steps",
            ));
        }
        for (field, value) in [
            ("tenant_id", &self.tenant_id),
            ("run_id", &self.run_id),
            ("trace_id", &self.trace_id),
            ("status", &self.status),
            ("started_at", &self.started_at),
            ("completed_at", &self.completed_at),
        ] {
            if value.is_empty() {
                return Err(invalid_claim(field, "is empty"));
            }
        }
        if self.skill_digests.contains_key("") {
            return Err(invalid_claim("skill_digests", "has an empty skill name"));
        }
        Ok(())
    }

    /// What any signed head must satisfy, whatever its model.
    fn check_well_formed(&self) -> Result<(), SealError> {
        check_hex_digest("root_hash", &self.root_hash)?;
        check_hex_digest("merkle_root", &self.merkle_root)?;
        for (skill, digest) in &self.skill_digests {
            check_hex_digest(&format!("skill_digests[\"{}\"]", clip(skill)), digest)?;
        }
        if self.chain_length > MAX_SAFE_INTEGER {
            return Err(invalid_claim("chain_length", "is above 2^53-1"));
        }
        Ok(())
    }
}

fn check_hex_digest(field: &str, value: &str) -> Result<(), SealError> {
    let ok = value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(invalid_claim(
            field,
            "is not a SHA-256 digest in 64 lower-case hex characters",
        ))
    }
}

fn invalid_claim(field: &str, reason: &str) -> SealError {
    SealError::InvalidClaim {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Why a trace head (or a key) was rejected. Every message is one line; text that came from
/// the input is escaped and shortened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("no trusted keys were given, so no trace head can verify")]
    NoTrustedKeys,
    /// The envelope or statement is not strict JSON of the expected shape.
    #[error(transparent)]
    Json(#[from] StrictError),
    #[error("payloadType is \"{found}\", expected \"{PAYLOAD_TYPE}\"")]
    WrongPayloadType { found: String },
    #[error("{field} is not strict standard base64 (RFC 4648 §4 alphabet, with padding)")]
    Base64 { field: &'static str },
    #[error("envelope has no signature")]
    NoSignature,
    #[error("envelope has {count} signatures; a trace head carries exactly one")]
    TooManySignatures { count: usize },
    #[error("signature is {len} bytes; an Ed25519 signature is 64")]
    SignatureLength { len: usize },
    #[error("signed by key {key_id}, which is not trusted")]
    UntrustedKey { key_id: String },
    #[error("signature does not verify with trusted key {key_id}")]
    BadSignature { key_id: String },
    #[error(
        "signature keyid {claimed} does not name trusted key {actual}, which made the signature"
    )]
    KeyIdMismatch { claimed: String, actual: String },
    #[error("statement _type is \"{found}\", expected \"{STATEMENT_TYPE}\"")]
    WrongStatementType { found: String },
    #[error("statement predicateType is \"{found}\", expected \"{PREDICATE_TYPE}\"")]
    WrongPredicateType { found: String },
    #[error("statement subject does not match the predicate: {reason}")]
    SubjectMismatch { reason: String },
    #[error("claim {field} {reason}")]
    InvalidClaim { field: String, reason: String },
    #[error(
        "integrity model \"{found}\" cannot be claimed by a trace head (expected \"HASH_CHAIN\" or \"MERKLE_TREE\")"
    )]
    UnsupportedIntegrityModel { found: String },
    #[error("invalid key: {reason}")]
    Key { reason: String },
}

// ---------------------------------------------------------------------------------------
// Wire types. Field lists for the strict checks are read from these definitions.

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeSignature {
    keyid: String,
    sig: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: TraceHeadClaims,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Subject {
    name: String,
    digest: SubjectDigest,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectDigest {
    sha256: String,
}

// ---------------------------------------------------------------------------------------
// Signing.

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = body.len().to_string();
    let mut out =
        Vec::with_capacity(10 + type_len.len() + payload_type.len() + body_len.len() + body.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(type_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

/// A key's id: lower-case hex SHA-256 of the raw 32-byte Ed25519 public key.
pub fn key_id(public: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(public.as_bytes()))
}

/// Signs `body` as a DSSE envelope with one signature (Ed25519 over [`pae`]), returning the
/// envelope's JSON text. [`sign_head`] is this with the trace-head statement as the body.
pub fn sign_envelope(payload_type: &str, body: &[u8], key: &SigningKey) -> String {
    let sig = key.sign(&pae(payload_type, body));
    let envelope = Envelope {
        payload_type: payload_type.to_owned(),
        payload: STANDARD.encode(body),
        signatures: vec![EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: STANDARD.encode(sig.to_bytes()),
        }],
    };
    serde_json::to_string(&envelope).expect("an envelope of strings always serializes")
}

/// Signs the trace head: the in-toto statement is serialized once, and those exact bytes are
/// both signed and carried (base64) in the envelope. Returns the envelope's JSON text.
///
/// Claims that [`verify_head`] would reject (say a `root_hash` that is not 64 lower-case hex)
/// are signed as given; check them with [`TraceHeadClaims::validate`] first.
pub fn sign_head(claims: &TraceHeadClaims, key: &SigningKey) -> String {
    let statement = Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject: vec![Subject {
            name: claims.subject_name(),
            digest: SubjectDigest {
                sha256: claims.root_hash.clone(),
            },
        }],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: claims.clone(),
    };
    let body = serde_json::to_vec(&statement)
        .expect("a statement of strings and integers always serializes");
    sign_envelope(PAYLOAD_TYPE, &body, key)
}

// ---------------------------------------------------------------------------------------
// Verification.

/// A verified head and the trusted key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHead {
    pub claims: TraceHeadClaims,
    /// [`key_id`] of the trusted key whose signature verified.
    pub key_id: String,
}

/// Verifies a signed trace head against the pinned `trusted` keys and returns its claims.
/// See [`verify_head_detailed`].
pub fn verify_head(
    envelope_json: &str,
    trusted: &[VerifyingKey],
) -> Result<TraceHeadClaims, SealError> {
    verify_head_detailed(envelope_json, trusted).map(|v| v.claims)
}

/// Verifies a signed trace head and says which trusted key signed it.
///
/// In order: the envelope parses strictly; `payloadType` is the in-toto one; there is
/// exactly one signature; its `keyid` names a trusted key and the signature `verify_strict`s
/// with that key over `PAE(payloadType, payload)`; only then is the payload parsed, strictly,
/// as an in-toto Statement v1 with the trace-head predicate; the subject names the
/// predicate's tenant and run with its `root_hash` as digest; the digests are well formed.
///
/// A signature by a key that is not in `trusted` is [`SealError::UntrustedKey`], never
/// success, whether or not it is a valid signature.
pub fn verify_head_detailed(
    envelope_json: &str,
    trusted: &[VerifyingKey],
) -> Result<VerifiedHead, SealError> {
    if trusted.is_empty() {
        return Err(SealError::NoTrustedKeys);
    }

    // 1. The envelope.
    let value = parse_strict(envelope_json.as_bytes(), "envelope")?;
    check_object(&value, fields_of::<Envelope>(), "envelope")?;
    if let Some(Value::Array(sigs)) = value.get("signatures") {
        for s in sigs {
            check_object(s, fields_of::<EnvelopeSignature>(), "signature")?;
        }
    }
    let envelope: Envelope = typed(value, "envelope")?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(SealError::WrongPayloadType {
            found: clip(&envelope.payload_type),
        });
    }
    let signature = match envelope.signatures.as_slice() {
        [] => return Err(SealError::NoSignature),
        [one] => one,
        many => return Err(SealError::TooManySignatures { count: many.len() }),
    };
    let body = STANDARD
        .decode(&envelope.payload)
        .map_err(|_| SealError::Base64 { field: "payload" })?;
    let sig_bytes = STANDARD
        .decode(&signature.sig)
        .map_err(|_| SealError::Base64 {
            field: "signature sig",
        })?;
    let sig = Signature::from_slice(&sig_bytes).map_err(|_| SealError::SignatureLength {
        len: sig_bytes.len(),
    })?;

    // 2. The signature, over exactly the carried bytes, before anything reads them.
    let message = pae(&envelope.payload_type, &body);
    let signer = match trusted.iter().find(|k| key_id(k) == signature.keyid) {
        Some(key) => {
            let id = key_id(key);
            key.verify_strict(&message, &sig)
                .map_err(|_| SealError::BadSignature { key_id: id.clone() })?;
            id
        }
        None => {
            // Not named by a pinned key. Say so precisely if a pinned key did sign it anyway;
            // either way it is an error.
            return Err(
                match trusted
                    .iter()
                    .find(|k| k.verify_strict(&message, &sig).is_ok())
                {
                    Some(key) => SealError::KeyIdMismatch {
                        claimed: clip(&signature.keyid),
                        actual: key_id(key),
                    },
                    None => SealError::UntrustedKey {
                        key_id: clip(&signature.keyid),
                    },
                },
            );
        }
    };

    // 3. The statement it carries.
    let value = parse_strict(&body, "statement")?;
    let st = check_object(&value, fields_of::<Statement>(), "statement")?;
    if let Some(Value::Array(subjects)) = st.get("subject") {
        for s in subjects {
            let subject = check_object(s, fields_of::<Subject>(), "subject")?;
            if let Some(digest) = subject.get("digest") {
                check_object(digest, fields_of::<SubjectDigest>(), "subject digest")?;
            }
        }
    }
    if let Some(p) = st.get("predicate") {
        check_object(p, fields_of::<TraceHeadClaims>(), "predicate")?;
    }
    let statement: Statement = typed(value, "statement")?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(SealError::WrongStatementType {
            found: clip(&statement.statement_type),
        });
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(SealError::WrongPredicateType {
            found: clip(&statement.predicate_type),
        });
    }
    let claims = statement.predicate;
    claims.check_well_formed()?;
    let subject = match statement.subject.as_slice() {
        [one] => one,
        other => {
            return Err(SealError::SubjectMismatch {
                reason: format!("{} subjects, expected exactly one", other.len()),
            });
        }
    };
    if subject.name != claims.subject_name() {
        return Err(SealError::SubjectMismatch {
            reason: format!(
                "subject name \"{}\" is not \"{}\"",
                clip(&subject.name),
                clip(&claims.subject_name())
            ),
        });
    }
    if subject.digest.sha256 != claims.root_hash {
        return Err(SealError::SubjectMismatch {
            reason: "subject sha256 is not the predicate's root_hash".into(),
        });
    }
    Ok(VerifiedHead {
        claims,
        key_id: signer,
    })
}

// ---------------------------------------------------------------------------------------
// Keys.

/// The signing key with these 32 secret seed bytes (RFC 8032 private key). The caller draws
/// them from a CSPRNG; the core never does.
pub fn signing_key_from_seed(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

/// The private key as a PKCS#8 v1 `-----BEGIN PRIVATE KEY-----` PEM (RFC 8410, the form
/// `openssl genpkey -algorithm ed25519` writes). Zeroized on drop.
pub fn signing_key_to_pem(key: &SigningKey) -> Result<Zeroizing<String>, SealError> {
    KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| SealError::Key {
        reason: format!("cannot encode the private key as PKCS#8 PEM: {e}"),
    })
}

/// Reads a PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM holding an Ed25519 key (v1, or v2 whose
/// public key must match). Encrypted keys are not supported.
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, SealError> {
    let pem = pem.trim();
    expect_label(pem, "PRIVATE KEY")?;
    SigningKey::from_pkcs8_pem(pem).map_err(|e| SealError::Key {
        reason: format!("not an Ed25519 PKCS#8 private key: {e}"),
    })
}

/// The public key as an SPKI `-----BEGIN PUBLIC KEY-----` PEM (RFC 8410).
pub fn verifying_key_to_pem(key: &VerifyingKey) -> Result<String, SealError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| SealError::Key {
            reason: format!("cannot encode the public key as SPKI PEM: {e}"),
        })
}

/// Reads an SPKI `-----BEGIN PUBLIC KEY-----` PEM holding an Ed25519 key. Weak (small-order)
/// keys are refused: no signature could verify with them under `verify_strict` anyway.
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, SealError> {
    let pem = pem.trim();
    expect_label(pem, "PUBLIC KEY")?;
    let key = VerifyingKey::from_public_key_pem(pem).map_err(|e| SealError::Key {
        reason: format!("not an Ed25519 SPKI public key: {e}"),
    })?;
    if key.is_weak() {
        return Err(SealError::Key {
            reason: "the public key is a weak (small-order) point".into(),
        });
    }
    Ok(key)
}

/// Says clearly when a PEM block of another kind was handed in (a private key for a public
/// one, an encrypted key, a certificate). Never echoes key material.
fn expect_label(pem: &str, want: &str) -> Result<(), SealError> {
    let first = pem.lines().next().unwrap_or("").trim();
    let found = first
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.strip_suffix("-----"));
    match found {
        Some(label) if label == want => Ok(()),
        Some("ENCRYPTED PRIVATE KEY") => Err(SealError::Key {
            reason: "encrypted PKCS#8 private keys are not supported; decrypt it first".into(),
        }),
        Some(label) => Err(SealError::Key {
            reason: format!(
                "expected a \"-----BEGIN {want}-----\" PEM block, found \"-----BEGIN {}-----\"",
                clip(label)
            ),
        }),
        None => Err(SealError::Key {
            reason: format!("not PEM: expected a \"-----BEGIN {want}-----\" line first"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_come_from_the_types() {
        assert_eq!(
            fields_of::<Envelope>(),
            ["payloadType", "payload", "signatures"]
        );
        assert_eq!(fields_of::<EnvelopeSignature>(), ["keyid", "sig"]);
        assert_eq!(
            fields_of::<Statement>(),
            ["_type", "subject", "predicateType", "predicate"]
        );
        assert_eq!(fields_of::<Subject>(), ["name", "digest"]);
        assert_eq!(fields_of::<SubjectDigest>(), ["sha256"]);
        assert_eq!(fields_of::<TraceHeadClaims>().len(), 11);
        // Every claim field is one that serializes, and the other way round.
        let claims = TraceHeadClaims {
            tenant_id: String::new(),
            run_id: String::new(),
            trace_id: String::new(),
            integrity_model: String::new(),
            chain_length: 0,
            root_hash: String::new(),
            merkle_root: String::new(),
            skill_digests: BTreeMap::new(),
            status: String::new(),
            started_at: String::new(),
            completed_at: String::new(),
        };
        let Value::Object(map) = serde_json::to_value(&claims).unwrap() else {
            panic!()
        };
        let mut serialized: Vec<&str> = map.keys().map(String::as_str).collect();
        let mut declared = fields_of::<TraceHeadClaims>().to_vec();
        serialized.sort_unstable();
        declared.sort_unstable();
        assert_eq!(serialized, declared);
    }
}
