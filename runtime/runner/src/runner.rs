//! One run from request to sealed trace.
//!
//! Long: `Runner::run` is still one function from request to seal (the prepare /
//! execute / seal split of the code-health issue is not done yet).

use crate::control::RunControl;
use crate::outputs::{self, Outputs};
use crate::plan::{OnError, Plan, PlanError};
use crate::planner::plan_goal;
use crate::queued::Admission;
use crate::secrets::SecretError;
use crate::writer::{SealedHead, TraceWriter};
use runproof_host::{
    HostPattern, InvocationLimits, InvocationOutcome, LimitGrant, LoadedSkill, SecretSet, SkillHost,
};
use runproof_proof::seal::{SigningKey, key_id, verifying_key_to_pem};
use runproof_proof::{
    IntegrityModel, RunClaims, RunStatus, StepKind, StepStatus, TraceHeadClaims, TraceIds,
    sign_head,
};
use runproof_store::{LeaseHolder, NewRun, RunFinish, SkillRecord, Store, StoreError, rfc3339};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
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
        // 1. Everything that can be refused, refused before any write.
        let signer = self.signer.as_ref().ok_or(RunError::NoSigningKey)?;
        if !matches!(
            req.integrity_model,
            IntegrityModel::HashChain | IntegrityModel::MerkleTree
        ) {
            return Err(RunError::UnsupportedModel(req.integrity_model.as_str()));
        }
        let agent = self
            .store
            .agent_for_tenant(&req.agent_id, &req.tenant_id)
            .await?;
        let plan = plan_goal(
            &req.goal,
            req.plan_json.as_deref(),
            agent.plan_json.as_deref(),
        )?;
        let granted = agent
            .allowed_hosts
            .iter()
            .map(|p| HostPattern::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RunError::BadPolicy {
                agent_id: agent.id.clone(),
                reason: e.to_string(),
            })?;
        let mut skills: HashMap<String, ResolvedSkill> = HashMap::new();
        // Skills whose `describe` the sandbox stopped at load (name, digest, reason). They
        // passed `skill add`, so this is something they did at run time: the run is
        // recorded and failed, not refused (nothing of theirs runs).
        let mut unloadable: Vec<(String, String, String)> = Vec::new();
        for step in &plan.steps {
            if !skills.contains_key(&step.skill) && !unloadable.iter().any(|u| u.0 == step.skill) {
                match self.resolve_skill(&step.skill).await {
                    Ok((skill, builtin)) => {
                        skills.insert(step.skill.clone(), ResolvedSkill { skill, builtin });
                    }
                    Err(RunError::DescribeAborted {
                        name,
                        digest,
                        reason,
                    }) => unloadable.push((name, digest, reason)),
                    Err(e) => return Err(e),
                }
            }
        }
        // Secrets: loaded and decrypted once per run, before anything is written.
        let declared: BTreeMap<String, Vec<String>> = skills
            .iter()
            .map(|(n, s)| (n.clone(), s.skill.info.capabilities.secrets.clone()))
            .collect();
        let secret_sets = crate::secrets::load_for_run(
            &self.store,
            self.secrets_home.as_deref(),
            &req.tenant_id,
            &agent.allowed_secrets,
            &declared,
        )
        .await?;
        for s in skills.values() {
            self.store
                .record_skill(&skill_record(&s.skill, s.builtin))
                .await?;
            if s.builtin {
                self.keep_builtin(&s.skill).await?;
            }
        }
        signer
            .registered
            .get_or_try_init(|| async {
                let pem = verifying_key_to_pem(&signer.key.verifying_key())
                    .map_err(|e| StoreError::Rejected(format!("signing key: {e}")))?;
                self.store.register_signing_key(&signer.key_id, &pem).await
            })
            .await?;
        // Per skill: the smallest of what it asks for, what the agent grants, the ceiling.
        let grant = limit_grant(&agent);
        let limits: HashMap<String, InvocationLimits> = skills
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    InvocationLimits::effective(&s.skill.info.capabilities, &grant),
                )
            })
            .collect();
        // The scratch directory exists before the run does, so failing to create it refuses
        // the run without writing anything; it is removed when `scratch` drops (run end).
        let run_id = admission.run_id().unwrap_or_else(crate::new_id);
        let scratch = match grant.scratch_dir {
            true => Some(
                self.host
                    .create_scratch(&run_id)
                    .map_err(|e| RunError::Sandbox(e.to_string()))?,
            ),
            false => None,
        };

        // 2. The run exists, with its plan, before anything executes. Its duration counts
        // from here (skill compilation above is not part of the run).
        let started = Instant::now();
        let (run, trace_id, trace_started_at) = admission
            .admit(
                &self.store,
                NewRun {
                    id: run_id,
                    agent_id: agent.id.clone(),
                    tenant_id: req.tenant_id.clone(),
                    origin_system_id: req.origin_system_id.clone(),
                    goal: req.goal.clone(),
                    plan_json: plan.to_json(),
                    idempotency_key: req.idempotency_key.clone(),
                },
                req.integrity_model,
                &self.lease,
            )
            .await?;
        // The plan's exact stored text (a claimed run's is the submitter's): the signed head
        // binds it by its SHA-256, and the verifier hashes the same `runs.plan_json`.
        let plan_json = run.plan_json.clone().unwrap_or_default();
        let heartbeat = crate::lease::Heartbeat::start_controlled(
            self.store.clone(),
            run.id.clone(),
            self.lease.clone(),
            control.clone(),
        );
        observer.event(&RunEvent::Started {
            run_id: &run.id,
            trace_id: &trace_id,
            plan: &plan,
        });

        let writer = TraceWriter::new(
            self.store.clone(),
            TraceIds {
                tenant_id: run.tenant_id.clone(),
                run_id: run.id.clone(),
                trace_id: trace_id.clone(),
            },
        );
        let writer = Arc::new(match self.write_ahead {
            true => writer,
            false => writer.without_write_ahead(),
        });
        let mut skill_digests: BTreeMap<_, _> = skills
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    serde_json::json!({"digest": s.skill.digest, "version": s.skill.info.version}),
                )
            })
            .collect();
        for (name, digest, reason) in &unloadable {
            skill_digests.insert(
                name.clone(),
                serde_json::json!({"digest": digest, "load_error": reason}),
            );
        }
        writer.append(
            StepKind::RunStart,
            None,
            StepStatus::Success,
            None,
            None,
            serde_json::json!({
                "run_id": run.id,
                "tenant_id": run.tenant_id,
                "agent_id": agent.id,
                "origin_system_id": run.origin_system_id,
                "goal": run.goal,
                "plan": serde_json::to_value(&plan).unwrap_or_default(),
                "policy": {
                    "allowed_hosts": agent.allowed_hosts,
                    // Effective secret names per skill (declared ∩ granted ∩ stored), never values.
                    "secrets": secret_sets.iter().map(|(k, v)| (k.clone(), v.names())).collect::<BTreeMap<_, _>>(),
                    "limits": {
                        "agent_grant": grant,
                        "ceilings": InvocationLimits::ceilings_json(),
                        "effective": limits.iter().collect::<BTreeMap<_, _>>(),
                    },
                    "wasi": {
                        "filesystem": if grant.scratch_dir { format!("scratch dir {} (per run, removed after)", runproof_host::limits::SCRATCH_GUEST_PATH) } else { "none".into() },
                        "environment": "none", "args": "none", "sockets": "none", "stdio": "captured",
                    },
                },
                "skills": skill_digests,
            }),
        );

        // 3. The steps, in order.
        let mut outputs = Outputs::new();
        let mut finished: HashMap<&str, &'static str> = HashMap::new();
        let mut outcomes = Vec::with_capacity(plan.steps.len());
        let mut run_error: Option<String> = None;
        // A skill that could not be loaded fails the run before any step runs; its stopped
        // `describe` is recorded as a step pair of its own.
        for (name, digest, reason) in &unloadable {
            writer.append(
                StepKind::SkillStart,
                Some(name),
                StepStatus::Success,
                None,
                None,
                serde_json::json!({"phase": "describe", "digest": digest}),
            );
            writer.append(
                StepKind::SkillEnd,
                Some(name),
                StepStatus::Failure,
                None,
                None,
                serde_json::json!({"phase": "describe", "outcome": "aborted", "error": reason}),
            );
            run_error.get_or_insert_with(|| {
                format!("skill {name:?} could not be loaded: describe was stopped: {reason}")
            });
        }
        let total = plan.steps.len();
        for (index, step) in plan.steps.iter().enumerate() {
            // A run recovered as lost by another process is failed for good: run no more of
            // its steps (each may have side effects); the seal will be refused too.
            if heartbeat.lost() && run_error.is_none() {
                run_error = Some(crate::lease::LEASE_LOST.into());
            }
            // Stopped from outside (a cancel, a worker's shutdown): the rest is skipped.
            if let Some(reason) = control.aborted()
                && run_error.is_none()
            {
                run_error = Some(reason.to_string());
            }
            let skip_reason = if let Some(err) = &run_error {
                Some(format!("run aborted: {err}"))
            } else {
                step.depends_on
                    .iter()
                    .find(|d| finished.get(d.as_str()) != Some(&"succeeded"))
                    .map(|d| format!("dependency {d:?} did not succeed"))
            };
            let outcome = match skip_reason {
                Some(reason) => {
                    writer.append(
                        StepKind::SkillSkipped,
                        Some(&step.skill),
                        StepStatus::Skipped,
                        None,
                        None,
                        serde_json::json!({"step_id": step.step_id, "reason": reason}),
                    );
                    StepOutcome {
                        step_id: step.step_id.clone(),
                        skill: step.skill.clone(),
                        status: "skipped",
                        attempts: 0,
                        duration_ms: 0,
                        error: Some(reason),
                        output: None,
                    }
                }
                None => {
                    let skill = &skills[&step.skill].skill;
                    let sandbox = (limits[&step.skill], scratch.as_ref());
                    let secrets = secret_sets.get(&step.skill).cloned().unwrap_or_default();
                    self.run_step(
                        &writer,
                        skill,
                        step,
                        index,
                        total,
                        &granted,
                        sandbox,
                        &secrets,
                        &outputs,
                        (observer, control),
                    )
                    .await
                }
            };
            observer.event(&RunEvent::StepFinished {
                index,
                total,
                outcome: &outcome,
            });
            // A step cut short from outside fails the run with the outside reason, not as a
            // step failure (whatever its on_error says).
            if let Some(reason) = control.aborted()
                && run_error.is_none()
            {
                run_error = Some(reason.to_string());
            }
            if outcome.status == "failed" && step.on_error == OnError::Abort && run_error.is_none()
            {
                // Capped: it is stored in `runs.error_message`, `run.end` and printed.
                run_error = Some(runproof_host::trace_caps::cap_message(&format!(
                    "step {:?} ({}) failed: {}",
                    step.step_id,
                    step.skill,
                    outcome.error.as_deref().unwrap_or("unknown error")
                )));
            }
            if let Some(out) = &outcome.output {
                outputs.insert(step.output_name().to_string(), out.clone());
            }
            finished.insert(step.step_id.as_str(), outcome.status);
            outcomes.push(outcome);
        }

        // 4. End, make durable, seal.
        let completed_at = runproof_store::whole_micros(chrono::Utc::now());
        let succeeded = run_error.is_none();
        let status = RunStatus::ended(succeeded);
        writer.append(
            StepKind::RunEnd,
            None,
            if succeeded {
                StepStatus::Success
            } else {
                StepStatus::Failure
            },
            Some(started.elapsed().as_millis() as u64),
            Some(status.as_str()),
            serde_json::json!({"status": status, "error": run_error}),
        );
        if let Err(e) = writer.flush().await {
            let reason = e.to_string();
            // Best effort: say so on the run row; the trace stays unsealed either way.
            let _ = self
                .store
                .abandon_run(&run.id, &format!("trace not durable: {reason}"))
                .await;
            return Err(RunError::TraceNotDurable {
                run_id: run.id,
                reason,
            });
        }
        let head = writer.head();
        let root = match req.integrity_model {
            IntegrityModel::MerkleTree => head.merkle_root,
            _ => head.chain_head,
        };
        let mut digests: BTreeMap<String, String> = skills
            .iter()
            .map(|(name, s)| (name.clone(), s.skill.digest.clone()))
            .collect();
        digests.extend(unloadable.iter().map(|(n, d, _)| (n.clone(), d.clone())));
        let sealed_at = runproof_store::whole_micros(chrono::Utc::now());
        // Whole milliseconds from the start the rows hold to the end the head states.
        let duration_ms = (completed_at - trace_started_at).num_milliseconds().max(0);
        let claims = head_claims(
            writer.ids(),
            req.integrity_model,
            &head,
            digests,
            status.as_str(),
            HeadTimes {
                started_at: trace_started_at,
                completed_at,
                sealed_at,
            },
            RunClaims {
                agent_id: run.agent_id.clone(),
                origin_system_id: run.origin_system_id.clone(),
                goal: run.goal.clone(),
                plan_sha256: hex::encode(Sha256::digest(plan_json.as_bytes())),
                error_message: run_error.clone(),
                created_at: rfc3339(run.created_at),
                duration_ms: duration_ms as u64,
            },
        );
        // Signed here, in the runner's process, with a key the database never sees: whoever
        // can write to Postgres can rebuild a chain, but cannot make this signature.
        let signed_head = sign_head(&claims, &signer.key);
        self.store
            .finish_run(&RunFinish {
                run_id: &run.id,
                trace_id: &trace_id,
                succeeded,
                error_message: run_error.as_deref(),
                chain_length: head.chain_length as i64,
                root_hash: &root,
                merkle_root: &head.merkle_root,
                signed_head: &signed_head,
                signing_key_id: &signer.key_id,
                completed_at,
                sealed_at,
                duration_ms,
                lease_owner: &self.lease.owner,
            })
            .await?;
        drop(heartbeat);
        Ok(RunReport {
            run_id: run.id,
            trace_id,
            tenant_id: run.tenant_id,
            status,
            error_message: run_error,
            steps: outcomes,
            chain_length: head.chain_length,
            integrity_model: req.integrity_model,
            root_hash: hex::encode(root),
            merkle_root: hex::encode(head.merkle_root),
            signing_key_id: signer.key_id.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        writer: &Arc<TraceWriter>,
        skill: &LoadedSkill,
        step: &crate::plan::PlanStep,
        index: usize,
        total: usize,
        granted: &[HostPattern],
        (limits, scratch): (InvocationLimits, Option<&runproof_host::ScratchDir>),
        secrets: &Arc<SecretSet>,
        outputs: &Outputs,
        (observer, control): (&dyn RunObserver, &RunControl),
    ) -> StepOutcome {
        let started = Instant::now();
        let name = skill.info.name.as_str();
        let mut attempt = 0;
        loop {
            attempt += 1;
            observer.event(&RunEvent::StepStarted {
                index,
                total,
                step_id: &step.step_id,
                skill: name,
                attempt,
            });
            let input = outputs::resolve(&step.params, outputs);
            let mut start_body = serde_json::json!({"step_id": step.step_id, "attempt": attempt, "digest": skill.digest});
            match &input {
                Ok(v) => start_body["input"] = v.clone(),
                Err(e) => start_body["input_error"] = e.clone().into(),
            }
            writer.append(
                StepKind::SkillStart,
                Some(name),
                StepStatus::Success,
                None,
                None,
                start_body,
            );
            let call_started = Instant::now();
            let (result, end_body) = match input {
                // Params that do not resolve fail without running the skill (and no retry
                // would change that).
                Err(e) => {
                    let end = serde_json::json!({"step_id": step.step_id, "attempt": attempt, "outcome": "bad-params", "error": e});
                    let duration = call_started.elapsed().as_millis() as u64;
                    writer.append(
                        StepKind::SkillEnd,
                        Some(name),
                        StepStatus::Failure,
                        Some(duration),
                        None,
                        end,
                    );
                    return StepOutcome::ended(
                        step,
                        name,
                        attempt,
                        started,
                        Err(format!("params: {e}")),
                    );
                }
                Ok(v) => {
                    let recorder: Arc<dyn runproof_host::TraceRecorder> = writer.clone();
                    let input = v.to_string();
                    let invocation = self.host.invoke_with_secrets(
                        skill,
                        &input,
                        recorder,
                        granted,
                        secrets.clone(),
                        limits,
                        scratch,
                    );
                    // A run stopped from outside drops the invocation, as a deadline would:
                    // the step ends `aborted` with the reason, recorded like any other end,
                    // and says it was stopped from outside (a replay then knows the code was
                    // cut off where the trace ends, not that it ended there).
                    let mut stopped = false;
                    let outcome = tokio::select! {
                        outcome = invocation => outcome,
                        reason = control.wait() => {
                            stopped = true;
                            InvocationOutcome::Aborted { reason }
                        }
                    };
                    let (result, mut end) = classify(&step.step_id, attempt, outcome);
                    if stopped {
                        end[runproof_host::replay::STOPPED_FROM_OUTSIDE] = true.into();
                    }
                    (result, end)
                }
            };
            let duration = call_started.elapsed().as_millis() as u64;
            let retry =
                result.is_err() && attempt <= step.retry_count && control.aborted().is_none();
            let status = match (&result, retry) {
                (Ok(_), _) => StepStatus::Success,
                (Err(_), true) => StepStatus::Retry,
                (Err(_), false) => StepStatus::Failure,
            };
            writer.append(
                StepKind::SkillEnd,
                Some(name),
                status,
                Some(duration),
                None,
                end_body,
            );
            match result {
                Ok(output) => return StepOutcome::ended(step, name, attempt, started, Ok(output)),
                Err(reason) if retry => {
                    // Back-off as in the original system: 0.5 s * 2^(n-1).
                    let after = Duration::from_millis(500) * 2u32.pow(attempt - 1);
                    observer.event(&RunEvent::Retrying {
                        step_id: &step.step_id,
                        attempt,
                        after,
                        reason: &reason,
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(after) => {}
                        _ = control.wait() => {}
                    }
                }
                Err(reason) => {
                    return StepOutcome::ended(step, name, attempt, started, Err(reason));
                }
            }
        }
    }
}

/// The step's result and the body of its `skill.end` step.
fn classify(
    step_id: &str,
    attempt: u32,
    outcome: InvocationOutcome,
) -> (Result<serde_json::Value, String>, serde_json::Value) {
    let base = |outcome: &str| serde_json::json!({"step_id": step_id, "attempt": attempt, "outcome": outcome});
    match outcome {
        InvocationOutcome::Output(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => {
                let mut b = base("output");
                b["output"] = v.clone();
                (Ok(v), b)
            }
            Err(e) => {
                let reason = format!("the skill returned output that is not JSON: {e}");
                let mut b = base("invalid-output");
                b["error"] = reason.clone().into();
                b["raw_output"] = runproof_host::trace_caps::text_field(&text);
                (Err(reason), b)
            }
        },
        InvocationOutcome::SkillError { code, message } => {
            let mut b = base("skill-error");
            b["error"] = serde_json::json!({"code": code, "message": message});
            (Err(format!("{code}: {message}")), b)
        }
        InvocationOutcome::Aborted { reason } => {
            let mut b = base("aborted");
            b["error"] = reason.clone().into();
            (Err(format!("aborted: {reason}")), b)
        }
    }
}

/// When the trace started, ended and was sealed, as the rows hold them.
struct HeadTimes {
    started_at: chrono::DateTime<chrono::Utc>,
    completed_at: chrono::DateTime<chrono::Utc>,
    sealed_at: chrono::DateTime<chrono::Utc>,
}

/// What the signed head states (predicate v2): the trace, and the run row's values. Times
/// are RFC 3339 with microseconds, the precision the rows keep, so the rows and the claims
/// agree byte for byte.
fn head_claims(
    ids: &TraceIds,
    model: IntegrityModel,
    head: &SealedHead,
    skill_digests: BTreeMap<String, String>,
    status: &str,
    times: HeadTimes,
    run: RunClaims,
) -> TraceHeadClaims {
    TraceHeadClaims {
        tenant_id: ids.tenant_id.clone(),
        run_id: ids.run_id.clone(),
        trace_id: ids.trace_id.clone(),
        integrity_model: model.as_str().to_string(),
        chain_length: head.chain_length,
        root_hash: hex::encode(head.chain_head),
        merkle_root: hex::encode(head.merkle_root),
        skill_digests: skill_digests.into_iter().collect(),
        status: status.to_string(),
        started_at: rfc3339(times.started_at),
        completed_at: rfc3339(times.completed_at),
        sealed_at: Some(rfc3339(times.sealed_at)),
        run: Some(run),
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

fn skill_record(s: &LoadedSkill, builtin: bool) -> SkillRecord {
    SkillRecord {
        digest: s.digest.clone(),
        name: s.info.name.clone(),
        version: s.info.version.clone(),
        description: s.info.description.clone(),
        capabilities: serde_json::json!({
            "outbound_hosts": s.info.capabilities.outbound_hosts,
            "secrets": s.info.capabilities.secrets,
            "max_memory_bytes": s.info.capabilities.max_memory_bytes,
            "timeout_ms": s.info.capabilities.timeout_ms,
        }),
        builtin,
        size_bytes: s.size_bytes as i64,
        component: None,
        created_at: None,
    }
}
