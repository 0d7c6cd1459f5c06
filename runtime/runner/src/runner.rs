//! One run from request to sealed trace: what is asked (`RunRequest`) and answered
//! (`RunReport`, `RunEvent`s on the way), and the `Runner` that holds the store, the skill
//! host and the signing key. A run is three phases, in this order, one file each:
//! `prepare` (refuse or admit, open the trace), `execute` (the steps), `seal` (make the
//! trace durable, sign its head, finish the run row).

mod execute;
mod prepare;
mod seal;

pub(crate) use prepare::{Admission, Vetted};

use crate::control::RunControl;
use crate::plan::{Plan, PlanError};
use crate::secrets::SecretError;
use runproof_host::{LimitGrant, LoadedSkill, SkillHost};
use runproof_proof::seal::{SigningKey, key_id};
use runproof_proof::{IntegrityModel, RunStatus};
use runproof_store::{LeaseHolder, Store, StoreError};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("unknown skill {0:?} in the plan; `runtime skill list` shows the skills available")]
    UnknownSkill(String),
    #[error("skill {name:?} cannot be loaded: {reason}")]
    InvalidSkill { name: String, reason: String },
    /// The skill's `describe` was stopped by the sandbox (a deadline, a limit, a trap) when
    /// the run loaded it. `run` does not return this: such a run is recorded and failed.
    #[error("skill {name:?} was stopped in describe: {reason}")]
    DescribeAborted {
        name: String,
        digest: String,
        reason: String,
    },
    #[error("cannot prepare the run's sandbox: {0}")]
    Sandbox(String),
    #[error("agent {agent_id} has an invalid allowed host: {reason}")]
    BadPolicy { agent_id: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error(
        "run {run_id}: its trace could not be made durable ({reason}); the trace is left unsealed and will not verify"
    )]
    TraceNotDurable { run_id: String, reason: String },
    #[error(
        "no signing key: a run's trace head must be signed; create one with `runtime keys generate`"
    )]
    NoSigningKey,
    #[error("integrity model {0} cannot be produced; use HASH_CHAIN or MERKLE_TREE")]
    UnsupportedModel(&'static str),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub agent_id: String,
    pub tenant_id: String,
    pub origin_system_id: String,
    pub goal: String,
    /// Plan JSON given by the operator (`--plan FILE`); else the agent's, else the stub.
    pub plan_json: Option<String>,
    pub idempotency_key: Option<String>,
    /// Which root the trace row carries (`HASH_CHAIN` by default). Both roots are signed.
    pub integrity_model: IntegrityModel,
}

/// How one plan step ended.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub step_id: String,
    pub skill: String,
    /// `succeeded`, `failed` or `skipped`.
    pub status: &'static str,
    pub attempts: u32,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

impl StepOutcome {
    /// A step that ran (`attempts` times since `started`) and ended with `result`.
    fn ended(
        step: &crate::plan::PlanStep,
        skill: &str,
        attempts: u32,
        started: Instant,
        result: Result<serde_json::Value, String>,
    ) -> Self {
        let (status, output, error) = match result {
            Ok(output) => ("succeeded", Some(output), None),
            Err(e) => ("failed", None, Some(e)),
        };
        StepOutcome {
            step_id: step.step_id.clone(),
            skill: skill.to_string(),
            status,
            attempts,
            duration_ms: started.elapsed().as_millis() as u64,
            error,
            output,
        }
    }
}

/// The end of a run, as `runtime run` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub trace_id: String,
    pub tenant_id: String,
    /// `succeeded` or `failed`.
    pub status: RunStatus,
    pub error_message: Option<String>,
    pub steps: Vec<StepOutcome>,
    pub chain_length: u64,
    pub integrity_model: IntegrityModel,
    /// The root the integrity model names (hex).
    pub root_hash: String,
    pub merkle_root: String,
    /// Id of the key that signed the trace head.
    pub signing_key_id: String,
    pub duration_ms: u64,
}

/// Progress of a run, for the CLI to show.
#[derive(Debug)]
pub enum RunEvent<'a> {
    Started {
        run_id: &'a str,
        trace_id: &'a str,
        plan: &'a Plan,
    },
    StepStarted {
        index: usize,
        total: usize,
        step_id: &'a str,
        skill: &'a str,
        attempt: u32,
    },
    StepFinished {
        index: usize,
        total: usize,
        outcome: &'a StepOutcome,
    },
    Retrying {
        step_id: &'a str,
        attempt: u32,
        after: Duration,
        reason: &'a str,
    },
}

pub trait RunObserver: Send + Sync {
    fn event(&self, event: &RunEvent<'_>);
}

impl RunObserver for () {
    fn event(&self, _: &RunEvent<'_>) {}
}

/// Runs goals. Holds the store and the one skill host of the process.
pub struct Runner {
    store: Store,
    host: Arc<SkillHost>,
    signer: Option<Signer>,
    /// Where the secret key lives (`RUNPROOF_HOME`); opened only by runs that use secrets.
    /// `None`: no run can use a secret.
    secrets_home: Option<std::path::PathBuf>,
    /// The lease this runner takes on every run it executes (see `lease.rs`).
    lease: LeaseHolder,
    /// Built-in components whose bytes this process has stored (`keep_builtin`).
    kept_builtins: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Intents of side effects are durable before the effect (always, but for the bench's
    /// baseline, see `without_write_ahead`).
    write_ahead: bool,
}

/// The key that signs trace heads, with its id and whether its public half is listed in the
/// database yet (once per process).
struct Signer {
    key: SigningKey,
    key_id: String,
    registered: tokio::sync::OnceCell<()>,
}

struct ResolvedSkill {
    skill: Arc<LoadedSkill>,
    builtin: bool,
}

impl Runner {
    pub fn new(store: Store, host: Arc<SkillHost>) -> Self {
        Runner {
            store,
            host,
            signer: None,
            secrets_home: None,
            lease: crate::lease::process_holder("runner", crate::lease::DEFAULT_LEASE_TTL),
            kept_builtins: Default::default(),
            write_ahead: true,
        }
    }

