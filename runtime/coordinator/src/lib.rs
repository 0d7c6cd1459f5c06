//! `RunProofCoordinator`: answers "can this run's trace be trusted?" for one tenant.
//!
//! A thin I/O layer: it reads the run's trace rows from Postgres, streams the steps in
//! `step_index` order through the pure verifier of `runproof-proof`, and returns the proof
//! object the seed plans name (`run_id`, `integrity`, `aos_traces`, `aos_trace_steps`,
//! `verified_at`), with every column of the run and trace rows checked against the signed
//! head by the pure core (`runproof_proof::judge_run`). It never writes.

mod export;
mod replay_source;

pub use replay_source::VerifiedSteps;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use runproof_proof::{
    ChainVerifier, FieldCheck, HeadVersion, Integrity, RunRecord, TraceOutcome, TraceRecord,
    VerifyingKey, judge_run,
};
use runproof_store::{Run, Store, StoreError, TraceRow, rfc3339};
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoordinatorError {
    /// Missing, or belongs to another tenant: the same answer, so ids cannot be probed.
    #[error("run {run_id} not found for tenant {tenant_id}")]
    NotFound { tenant_id: String, run_id: String },
    #[error("step {step} is not in run {run_id} (its trace has {steps} steps, numbered from 0)")]
    NoSuchStep {
        run_id: String,
        step: u64,
        steps: u64,
    },
    #[error("run {run_id} has no sealed, signed trace to export; `runtime proof` says why")]
    NotSealed { run_id: String },
    #[error("run {run_id} has {count} traces; export handles runs with exactly one")]
    ManyTraces { run_id: String, count: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Trace summary, as the original system named it. Every field is checked against the
/// signed head; `checks` in [`RunProof`] says how each one fared.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub run_id: String,
    pub status: String,
    /// Step rows stored under this trace (per trace, never per run).
    pub step_count: u64,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub integrity_model: String,
    pub chain_length: Option<i64>,
    pub root_hash: Option<String>,
    pub merkle_root: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    /// Key id that signed the head, as stored; compared with the id computed from the
    /// pinned key that verified.
    pub signing_key_id: Option<String>,
}

/// Step summary, as the original system named it (plus `kind` and `hash`). Every field is
/// checked against the step's hashed bytes. The row's `created_at` is never shown: it is the
/// database's insert time, outside the hash (the hashed time is the payload's `at`).
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub trace_id: String,
    pub step_index: i64,
    pub kind: String,
    pub skill_name: Option<String>,
    pub status: String,
    pub duration_ms: Option<i64>,
    pub cost_cents: i64,
    pub hash: String,
}

/// The proof of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunProof {
    pub run_id: String,
    pub tenant_id: String,
    /// The run's final status as the pinned key signed it; `null` unless `VERIFIED`.
    pub run_status: Option<String>,
    pub integrity: Integrity,
    /// The format of the signed head the rows were compared with (`v1`, `v2`), if one
    /// verified.
    pub head_version: Option<HeadVersion>,
    /// Every column of the run and trace rows, as stored, with what the proof says about it
    /// (`bound`, `mismatch`, `not_bound`, `unverified`).
    pub checks: Vec<FieldCheck>,
    pub aos_traces: Vec<TraceSummary>,
    pub aos_trace_steps: Vec<StepSummary>,
    pub verified_at: DateTime<Utc>,
}

impl RunProof {
    /// The check of one `runs` column (`runs.goal`).
    pub fn run_field(&self, field: &str) -> Option<&FieldCheck> {
        self.checks
            .iter()
            .find(|c| c.field == field && c.trace_id.is_none())
    }
}

/// Whether the step list goes into the proof (a million-step trace verifies in constant
/// memory only without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepListing {
    Include,
    Omit,
}

pub struct RunProofCoordinator {
    store: Store,
    trusted: Vec<VerifyingKey>,
}

impl RunProofCoordinator {
    /// A coordinator that trusts no key yet: every proof is `FAILED` until keys are pinned
    /// with [`RunProofCoordinator::trusting`]. Keys are never taken from the database.
    pub fn new(store: Store) -> Self {
        RunProofCoordinator {
            store,
            trusted: Vec::new(),
        }
    }

