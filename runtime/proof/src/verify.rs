//! The checking side: recomputes a stored chain and compares it with the sealed head.
//!
//! Fail closed: every path that is not a complete, matching check ends in `FAILED` or
//! `UNSUPPORTED`, and the reason names the first bad `step_index` when there is one.
//!
//! One file: the verifier is one state machine (per-step checks, then the head), and
//! splitting it would put the fail-closed order of its checks in two places.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::hash::{self, DIGEST_LEN, Digest, genesis, step_hash};
use crate::merkle::{MerkleBuilder, leaf_hash};
use crate::model::{Integrity, IntegrityModel, VerificationStatus};
use crate::seal::{TraceHeadClaims, VerifiedHead, VerifyingKey, verify_head_detailed};
use crate::step::{ENVELOPE_VERSION, StepHeader, StepKind, StepStatus};
use std::borrow::Cow;

/// The identity every step of a trace must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceIds {
    pub tenant_id: String,
    pub run_id: String,
    pub trace_id: String,
}

/// The trace row as stored: its ids and what was sealed (if anything).
#[derive(Debug, Clone)]
pub struct TraceHead {
    pub ids: TraceIds,
    /// `aos_traces.integrity_model` as stored.
    pub integrity_model: String,
    /// `aos_traces.status` as stored (`running`, `succeeded`, `failed`).
    pub status: String,
    /// Sealed `chain_length`; `None` while unsealed.
    pub chain_length: Option<i64>,
    /// Sealed `root_hash`; `None` while unsealed. The chain head for `HASH_CHAIN`, the
    /// Merkle root for `MERKLE_TREE`.
    pub root_hash: Option<Vec<u8>>,
    /// The signed trace head (DSSE envelope JSON) stored at seal time; `None` if unsigned.
    pub signed_head: Option<String>,
}

/// One `aos_trace_steps` row as stored. Every column that means something is checked
/// against the hashed payload, so no column can be edited alone.
#[derive(Debug, Clone)]
pub struct StoredStep {
    pub trace_id: String,
    pub run_id: String,
    pub tenant_id: String,
    pub step_index: i64,
    pub kind: String,
    pub skill_name: Option<String>,
    pub status: String,
    pub duration_ms: Option<i64>,
    pub cost_cents: i64,
    pub payload: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What [`ChainVerifier::finish_detailed`] concluded about one trace.
#[derive(Debug, Clone)]
pub struct TraceOutcome {
    pub integrity: Integrity,
    /// The signed head, only when the trace is `VERIFIED`: every claim in it was signed by a
    /// pinned key and matches what was recomputed.
    pub signed: Option<VerifiedHead>,
    /// Whether the trace row was sealed at all (an unsealed trace is a run that is still
    /// going, or one that ended without its seal: interrupted or lost).
    pub sealed: bool,
    /// Whether every stored step hashed and linked (the failure, if any, is in the head).
    pub steps_intact: bool,
}

impl TraceOutcome {
    fn unsigned(integrity: Integrity, head: &TraceHead) -> Self {
        TraceOutcome {
            integrity,
            signed: None,
            sealed: head.chain_length.is_some(),
            steps_intact: false,
        }
    }
}

/// Checks steps one at a time in `step_index` order, so a caller can stream a trace of any
/// length from the database in constant memory.
#[derive(Debug)]
pub struct ChainVerifier {
    ids: TraceIds,
    expected_index: u64,
    prev: Digest,
    tree: MerkleBuilder,
    last_kind: Option<StepKind>,
    last_run_status: Option<String>,
    /// Skill name → component digest, as recorded (and hashed) in `run.start`.
    skill_digests: BTreeMap<String, String>,
    failure: Option<String>,
}

/// The part of `run.start` the signed head repeats: which component ran under each name.
#[derive(Deserialize)]
struct RunStartPayload {
    body: RunStartBody,
}

#[derive(Deserialize)]
struct RunStartBody {
    #[serde(default)]
    skills: BTreeMap<String, RunStartSkill>,
}

#[derive(Deserialize)]
struct RunStartSkill {
    digest: String,
}

impl ChainVerifier {
    pub fn new(ids: TraceIds) -> Self {
        let prev = genesis(&ids.tenant_id, &ids.run_id, &ids.trace_id);
        ChainVerifier {
            ids,
            expected_index: 0,
            prev,
            tree: MerkleBuilder::new(),
            last_kind: None,
            last_run_status: None,
            skill_digests: BTreeMap::new(),
            failure: None,
        }
    }

