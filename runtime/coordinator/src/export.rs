//! The offline forms of a proof, read from Postgres: the whole-trace bundle and the
//! inclusion proof of one step. Both are checked by `runproof-proof` alone, so what is
//! exported here needs no trust in this code or the database: a tampered row simply makes a
//! bundle that does not verify.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use runproof_proof::bundle::{BundleTrace, bundle_step};
use runproof_proof::merkle::leaf_hash;
use runproof_proof::signed_head::SignedHead;
use runproof_proof::{Bundle, InclusionProof};
use runproof_store::TraceRow;

use crate::{CoordinatorError, RunProofCoordinator};

impl RunProofCoordinator {
    /// Every stored byte of the run's trace and its signed head, as one bundle (the current
    /// version: the head as a JSON object). Streams the steps; the bundle itself is built in
    /// memory (it is written to one file).
    pub async fn export_bundle(
        &self,
        tenant_id: &str,
        run_id: &str,
    ) -> Result<Bundle, CoordinatorError> {
        let trace = self.single_trace(tenant_id, run_id).await?;
        let mut steps = Vec::with_capacity(trace.step_count.max(0) as usize);
        let mut skill_digests = BTreeMap::new();
        let mut stream = self.store().stream_steps(&trace.trace_id);
        while let Some(step) = stream.next().await {
            let step = step?;
            if step.step_index == 0 {
                skill_digests = run_start_digests(&step.payload);
            }
            steps.push(bundle_step(&step));
        }
        Ok(Bundle {
            format: runproof_proof::bundle::BUNDLE_FORMAT.to_owned(),
            trace: BundleTrace {
                tenant_id: trace.tenant_id.clone(),
                run_id: trace.run_id.clone(),
                trace_id: trace.trace_id.clone(),
                integrity_model: trace.integrity_model.clone(),
                status: trace.status.clone(),
                chain_length: trace.chain_length.map(|n| n.max(0) as u64),
                root_hash: trace.root_hash.as_deref().map(hex::encode),
            },
            signed_head: trace.signed_head.as_deref().map(SignedHead::from_stored),
            skill_digests,
            steps,
            components: None,
        })
    }

    /// The inclusion proof of step `step` against the trace's signed head. Reads every
    /// step once to compute the leaves (32 bytes each), keeping only the one payload shown.
    pub async fn inclusion_proof(
        &self,
        tenant_id: &str,
        run_id: &str,
        step: u64,
    ) -> Result<InclusionProof, CoordinatorError> {
        let trace = self.single_trace(tenant_id, run_id).await?;
        let Some(signed_head) = trace.signed_head.clone() else {
            return Err(CoordinatorError::NotSealed {
                run_id: run_id.into(),
            });
        };
        let mut leaves = Vec::with_capacity(trace.step_count.max(0) as usize);
        let mut shown = None;
        let mut stream = self.store().stream_steps(&trace.trace_id);
        while let Some(row) = stream.next().await {
            let row = row?;
            let index = row.step_index.max(0) as u64;
            // Leaves from the stored hashes: a tampered row yields a proof that fails offline
            // against the signed root, never one that passes.
            leaves.push(leaf_hash(index, &row.hash));
            if index == step {
                shown = Some((row.payload, row.prev_hash));
            }
        }
        let steps = leaves.len() as u64;
        let no_such_step = || CoordinatorError::NoSuchStep {
            run_id: run_id.into(),
            step,
            steps,
        };
        let (payload, prev_hash) = shown.ok_or_else(no_such_step)?;
        InclusionProof::build(signed_head, &leaves, step, &payload, &prev_hash)
            .ok_or_else(no_such_step)
    }

    pub(crate) async fn single_trace(
        &self,
        tenant_id: &str,
        run_id: &str,
    ) -> Result<TraceRow, CoordinatorError> {
        self.store()
            .run_for_tenant(tenant_id, run_id)
            .await?
            .ok_or_else(|| CoordinatorError::NotFound {
                tenant_id: tenant_id.into(),
                run_id: run_id.into(),
            })?;
        let mut traces = self.store().traces_for_run(tenant_id, run_id).await?;
        match traces.len() {
            0 => Err(CoordinatorError::NotSealed {
                run_id: run_id.into(),
            }),
            1 => Ok(traces.remove(0)),
            count => Err(CoordinatorError::ManyTraces {
                run_id: run_id.into(),
                count,
            }),
        }
    }
}

/// The skill digests `run.start` recorded, for the bundle's summary. Unreadable → empty (the
/// offline verifier then reports the mismatch against the signed head).
fn run_start_digests(payload: &[u8]) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    v["body"]["skills"]
        .as_object()
        .map(|skills| {
            skills
                .iter()
                .filter_map(|(name, s)| Some((name.clone(), s["digest"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}
