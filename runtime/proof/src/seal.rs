//! The signed trace head: what a sealed trace claims, signed so it can be checked away from
//! the database that holds the trace.
//!
//! Format (standard, so other tools can read it):
//! - a [DSSE v1](https://github.com/secure-systems-lab/dsse) envelope
//!   `{"payloadType":"application/vnd.in-toto+json","payload":"<base64>","signatures":[{"keyid","sig"}]}`,
//!   signed with Ed25519 over `PAE(payloadType, payload bytes)`;
//! - carrying an [in-toto Statement v1](https://github.com/in-toto/attestation) whose one
//!   subject is `runproof:run:<tenant_id>/<run_id>` with the chain head as its `sha256`
//!   digest, and whose predicate is the [`TraceHeadClaims`].
//!
//! Two predicate versions exist. **v2** ([`PREDICATE_TYPE`], written by this runtime) states
//! everything v1 states plus the trace row's `sealed_at` and the run row's values
//! ([`RunClaims`]: agent, origin, goal, plan digest, error, creation time, duration), so no
//! column an operator reads beside a verdict is left unbound. **v1**
//! ([`PREDICATE_TYPE_V1`], written before) is still read: it verifies what it states, and
//! the columns it does not state are reported as not covered (see [`crate::binding`]).
//!
//! Verification ([`verify_head`]) is strict and fails closed: exactly one signature, by a
//! pinned key, named by its key id, checked with `verify_strict`; the envelope and the
//! statement are parsed with no duplicate keys, no unknown fields, no trailing data and no
//! number outside the exactly representable range (±(2^53−1)). It never panics.
//!
//! What the claims *say* (model, length, digests) is for the caller to compare with the
//! stored trace; [`TraceHeadClaims::validate`] checks that they are sensible on their own.
//!
//! One file: the signed statement's format, its strict parse and its checks are one
//! specification (docs/proof-format.md §6), kept in one place so they cannot drift.

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
/// `predicateType` of a RunProof trace head as this runtime writes it (v2: binds the run row).
pub const PREDICATE_TYPE: &str = "https://runproof.dev/attestations/trace-head/v2";
/// `predicateType` of the first trace-head format (no run row, no `sealed_at`); still read.
pub const PREDICATE_TYPE_V1: &str = "https://runproof.dev/attestations/trace-head/v1";
/// Prefix of the statement's subject name: `runproof:run:<tenant_id>/<run_id>`.
pub const SUBJECT_PREFIX: &str = "runproof:run:";
/// The strict-JSON integer bound, which the head's numbers must respect too.
pub use crate::strict::MAX_SAFE_INTEGER;

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
    /// v2 only: when the trace was sealed (the trace row's `sealed_at`), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_at: Option<String>,
    /// v2 only: what the run row says, as the runner wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunClaims>,
}

/// What the `runs` row of a sealed run must say (predicate v2). Times are RFC 3339 UTC with
/// six fractional digits and `Z`, the precision Postgres keeps, so a column read back and
/// formatted the same way compares byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunClaims {
    /// `runs.agent_id` (and `aos_traces.agent_id`).
    pub agent_id: String,
    /// `runs.origin_system_id`.
    pub origin_system_id: String,
    /// `runs.goal`.
    pub goal: String,
    /// Lower-case hex SHA-256 of `runs.plan_json`, the exact UTF-8 text stored (the plan
    /// itself is also in `run.start`, inside the chain).
    pub plan_sha256: String,
    /// `runs.error_message`: why the run failed; `null` when it succeeded.
    pub error_message: Option<String>,
    /// `runs.created_at`.
    pub created_at: String,
    /// `runs.duration_ms`: whole milliseconds from `started_at` to `completed_at`.
    pub duration_ms: u64,
}

/// Which trace-head format a statement uses, by its `predicateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HeadVersion {
    #[serde(rename = "v1")]
    V1,
    #[serde(rename = "v2")]
    V2,
}

impl HeadVersion {
    /// `v1` or `v2`, as outputs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadVersion::V1 => "v1",
            HeadVersion::V2 => "v2",
        }
    }

    pub fn predicate_type(self) -> &'static str {
        match self {
            HeadVersion::V1 => PREDICATE_TYPE_V1,
            HeadVersion::V2 => PREDICATE_TYPE,
        }
    }

    fn of_predicate_type(t: &str) -> Option<Self> {
        match t {
            PREDICATE_TYPE => Some(HeadVersion::V2),
            PREDICATE_TYPE_V1 => Some(HeadVersion::V1),
            _ => None,
        }
    }
}