    /// Checks the next step. After the first failure, later steps are ignored: the verdict
    /// names the first bad one.
    pub fn push(&mut self, step: &StoredStep) {
        if self.failure.is_some() {
            return;
        }
        if let Err(reason) = self.check(step) {
            self.failure = Some(reason);
        }
    }

    /// Whether a failure has been found already (a caller may stop reading).
    pub fn has_failed(&self) -> bool {
        self.failure.is_some()
    }

    fn check(&mut self, step: &StoredStep) -> Result<(), String> {
        let i = self.expected_index;
        if step.step_index < 0 || step.step_index as u64 != i {
            return Err(if step.step_index >= 0 && (step.step_index as u64) > i {
                format!(
                    "step_index {i} is missing (next stored step is {})",
                    step.step_index
                )
            } else {
                format!(
                    "step_index {} appears out of order or twice (expected {i})",
                    step.step_index
                )
            });
        }
        if step.trace_id != self.ids.trace_id
            || step.run_id != self.ids.run_id
            || step.tenant_id != self.ids.tenant_id
        {
            return Err(format!(
                "step_index {i} carries the ids of another trace, run or tenant"
            ));
        }
        let stored_prev = digest(&step.prev_hash).ok_or_else(|| {
            format!("step_index {i}: prev_hash is not a {DIGEST_LEN}-byte digest")
        })?;
        if stored_prev != self.prev {
            return Err(format!(
                "step_index {i}: prev_hash does not link to the previous step"
            ));
        }
        let stored_hash = digest(&step.hash)
            .ok_or_else(|| format!("step_index {i}: hash is not a {DIGEST_LEN}-byte digest"))?;
        let recomputed = step_hash(&self.prev, i, &step.payload);
        if recomputed != stored_hash {
            return Err(format!(
                "step_index {i}: stored payload does not hash to the stored hash"
            ));
        }
        let header = StepHeader::parse(&step.payload)
            .map_err(|e| format!("step_index {i}: payload is not a step envelope ({e})"))?;
        check_columns(i, step, &header)?;
        match (i, header.kind) {
            (0, StepKind::RunStart) => {
                let start: RunStartPayload =
                    serde_json::from_slice(&step.payload).map_err(|e| {
                        format!("step_index 0: run.start does not list its skills ({e})")
                    })?;
                self.skill_digests = start
                    .body
                    .skills
                    .into_iter()
                    .map(|(name, s)| (name, s.digest))
                    .collect();
            }
            (0, other) => {
                return Err(format!(
                    "step_index 0 is {} but a trace starts with run.start",
                    other.as_str()
                ));
            }
            (_, StepKind::RunStart) => return Err(format!("step_index {i}: a second run.start")),
            _ => {}
        }
        if self.last_kind == Some(StepKind::RunEnd) {
            return Err(format!("step_index {i} follows run.end"));
        }
        self.last_kind = Some(header.kind);
        self.last_run_status = header.run_status.map(Cow::into_owned);
        self.prev = recomputed;
        self.tree.push(leaf_hash(i, &recomputed));
        self.expected_index += 1;
        Ok(())
    }

    /// Compares what was recomputed with the sealed head and its signature, and gives the
    /// verdict. `trusted` are the keys the reviewer pinned: a head signed by any other key,
    /// or not signed at all, is never `VERIFIED`.
    pub fn finish(self, head: &TraceHead, trusted: &[VerifyingKey]) -> Integrity {
        self.finish_detailed(head, trusted).integrity
    }

