//! The RunProof proof core: how trace steps are hashed and chained, and how a stored trace
//! is verified. Pure: bytes in, verdict out. No database, no clock, no wasm, no RNG.
//!
//! The writer side ([`ChainBuilder`]) and the checking side ([`ChainVerifier`]) share one
//! definition of the hash ([`hash`]), so they cannot drift apart.
//!
//! A chain is `h[-1] = genesis(tenant, run, trace)`, `h[i] = H(tag, h[i-1], i, payload[i])`.
//! A trace is *sealed* once, at the end of its run, with `chain_length = n` and
//! `root_hash = h[n-1]` (or the Merkle root, for `MERKLE_TREE`), and its head is signed.
//! Only a sealed trace whose every stored byte re-hashes to the sealed head, and whose head
//! is signed by a key the caller pinned over exactly those facts, is reported
//! [`VerificationStatus::Verified`].
//!
//! Alongside the chain:
//! - [`merkle`]: an RFC 6962 Merkle tree over the same steps ([`MerkleBuilder`] on the
//!   writer side, in O(log n) memory), with inclusion proofs for single steps;
//! - [`bundle`] and [`inclusion`]: the offline forms a reviewer carries away (the whole
//!   trace; one step with its audit path), read strictly and checked by the same verifier;
//! - [`seal`]: the signed trace head, a DSSE envelope (Ed25519) carrying an in-toto
//!   Statement v1 whose predicate is the [`TraceHeadClaims`] (chain head, Merkle root,
//!   skill digests, status, and in v2 the run row's values), checked against pinned keys by
//!   [`verify_head`];
//! - [`binding`]: the run and trace rows a person reads beside a verdict, each column
//!   compared with the signed head or marked as not covered ([`judge_run`]).
//! - [`document`]: one entry point for a file of either offline form;
//! - [`conformance`]: which rule of `docs/proof-format.md` a failure reason is, so a second,
//!   independent verifier can be checked against this one rule by rule.

pub mod binding;
pub mod bundle;
mod bundle_types;
pub mod bundle_v1;
mod chain;
pub mod components;
mod components_field;
pub mod conformance;
pub mod document;
pub mod hash;
pub mod inclusion;
mod inclusion_step;
pub mod inclusion_v1;
pub mod merkle;
mod model;
pub mod seal;
pub mod signed_head;
mod step;
mod strict;
mod verify;
mod vocabulary;

pub use binding::{Coverage, FieldCheck, RunRecord, RunVerdict, TraceRecord, judge_run};
pub use bundle::{
    Bundle, BundleError, BundleStep, BundleTrace, BundleVerdict, ReadBundle, parse_bundle,
    verify_bundle,
};
pub use chain::{AppendedStep, Chain, ChainBuilder};
pub use document::{DocumentVerdict, verify_document};
pub use hash::{DIGEST_LEN, Digest};
pub use inclusion::{
    InclusionProof, InclusionVerdict, ReadInclusion, parse_inclusion, verify_inclusion_proof,
};
pub use merkle::{MerkleBuilder, MerkleError};
pub use model::{Integrity, IntegrityModel, VerificationStatus};
pub use seal::{
    HeadVersion, RunClaims, SealError, SigningKey, TraceHeadClaims, VerifiedHead, VerifyingKey,
    sign_head, verify_head,
};
pub use step::{StepEnvelope, StepHeader, StepKind, StepStatus};
pub use strict::StrictError;
pub use verify::{ChainVerifier, StoredStep, TraceHead, TraceIds, TraceOutcome, verify_trace};
pub use vocabulary::RunStatus;

/// Entry points for the fuzz targets (`fuzz/`): internals that untrusted bytes reach, not
/// an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::strict::parse_strict;
}