impl TraceHeadClaims {
    /// v2 when the claims carry the run row (and `sealed_at`), else v1.
    pub fn version(&self) -> HeadVersion {
        if self.run.is_some() {
            HeadVersion::V2
        } else {
            HeadVersion::V1
        }
    }

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
        if let (Some(sealed_at), Some(run)) = (&self.sealed_at, &self.run) {
            for (field, value) in [
                ("sealed_at", sealed_at),
                ("run.agent_id", &run.agent_id),
                ("run.origin_system_id", &run.origin_system_id),
                ("run.created_at", &run.created_at),
            ] {
                if value.is_empty() {
                    return Err(invalid_claim(field, "is empty"));
                }
            }
        }
        Ok(())
    }

    /// What any signed head must satisfy, whatever its model.
    fn check_well_formed(&self) -> Result<(), SealError> {
        // v2 states both or neither: a head with one of them is of no version.
        if self.run.is_some() != self.sealed_at.is_some() {
            return Err(invalid_claim(
                if self.run.is_some() {
                    "sealed_at"
                } else {
                    "run"
                },
                "is missing; a v2 head states both sealed_at and run",
            ));
        }
        if let Some(run) = &self.run {
            check_hex_digest("run.plan_sha256", &run.plan_sha256)?;
            if run.duration_ms > MAX_SAFE_INTEGER {
                return Err(invalid_claim("run.duration_ms", "is above 2^53-1"));
            }
        }
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

/// The predicate fields of each version: v1 is v2 without `sealed_at` and `run`.
fn predicate_fields(version: HeadVersion) -> Vec<&'static str> {
    let all = fields_of::<TraceHeadClaims>();
    match version {
        HeadVersion::V2 => all.to_vec(),
        HeadVersion::V1 => all
            .iter()
            .copied()
            .filter(|f| !matches!(*f, "sealed_at" | "run"))
            .collect(),
    }
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
        predicate_type: claims.version().predicate_type().to_owned(),
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
    // The predicate's fields depend on its version: read the type before the predicate.
    // An unknown type is read with the current (v2) fields, so the checks keep their order
    // (shape, then types, then `predicateType` itself); it is refused below.
    let version = match st.get("predicateType") {
        Some(Value::String(t)) => HeadVersion::of_predicate_type(t).unwrap_or(HeadVersion::V2),
        _ => HeadVersion::V2,
    };
    if let Some(p) = st.get("predicate") {
        let predicate = check_object(p, &predicate_fields(version), "predicate")?;
        if let Some(run) = predicate.get("run") {
            check_object(run, fields_of::<RunClaims>(), "predicate run")?;
        }
    }
    let statement: Statement = typed(value, "statement")?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(SealError::WrongStatementType {
            found: clip(&statement.statement_type),
        });
    }
    if HeadVersion::of_predicate_type(&statement.predicate_type) != Some(version) {
        return Err(SealError::WrongPredicateType {
            found: clip(&statement.predicate_type),
        });
    }
    let claims = statement.predicate;
    // `"run": null` passes the field check; a v2 head must state the run for real.
    if claims.version() != version {
        return Err(invalid_claim(
            "run",
            "must be an object in a v2 head, and absent in a v1 head",
        ));
    }
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

/// Reads a keyring: one or more SPKI `-----BEGIN PUBLIC KEY-----` blocks, as
/// `runtime keys export-public --all` writes them, so a reviewer pins a whole rotation
/// history with one file. Outside the blocks only blank lines and `#` comment lines are
/// allowed (a comment never names a trusted key: every key id is recomputed from the key
/// bytes). Each key is checked as [`verifying_key_from_pem`] checks one; a repeated key is
/// kept once. A file of one PEM block is a keyring of one key.
pub fn verifying_keys_from_keyring(text: &str) -> Result<Vec<VerifyingKey>, SealError> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let mut keys: Vec<VerifyingKey> = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let line_no = n + 1;
        match &mut block {
            Some((start, pem)) => {
                pem.push_str(line);
                pem.push('\n');
                if line == END {
                    let key = verifying_key_from_pem(pem).map_err(|e| SealError::Key {
                        reason: format!("the key starting on line {start}: {e}"),
                    })?;
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                    block = None;
                } else if line.starts_with("-----") {
                    return Err(SealError::Key {
                        reason: format!(
                            "line {line_no}: \"{}\" inside the key starting on line {start}",
                            clip(line)
                        ),
                    });
                }
            }
            None if line.is_empty() || line.starts_with('#') => {}
            None if line == BEGIN => block = Some((line_no, format!("{line}\n"))),
            None if line.starts_with("-----BEGIN ") => {
                // Names the wrong kind of block (a private key, a certificate) clearly.
                let mut pem = format!("{line}\n");
                pem.push_str(END);
                return Err(match verifying_key_from_pem(&pem) {
                    Err(SealError::Key { reason }) => SealError::Key {
                        reason: format!("line {line_no}: {reason}"),
                    },
                    _ => SealError::Key {
                        reason: format!("line {line_no}: not a public key block"),
                    },
                });
            }
            None => {
                return Err(SealError::Key {
                    reason: format!(
                        "line {line_no}: \"{}\" is neither a PEM block, a blank line nor a # comment",
                        clip(line)
                    ),
                });
            }
        }
    }
    if let Some((start, _)) = block {
        return Err(SealError::Key {
            reason: format!("the key starting on line {start} has no \"{END}\" line"),
        });
    }
    if keys.is_empty() {
        return Err(SealError::Key {
            reason: format!("no \"{BEGIN}\" block found"),
        });
    }
    Ok(keys)
}

/// The key id of an SPKI public key PEM: the id is always computed from the key bytes, never
/// read from anywhere else.
pub fn key_id_of_pem(pem: &str) -> Result<String, SealError> {
    verifying_key_from_pem(pem).map(|k| key_id(&k))
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
        assert_eq!(fields_of::<TraceHeadClaims>().len(), 13);
        assert_eq!(predicate_fields(HeadVersion::V1).len(), 11);
        assert_eq!(fields_of::<RunClaims>().len(), 7);
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
            sealed_at: Some(String::new()),
            run: Some(RunClaims {
                agent_id: String::new(),
                origin_system_id: String::new(),
                goal: String::new(),
                plan_sha256: String::new(),
                error_message: None,
                created_at: String::new(),
                duration_ms: 0,
            }),
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