    /// [`ChainVerifier::finish`], with the signed head that verified (for comparing the
    /// rows shown beside the verdict with what was signed, see [`crate::binding`]).
    pub fn finish_detailed(self, head: &TraceHead, trusted: &[VerifyingKey]) -> TraceOutcome {
        let chain_head = hash::to_hex(&self.prev);
        let merkle_root = hash::to_hex(&self.tree.root());
        let model = match IntegrityModel::parse(&head.integrity_model) {
            Some(m @ (IntegrityModel::HashChain | IntegrityModel::MerkleTree)) => m,
            Some(other) => {
                return TraceOutcome::unsigned(
                    self.verdict(
                        VerificationStatus::Unsupported,
                        other,
                        None,
                        Some(format!(
                            "integrity model {} cannot be verified",
                            head.integrity_model
                        )),
                    ),
                    head,
                );
            }
            None => {
                return TraceOutcome::unsigned(
                    self.verdict(
                        VerificationStatus::Unsupported,
                        IntegrityModel::None,
                        None,
                        Some(format!(
                            "unknown integrity model {:?}",
                            head.integrity_model
                        )),
                    ),
                    head,
                );
            }
        };
        match self.check_head(head, model, trusted, &chain_head, &merkle_root) {
            Ok(signed) => TraceOutcome {
                integrity: self.verdict(
                    VerificationStatus::Verified,
                    model,
                    Some(signed.key_id.clone()),
                    None,
                ),
                signed: Some(signed),
                sealed: true,
                steps_intact: true,
            },
            Err(reason) => TraceOutcome {
                integrity: self.verdict(VerificationStatus::Failed, model, None, Some(reason)),
                signed: None,
                sealed: head.chain_length.is_some(),
                steps_intact: self.failure.is_none(),
            },
        }
    }

    fn verdict(
        &self,
        status: VerificationStatus,
        model: IntegrityModel,
        signed_by: Option<String>,
        reason: Option<String>,
    ) -> Integrity {
        let has_steps = self.expected_index > 0;
        let chain_head = has_steps.then(|| hash::to_hex(&self.prev));
        let merkle_root = has_steps.then(|| hash::to_hex(&self.tree.root()));
        Integrity {
            model,
            verification_status: status,
            chain_length: self.expected_index,
            verified_prefix: self.expected_index,
            root_hash: if model == IntegrityModel::MerkleTree {
                merkle_root.clone()
            } else {
                chain_head
            },
            merkle_root,
            signed_by,
            failure_reason: reason,
        }
    }

    /// Every check after the steps themselves, in the order a reader would ask: is this the
    /// trace, did the steps link, was it sealed, does the seal match what was recomputed, and
    /// is the seal signed by a pinned key over exactly these facts. Returns the signer.
    fn check_head(
        &self,
        head: &TraceHead,
        model: IntegrityModel,
        trusted: &[VerifyingKey],
        chain_head: &str,
        merkle_root: &str,
    ) -> Result<VerifiedHead, String> {
        let chain_length = self.expected_index;
        if head.ids != self.ids {
            return Err("the trace row does not match the trace being verified".into());
        }
        if let Some(reason) = &self.failure {
            return Err(reason.clone());
        }
        let (Some(sealed_len), Some(sealed_root)) = (head.chain_length, head.root_hash.as_ref())
        else {
            return Err(format!(
                "trace {} is not sealed (status {}): the run is still going or was interrupted",
                head.ids.trace_id, head.status
            ));
        };
        if sealed_len < 0 {
            return Err(format!("sealed chain_length {sealed_len} is negative"));
        }
        let sealed_len = sealed_len as u64;
        if sealed_len > chain_length {
            return Err(format!(
                "step_index {chain_length} is missing: sealed chain_length is {sealed_len}, {chain_length} steps stored"
            ));
        }
        if sealed_len < chain_length {
            return Err(format!(
                "step_index {sealed_len} is beyond the sealed chain_length {sealed_len}"
            ));
        }
        let model_root = if model == IntegrityModel::MerkleTree {
            merkle_root
        } else {
            chain_head
        };
        if chain_length == 0 || hash::to_hex(sealed_root) != model_root {
            return Err(format!(
                "sealed root_hash does not match the recomputed {} root",
                if model == IntegrityModel::MerkleTree {
                    "Merkle"
                } else {
                    "chain"
                }
            ));
        }
        if self.last_kind != Some(StepKind::RunEnd) {
            return Err(format!(
                "step_index {} is not run.end: the trace is cut short",
                chain_length - 1
            ));
        }
        match self.last_run_status.as_deref() {
            Some(s) if s == head.status => {}
            other => {
                return Err(format!(
                    "trace status {:?} differs from the status sealed in run.end ({:?})",
                    head.status, other
                ));
            }
        }
        let Some(envelope) = head.signed_head.as_deref() else {
            return Err(
                "the trace head is not signed, so nothing outside the database vouches for it"
                    .into(),
            );
        };
        let signed = verify_head_detailed(envelope, trusted)
            .map_err(|e| format!("signed head rejected: {e}"))?;
        signed
            .claims
            .validate()
            .map_err(|e| format!("signed head rejected: {e}"))?;
        self.compare_claims(&signed.claims, head, chain_head, merkle_root)?;
        Ok(signed)
    }

