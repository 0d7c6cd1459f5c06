//! Runs a goal: plan it, open a run and its trace, run each plan step as a skill in the
//! sandbox, record every step, and seal the trace once the run has ended.
//!
//! Order of effects (see ARCHITECTURE.md): everything that can be rejected (agent, plan,
//! skills) is checked before any row is written; `plan_json` is stored before the first step
//! runs; every step is durable before the trace is sealed; the run is reported finished
//! only after the seal commits.

mod catalog;
mod control;
pub mod lease;
mod outputs;
mod plan;
mod planner;
mod queued;
mod runner;
pub mod secrets;
mod writer;

pub mod private_file;
pub use catalog::LoadedSkillInfo;
pub use control::RunControl;
pub use plan::{OnError, Plan, PlanError, PlanStep};
pub use planner::{StubPlanner, plan_goal};
pub use queued::{MAX_ATTEMPTS, QueueOptions, parse_model};
pub use runner::{
    RunError, RunEvent, RunObserver, RunReport, RunRequest, Runner, StepOutcome, limit_grant,
};
/// The run-status vocabulary, re-exported so that every caller of the runner spells it one way.
pub use runproof_proof::RunStatus;
pub use secrets::{SecretError, SecretKeyring};
pub use writer::TraceWriter;

/// A fresh random id (UUID v4) for agents, runs and traces.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Entry points for the fuzz targets (`fuzz/`): internals that untrusted input reaches, not
/// an API.
#[doc(hidden)]
pub mod fuzzing {
    /// `{{ key.path }}` resolution of a step's params against earlier outputs.
    pub fn resolve_params(
        params: &serde_json::Value,
        outputs: &std::collections::HashMap<String, serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        crate::outputs::resolve(params, outputs)
    }
}
