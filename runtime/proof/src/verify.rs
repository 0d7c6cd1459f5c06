//! The checking side: recomputes a stored chain and compares it with the sealed head.
//!
//! Fail closed: every path that is not a complete, matching check ends in `FAILED` or
//! `UNSUPPORTED`, and the reason names the first bad `step_index` when there is one.

use crate::hash::{self, Digest, DIGEST_LEN, genesis, step_hash};
use crate::model::{Integrity, IntegrityModel, VerificationStatus};
use crate::step::{ENVELOPE_VERSION, StepHeader, StepKind, StepStatus};

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
    /// Sealed `root_hash`; `None` while unsealed.
    pub root_hash: Option<Vec<u8>>,
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

/// Checks steps one at a time in `step_index` order, so a caller can stream a trace of any
/// length from the database in constant memory.
#[derive(Debug)]
pub struct ChainVerifier {
    ids: TraceIds,
    expected_index: u64,
    prev: Digest,
    last_kind: Option<StepKind>,
    last_run_status: Option<String>,
    failure: Option<String>,
}

impl ChainVerifier {
    pub fn new(ids: TraceIds) -> Self {
        let prev = genesis(&ids.tenant_id, &ids.run_id, &ids.trace_id);
        ChainVerifier {
            ids,
            expected_index: 0,
            prev,
            last_kind: None,
            last_run_status: None,
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
                format!("step_index {i} is missing (next stored step is {})", step.step_index)
            } else {
                format!("step_index {} appears out of order or twice (expected {i})", step.step_index)
            });
        }
        if step.trace_id != self.ids.trace_id
            || step.run_id != self.ids.run_id
            || step.tenant_id != self.ids.tenant_id
        {
            return Err(format!("step_index {i} carries the ids of another trace, run or tenant"));
        }
        let stored_prev = digest(&step.prev_hash)
            .ok_or_else(|| format!("step_index {i}: prev_hash is not a {DIGEST_LEN}-byte digest"))?;
        if stored_prev != self.prev {
            return Err(format!("step_index {i}: prev_hash does not link to the previous step"));
        }
        let stored_hash = digest(&step.hash)
            .ok_or_else(|| format!("step_index {i}: hash is not a {DIGEST_LEN}-byte digest"))?;
        let recomputed = step_hash(&self.prev, i, &step.payload);
        if recomputed != stored_hash {
            return Err(format!("step_index {i}: stored payload does not hash to the stored hash"));
        }
        let header = StepHeader::parse(&step.payload)
            .map_err(|e| format!("step_index {i}: payload is not a step envelope ({e})"))?;
        check_columns(i, step, &header)?;
        match (i, header.kind) {
            (0, StepKind::RunStart) => {}
            (0, other) => {
                return Err(format!("step_index 0 is {} but a trace starts with run.start", other.as_str()));
            }
            (_, StepKind::RunStart) => return Err(format!("step_index {i}: a second run.start")),
            _ => {}
        }
        if self.last_kind == Some(StepKind::RunEnd) {
            return Err(format!("step_index {i} follows run.end"));
        }
        self.last_kind = Some(header.kind);
        self.last_run_status = header.run_status;
        self.prev = recomputed;
        self.expected_index += 1;
        Ok(())
    }

    /// Compares what was recomputed with the sealed head and gives the verdict.
    pub fn finish(self, head: &TraceHead) -> Integrity {
        let chain_length = self.expected_index;
        let root_hash = (chain_length > 0).then(|| hash::to_hex(&self.prev));
        let verdict = |status, model, reason: Option<String>| Integrity {
            model,
            verification_status: status,
            chain_length,
            root_hash: root_hash.clone(),
            failure_reason: reason,
        };
        match IntegrityModel::parse(&head.integrity_model) {
            Some(IntegrityModel::HashChain) => {}
            Some(other) => {
                return verdict(
                    VerificationStatus::Unsupported,
                    other,
                    Some(format!("integrity model {} cannot be verified here", head.integrity_model)),
                );
            }
            None => {
                return verdict(
                    VerificationStatus::Unsupported,
                    IntegrityModel::None,
                    Some(format!("unknown integrity model {:?}", head.integrity_model)),
                );
            }
        }
        let fail = |reason: String| verdict(VerificationStatus::Failed, IntegrityModel::HashChain, Some(reason));
        if head.ids != self.ids {
            return fail("the trace row does not match the trace being verified".into());
        }
        if let Some(reason) = self.failure {
            return fail(reason);
        }
        let (Some(sealed_len), Some(sealed_root)) = (head.chain_length, head.root_hash.as_ref()) else {
            return fail(format!(
                "trace {} is not sealed (status {}): the run is still going or was interrupted",
                head.ids.trace_id, head.status
            ));
        };
        if sealed_len < 0 {
            return fail(format!("sealed chain_length {sealed_len} is negative"));
        }
        let sealed_len = sealed_len as u64;
        if sealed_len > chain_length {
            return fail(format!(
                "step_index {chain_length} is missing: sealed chain_length is {sealed_len}, {chain_length} steps stored"
            ));
        }
        if sealed_len < chain_length {
            return fail(format!("step_index {sealed_len} is beyond the sealed chain_length {sealed_len}"));
        }
        match digest(sealed_root) {
            Some(root) if root == self.prev && chain_length > 0 => {}
            _ => return fail("sealed root_hash does not match the recomputed head of the chain".into()),
        }
        if self.last_kind != Some(StepKind::RunEnd) {
            return fail(format!("step_index {} is not run.end: the trace is cut short", chain_length - 1));
        }
        match self.last_run_status.as_deref() {
            Some(s) if s == head.status => {}
            other => {
                return fail(format!(
                    "trace status {:?} differs from the status sealed in run.end ({:?})",
                    head.status, other
                ));
            }
        }
        verdict(VerificationStatus::Verified, IntegrityModel::HashChain, None)
    }
}

fn check_columns(i: u64, step: &StoredStep, h: &StepHeader) -> Result<(), String> {
    if h.v != ENVELOPE_VERSION {
        return Err(format!("step_index {i}: envelope version {} is not supported", h.v));
    }
    if step.kind != h.kind.as_str() {
        return Err(format!("step_index {i}: kind column {:?} differs from the hashed kind", step.kind));
    }
    if step.skill_name != h.skill {
        return Err(format!("step_index {i}: skill_name column differs from the hashed skill"));
    }
    if StepStatus::parse(&step.status) != Some(h.status) {
        return Err(format!("step_index {i}: status column {:?} differs from the hashed status", step.status));
    }
    if step.duration_ms.map(|d| d as u64) != h.duration_ms {
        return Err(format!("step_index {i}: duration_ms column differs from the hashed duration"));
    }
    if step.cost_cents < 0 || step.cost_cents as u64 != h.cost_cents {
        return Err(format!("step_index {i}: cost_cents column differs from the hashed cost"));
    }
    Ok(())
}

fn digest(bytes: &[u8]) -> Option<Digest> {
    bytes.try_into().ok()
}

/// Verifies a whole trace given as an iterator in stored order (the caller orders by
/// `step_index`; the verifier does not re-sort, so reordering is caught).
pub fn verify_trace<'a>(head: &TraceHead, steps: impl IntoIterator<Item = &'a StoredStep>) -> Integrity {
    let mut v = ChainVerifier::new(head.ids.clone());
    for s in steps {
        v.push(s);
        if v.has_failed() {
            break;
        }
    }
    v.finish(head)
}