    /// Pins the public keys whose signatures over a trace head are accepted.
    pub fn trusting(mut self, keys: Vec<VerifyingKey>) -> Self {
        self.trusted = keys;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Verifies every trace of `run_id`, as seen by `tenant_id`.
    pub async fn get_run_proof(
        &self,
        tenant_id: &str,
        run_id: &str,
    ) -> Result<RunProof, CoordinatorError> {
        self.get_run_proof_with(tenant_id, run_id, StepListing::Include)
            .await
    }

    pub async fn get_run_proof_with(
        &self,
        tenant_id: &str,
        run_id: &str,
        listing: StepListing,
    ) -> Result<RunProof, CoordinatorError> {
        let run = self
            .store
            .run_for_tenant(tenant_id, run_id)
            .await?
            .ok_or_else(|| CoordinatorError::NotFound {
                tenant_id: tenant_id.into(),
                run_id: run_id.into(),
            })?;
        let traces = self.store.traces_for_run(tenant_id, run_id).await?;
        let mut steps_out = Vec::new();
        let mut judged = Vec::with_capacity(traces.len());
        let mut summaries = Vec::with_capacity(traces.len());
        for trace in &traces {
            let (outcome, step_count) = self.verify_trace(trace, listing, &mut steps_out).await?;
            summaries.push(summary(trace, step_count));
            judged.push((trace_record(trace, step_count), outcome));
        }
        // The comparison of every shown column with the signed head is the pure core's.
        let verdict = judge_run(&run_record(&run), &judged);
        Ok(RunProof {
            run_id: run.id,
            tenant_id: run.tenant_id,
            run_status: verdict.run_status,
            integrity: verdict.integrity,
            head_version: verdict.head_version,
            checks: verdict.checks,
            aos_traces: summaries,
            aos_trace_steps: steps_out,
            verified_at: Utc::now(),
        })
    }

    /// Streams one trace's steps through the verifier; returns its verdict and how many
    /// step rows the trace holds.
    async fn verify_trace(
        &self,
        trace: &TraceRow,
        listing: StepListing,
        steps_out: &mut Vec<StepSummary>,
    ) -> Result<(TraceOutcome, u64), CoordinatorError> {
        let head = trace.trace_head();
        let mut verifier = ChainVerifier::new(head.ids.clone());
        let mut count = 0u64;
        let mut stream = self.store.stream_steps(&trace.trace_id);
        while let Some(step) = stream.next().await {
            let step = step?;
            count += 1;
            if listing == StepListing::Include {
                steps_out.push(StepSummary {
                    trace_id: step.trace_id.clone(),
                    step_index: step.step_index,
                    kind: step.kind.clone(),
                    skill_name: step.skill_name.clone(),
                    status: step.status.clone(),
                    duration_ms: step.duration_ms,
                    cost_cents: step.cost_cents,
                    hash: hex::encode(&step.hash),
                });
            }
            verifier.push(&step);
        }
        Ok((verifier.finish_detailed(&head, &self.trusted), count))
    }
}

/// The run row as the pure core compares it (times in the signed format).
fn run_record(r: &Run) -> RunRecord {
    RunRecord {
        run_id: r.id.clone(),
        tenant_id: r.tenant_id.clone(),
        agent_id: r.agent_id.clone(),
        origin_system_id: r.origin_system_id.clone(),
        goal: r.goal.clone(),
        status: r.status.clone(),
        attempts: r.attempts.into(),
        max_attempts: r.max_attempts.into(),
        error_message: r.error_message.clone(),
        plan_json: r.plan_json.clone(),
        idempotency_key: r.idempotency_key.clone(),
        parent_run_id: r.parent_run_id.clone(),
        priority: r.priority.into(),
        created_at: rfc3339(r.created_at),
        started_at: r.started_at.map(rfc3339),
        completed_at: r.completed_at.map(rfc3339),
        duration_ms: r.duration_ms,
        lease_owner: r.lease_owner.clone(),
        heartbeat_at: r.heartbeat_at.map(rfc3339),
        lease_expires_at: r.lease_expires_at.map(rfc3339),
    }
}

fn trace_record(t: &TraceRow, step_count: u64) -> TraceRecord {
    TraceRecord {
        head: t.trace_head(),
        agent_id: t.agent_id.clone(),
        started_at: rfc3339(t.started_at),
        completed_at: t.completed_at.map(rfc3339),
        sealed_at: t.sealed_at.map(rfc3339),
        merkle_root: t.merkle_root.clone(),
        signing_key_id: t.signing_key_id.clone(),
        step_count,
    }
}

fn summary(t: &TraceRow, step_count: u64) -> TraceSummary {
    TraceSummary {
        trace_id: t.trace_id.clone(),
        run_id: t.run_id.clone(),
        status: t.status.clone(),
        step_count,
        started_at: t.started_at,
        completed_at: t.completed_at,
        integrity_model: t.integrity_model.clone(),
        chain_length: t.chain_length,
        root_hash: t.root_hash.as_deref().map(hex::encode),
        merkle_root: t.merkle_root.as_deref().map(hex::encode),
        sealed_at: t.sealed_at,
        signing_key_id: t.signing_key_id.clone(),
    }
}