    /// The signed claims must say exactly what was recomputed and what the row says.
    fn compare_claims(
        &self,
        c: &TraceHeadClaims,
        head: &TraceHead,
        chain_head: &str,
        merkle_root: &str,
    ) -> Result<(), String> {
        let differs = |what: &str, signed: &dyn std::fmt::Debug, found: &dyn std::fmt::Debug| {
            Err(format!(
                "signed head is for another trace: signed {what} {signed:?}, found {found:?}"
            ))
        };
        if c.tenant_id != self.ids.tenant_id {
            return differs("tenant_id", &c.tenant_id, &self.ids.tenant_id);
        }
        if c.run_id != self.ids.run_id {
            return differs("run_id", &c.run_id, &self.ids.run_id);
        }
        if c.trace_id != self.ids.trace_id {
            return differs("trace_id", &c.trace_id, &self.ids.trace_id);
        }
        if c.integrity_model != head.integrity_model {
            return Err(format!(
                "integrity model {:?} differs from the signed {:?} (a downgrade is refused)",
                head.integrity_model, c.integrity_model
            ));
        }
        if c.chain_length != self.expected_index {
            return Err(format!(
                "signed chain_length {} differs from the {} steps recomputed",
                c.chain_length, self.expected_index
            ));
        }
        if c.root_hash != chain_head {
            return Err("signed chain head differs from the recomputed chain head".into());
        }
        if c.merkle_root != merkle_root {
            return Err("signed Merkle root differs from the recomputed Merkle root".into());
        }
        if c.status != head.status {
            return Err(format!(
                "trace status {:?} differs from the signed status {:?}",
                head.status, c.status
            ));
        }
        if c.skill_digests != self.skill_digests {
            return Err("signed skill digests differ from the skills recorded in run.start".into());
        }
        Ok(())
    }
}

fn check_columns(i: u64, step: &StoredStep, h: &StepHeader) -> Result<(), String> {
    if h.v != ENVELOPE_VERSION {
        return Err(format!(
            "step_index {i}: envelope version {} is not supported",
            h.v
        ));
    }
    if step.kind != h.kind.as_str() {
        return Err(format!(
            "step_index {i}: kind column {:?} differs from the hashed kind",
            step.kind
        ));
    }
    if step.skill_name.as_deref() != h.skill.as_deref() {
        return Err(format!(
            "step_index {i}: skill_name column differs from the hashed skill"
        ));
    }
    if StepStatus::parse(&step.status) != Some(h.status) {
        return Err(format!(
            "step_index {i}: status column {:?} differs from the hashed status",
            step.status
        ));
    }
    if step.duration_ms.map(|d| d as u64) != h.duration_ms {
        return Err(format!(
            "step_index {i}: duration_ms column differs from the hashed duration"
        ));
    }
    if step.cost_cents < 0 || step.cost_cents as u64 != h.cost_cents {
        return Err(format!(
            "step_index {i}: cost_cents column differs from the hashed cost"
        ));
    }
    Ok(())
}

fn digest(bytes: &[u8]) -> Option<Digest> {
    bytes.try_into().ok()
}

/// Verifies a whole trace given as an iterator in stored order (the caller orders by
/// `step_index`; the verifier does not re-sort, so reordering is caught).
pub fn verify_trace<'a>(
    head: &TraceHead,
    steps: impl IntoIterator<Item = &'a StoredStep>,
    trusted: &[VerifyingKey],
) -> Integrity {
    let mut v = ChainVerifier::new(head.ids.clone());
    for s in steps {
        v.push(s);
        if v.has_failed() {
            break;
        }
    }
    v.finish(head, trusted)
}
