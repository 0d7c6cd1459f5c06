//! `RunProofCoordinator`: answers "can this run's trace be trusted?" for one tenant.
//!
//! A thin I/O layer: it reads the run's trace rows from Postgres, streams the steps in
//! `step_index` order through the pure verifier of `runproof-proof`, and returns the proof
//! object the seed plans name (`run_id`, `integrity`, `aos_traces`, `aos_trace_steps`,
//! `verified_at`). It never writes.

mod export;
mod replay_source;

pub use replay_source::VerifiedSteps;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use runproof_proof::{ChainVerifier, Integrity, IntegrityModel, VerificationStatus, VerifyingKey};
use runproof_store::{Store, StoreError, TraceRow};
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

/// Trace summary, as the original system named it.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub run_id: String,
    pub status: String,
    pub step_count: i64,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub integrity_model: String,
    pub chain_length: Option<i64>,
    pub root_hash: Option<String>,
    pub merkle_root: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    /// Key id that signed the head (as stored; only a pinned key makes it trusted).
    pub signing_key_id: Option<String>,
}

/// Step summary, as the original system named it (plus `kind` and `hash`).
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
    pub run_status: String,
    pub integrity: Integrity,
    pub aos_traces: Vec<TraceSummary>,
    pub aos_trace_steps: Vec<StepSummary>,
    pub verified_at: DateTime<Utc>,
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
        let mut verdicts = Vec::with_capacity(traces.len());
        for trace in &traces {
            verdicts.push(self.verify_trace(trace, listing, &mut steps_out).await?);
        }
        Ok(RunProof {
            run_id: run.id,
            tenant_id: run.tenant_id,
            run_status: run.status,
            integrity: combine(verdicts),
            aos_traces: traces.iter().map(summary).collect(),
            aos_trace_steps: steps_out,
            verified_at: Utc::now(),
        })
    }

    async fn verify_trace(
        &self,
        trace: &TraceRow,
        listing: StepListing,
        steps_out: &mut Vec<StepSummary>,
    ) -> Result<Integrity, CoordinatorError> {
        let head = trace.trace_head();
        let mut verifier = ChainVerifier::new(head.ids.clone());
        let mut stream = self.store.stream_steps(&trace.trace_id);
        while let Some(step) = stream.next().await {
            let step = step?;
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
        Ok(verifier.finish(&head, &self.trusted))
    }
}

fn summary(t: &TraceRow) -> TraceSummary {
    TraceSummary {
        trace_id: t.trace_id.clone(),
        run_id: t.run_id.clone(),
        status: t.status.clone(),
        step_count: t.step_count,
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

/// One verdict for the run: no trace is `NONE`/`UNSUPPORTED`; several traces are verified
/// only if each is, and the first failure is the one reported.
fn combine(verdicts: Vec<Integrity>) -> Integrity {
    match verdicts.len() {
        0 => Integrity {
            model: IntegrityModel::None,
            verification_status: VerificationStatus::Unsupported,
            chain_length: 0,
            root_hash: None,
            merkle_root: None,
            signed_by: None,
            failure_reason: Some("no trace was recorded for this run".into()),
        },
        1 => verdicts.into_iter().next().expect("one verdict"),
        _ => {
            let chain_length = verdicts.iter().map(|v| v.chain_length).sum();
            match verdicts.iter().find(|v| !v.is_verified()) {
                Some(bad) => Integrity {
                    chain_length,
                    ..bad.clone()
                },
                None => Integrity {
                    chain_length,
                    root_hash: verdicts.last().and_then(|v| v.root_hash.clone()),
                    ..verdicts[0].clone()
                },
            }
        }
    }
}
