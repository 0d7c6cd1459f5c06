//! Runs that go through the queue: `submit` checks a request and queues it (the run is
//! executed later by a worker); `run_claimed` executes a run a worker claimed, through the
//! same `Runner::run` path as `runtime run` (same checks, trace, seal and signature).

use crate::control::RunControl;
use crate::plan::PlanError;
use crate::runner::{Admission, RunError, RunObserver, RunReport, RunRequest, Runner};
use runproof_proof::IntegrityModel;
use runproof_store::{ClaimedRun, Submission, Submitted};

/// Highest `max_attempts` a plan may ask for (the schema checks the same bound).
pub const MAX_ATTEMPTS: u32 = 10;

/// How a submission is queued, beyond the run request itself.
#[derive(Debug, Clone, Default)]
pub struct QueueOptions {
    /// Higher runs first; equal priorities in submission order.
    pub priority: i32,
}

/// The integrity model a queued run's row names.
pub fn parse_model(s: &str) -> Option<IntegrityModel> {
    match s {
        "HASH_CHAIN" => Some(IntegrityModel::HashChain),
        "MERKLE_TREE" => Some(IntegrityModel::MerkleTree),
        _ => None,
    }
}

impl Runner {
    /// Checks `req` as `run` would before writing anything (agent for this tenant, plan,
    /// every skill loadable, the agent's grant parseable), then queues it. Refused: nothing
    /// is written. With an idempotency key already used by the tenant: the earlier run,
    /// nothing written, nothing executed again. Secrets are not opened here: the key may
    /// live only where workers run.
    pub async fn submit(
        &self,
        req: &RunRequest,
        options: &QueueOptions,
    ) -> Result<Submitted, RunError> {
        if let Some(key) = &req.idempotency_key
            && let Some(run) = self
                .store()
                .run_by_idempotency_key(&req.tenant_id, key)
                .await?
        {
            return Ok(Submitted {
                run,
                created: false,
            });
        }
        let crate::runner::Vetted { agent, plan, .. } = self.vet(req).await?;
        if plan.max_attempts == 0 || plan.max_attempts > MAX_ATTEMPTS {
            return Err(PlanError::Invalid(format!(
                "max_attempts {} is out of range: give 1 (never attempted again, the default) to {MAX_ATTEMPTS}",
                plan.max_attempts
            ))
            .into());
        }
        for step in &plan.steps {
            self.resolve_skill(&step.skill).await?;
        }
        Ok(self
            .store()
            .submit_run(&Submission {
                id: crate::new_id(),
                agent_id: agent.id.clone(),
                tenant_id: req.tenant_id.clone(),
                origin_system_id: req.origin_system_id.clone(),
                goal: req.goal.clone(),
                plan_json: plan.to_json(),
                idempotency_key: req.idempotency_key.clone(),
                priority: options.priority,
                max_attempts: plan.max_attempts as i32,
                integrity_model: req.integrity_model.as_str().to_string(),
            })
            .await?)
    }

    /// Executes a run claimed from the queue (`Store::claim_next_run` with this runner's
    /// lease) to its end. If it cannot even start (its agent or a skill is gone since it was
    /// queued), it is marked failed with the reason and its trace stays unsealed.
    pub async fn run_claimed(
        &self,
        claimed: ClaimedRun,
        control: &RunControl,
        observer: &dyn RunObserver,
    ) -> Result<RunReport, RunError> {
        let run = &claimed.run;
        let req = RunRequest {
            agent_id: run.agent_id.clone(),
            tenant_id: run.tenant_id.clone(),
            origin_system_id: run.origin_system_id.clone(),
            goal: run.goal.clone(),
            plan_json: run.plan_json.clone(),
            idempotency_key: run.idempotency_key.clone(),
            integrity_model: parse_model(&claimed.integrity_model)
                .unwrap_or(IntegrityModel::HashChain),
        };
        let run_id = run.id.clone();
        let result = self
            .run_admitted(
                &req,
                Admission::Claimed(Box::new(claimed)),
                control,
                observer,
            )
            .await;
        if let Err(e) = &result
            && !matches!(e, RunError::TraceNotDurable { .. })
        {
            // Only a run still `running` changes: one recovered as lost keeps its error.
            let _ = self
                .store()
                .abandon_run(
                    &run_id,
                    &format!("could not be executed: {e}; trace left unsealed"),
                )
                .await;
        }
        result
    }
}