    /// For `runtime bench` only: runs whose outbound requests do not wait for their intent
    /// to be durable, the baseline of what write-ahead costs. Never for real runs: a crash
    /// mid-request could then leave no trace of a request that left.
    #[doc(hidden)]
    pub fn without_write_ahead(mut self) -> Self {
        self.write_ahead = false;
        self
    }

    /// The lease this runner holds on its runs: who it is and how long a renewal lasts.
    pub fn with_lease(mut self, lease: LeaseHolder) -> Self {
        self.lease = lease;
        self
    }

    /// The lease this runner takes on every run (a worker claims with it).
    pub fn lease(&self) -> &LeaseHolder {
        &self.lease
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Lets runs use tenant secrets sealed with the key under `home` (see `secrets.rs`).
    pub fn with_secrets_home(mut self, home: std::path::PathBuf) -> Self {
        self.secrets_home = Some(home);
        self
    }

    /// The key that signs every trace head this runner seals. Without one, `run` refuses
    /// before writing anything: an unsigned trace could never verify.
    pub fn with_signer(mut self, key: SigningKey) -> Self {
        let key_id = key_id(&key.verifying_key());
        self.signer = Some(Signer {
            key,
            key_id,
            registered: tokio::sync::OnceCell::new(),
        });
        self
    }

    /// Stores a built-in's bytes by digest (once per process), so its runs stay replayable
    /// after this binary is replaced by one with other built-ins.
    async fn keep_builtin(&self, skill: &LoadedSkill) -> Result<(), RunError> {
        let kept = |d: &str| {
            let set = self.kept_builtins.lock();
            set.unwrap_or_else(|p| p.into_inner()).contains(d)
        };
        if let (false, Some(b)) = (
            kept(&skill.digest),
            runproof_builtin_skills::find(&skill.info.name),
        ) {
            self.store.keep_component(&skill.digest, b.wasm).await?;
            self.kept_builtins
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(skill.digest.clone());
        }
        Ok(())
    }

    /// Loads a skill by name: a built-in first, else the newest added component.
    pub async fn resolve_skill(&self, name: &str) -> Result<(Arc<LoadedSkill>, bool), RunError> {
        let (bytes, builtin): (std::borrow::Cow<'static, [u8]>, bool) =
            match runproof_builtin_skills::find(name) {
                Some(b) => (b.wasm.into(), true),
                None => match self.store.added_skill(name).await? {
                    Some(rec) => (rec.component.unwrap_or_default().into(), false),
                    None => return Err(RunError::UnknownSkill(name.to_string())),
                },
            };
        let skill = self.host.load(&bytes).await.map_err(|e| match e {
            runproof_host::HostError::DescribeAborted { digest, reason } => {
                RunError::DescribeAborted {
                    name: name.to_string(),
                    digest,
                    reason,
                }
            }
            e => RunError::InvalidSkill {
                name: name.to_string(),
                reason: e.to_string(),
            },
        })?;
        if skill.info.name != name {
            return Err(RunError::InvalidSkill {
                name: name.to_string(),
                reason: format!("the component describes itself as {:?}", skill.info.name),
            });
        }
        Ok((skill, builtin))
    }

    /// Runs `req` to its end. Errors before the run exists (unknown agent, bad plan, unknown
    /// skill) write nothing; once the run exists, a failing skill is a `failed` run with a
    /// sealed trace, not an error.
    pub async fn run(
        &self,
        req: &RunRequest,
        observer: &dyn RunObserver,
    ) -> Result<RunReport, RunError> {
        self.run_admitted(req, Admission::New, &RunControl::new(), observer)
            .await
    }

    /// `run`, for a run that is new (`Admission::New`: created here) or already claimed
    /// from the queue (see `queued.rs`), stoppable through `control`.
    pub(crate) async fn run_admitted(
        &self,
        req: &RunRequest,
        admission: Admission,
        control: &RunControl,
        observer: &dyn RunObserver,
    ) -> Result<RunReport, RunError> {
        let prepared = self.prepare(req, admission, control, observer).await?;
        let executed = self.execute(&prepared, observer, control).await;
        self.seal(req, prepared, executed).await
    }
}

/// The agent's resource grant. The columns are CHECKed positive, so a value that does not
/// fit is impossible; it would fall back to the default, never to "unlimited".
pub fn limit_grant(agent: &runproof_store::Agent) -> LimitGrant {
    let positive = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0);
    LimitGrant {
        max_memory_bytes: positive(agent.max_memory_bytes),
        timeout_ms: positive(agent.timeout_ms),
        fuel: positive(agent.fuel),
        max_host_calls: positive(agent.max_host_calls),
        scratch_dir: agent.scratch_dir,
        scratch_max_bytes: positive(agent.scratch_max_bytes),
        scratch_max_files: positive(agent.scratch_max_files),
        scratch_max_open_files: positive(agent.scratch_max_open_files),
    }
}
