//! A run's trace for replay: every step read into memory once and verified, so that what is
//! replayed is exactly the bytes that were verified (not a second read a writer could have
//! changed in between).

use futures_util::StreamExt;
use runproof_proof::{ChainVerifier, Integrity, StoredStep};

use crate::{CoordinatorError, RunProofCoordinator};

/// The steps of a run's one trace and the verdict over exactly them.
pub struct VerifiedSteps {
    pub trace_id: String,
    pub integrity: Integrity,
    /// Every stored step, in `step_index` order.
    pub steps: Vec<StoredStep>,
}

impl RunProofCoordinator {
    /// Reads the run's trace (a run has one) and verifies it with the pinned keys. Holds
    /// every step in memory: replay needs them all.
    pub async fn verified_steps(
        &self,
        tenant_id: &str,
        run_id: &str,
    ) -> Result<VerifiedSteps, CoordinatorError> {
        let trace = self.single_trace(tenant_id, run_id).await?;
        let head = trace.trace_head();
        let mut verifier = ChainVerifier::new(head.ids.clone());
        let mut steps = Vec::with_capacity(trace.step_count.max(0) as usize);
        let mut stream = self.store().stream_steps(&trace.trace_id);
        while let Some(step) = stream.next().await {
            let step = step?;
            verifier.push(&step);
            steps.push(step);
        }
        Ok(VerifiedSteps {
            trace_id: trace.trace_id.clone(),
            integrity: verifier.finish(&head, &self.trusted),
            steps,
        })
    }
}
