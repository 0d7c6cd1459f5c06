//! The first phase of a run: refuse what can be refused before anything is written, then
//! create the run row with its plan and open its trace with `run.start`.

use super::{ResolvedSkill, RunError, RunEvent, RunObserver, RunRequest, Runner, Signer};
use crate::control::RunControl;
use crate::lease::Heartbeat;
use crate::plan::Plan;
use crate::planner::plan_goal;
use crate::writer::TraceWriter;
use chrono::{DateTime, Utc};
use runproof_host::{
    HostPattern, InvocationLimits, LimitGrant, LoadedSkill, ScratchDir, SecretSet,
};
use runproof_proof::seal::verifying_key_to_pem;
use runproof_proof::{IntegrityModel, StepKind, StepStatus, TraceIds};
use runproof_store::{Agent, ClaimedRun, LeaseHolder, NewRun, Run, SkillRecord, Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// How a run comes to exist: created by `runtime run`, or claimed from the queue
/// (`queued.rs`, which builds on the runner; admitting is this phase's job).
pub(crate) enum Admission {
    New,
    Claimed(Box<ClaimedRun>),
}

/// A request that passed [`Runner::vet`].
pub(crate) struct Vetted {
    pub(crate) agent: Agent,
    pub(crate) plan: Plan,
    pub(crate) granted: Vec<HostPattern>,
}

impl Admission {
    pub(crate) fn run_id(&self) -> Option<String> {
        match self {
            Admission::New => None,
            Admission::Claimed(c) => Some(c.run.id.clone()),
        }
    }

    /// The run, running under `lease` with its trace open: created and started now, or as
    /// the claim left it.
    pub(crate) async fn admit(
        self,
        store: &Store,
        new: NewRun,
        model: IntegrityModel,
        lease: &LeaseHolder,
    ) -> Result<(Run, String, DateTime<Utc>), RunError> {
        match self {
            Admission::Claimed(c) => Ok((c.run, c.trace_id, c.trace_started_at)),
            Admission::New => {
                let trace_id = crate::new_id();
                let (run, started_at) = store
                    .create_started_run(&new, &trace_id, model.as_str(), lease)
                    .await?;
                Ok((run, trace_id, started_at))
            }
        }
    }
}

/// A skill whose `describe` the sandbox stopped when the run loaded it. It passed
/// `skill add`, so this is something it did at run time: the run is recorded and failed,
/// not refused (nothing of it runs).
pub(super) struct Unloadable {
    pub(super) name: String,
    pub(super) digest: String,
    pub(super) reason: String,
}

/// The run as admitted, with its trace open, and everything its steps run with.
///
/// Field order is drop order: a run that ends early (a seal refused, a trace not durable)
/// drops the writer while the heartbeat still renews the lease, and removes the scratch
/// directory only after both.
pub(super) struct Prepared<'r> {
    pub(super) writer: Arc<TraceWriter>,
    pub(super) heartbeat: Heartbeat,
    /// The plan's exact stored text (a claimed run's is the submitter's): the signed head
    /// binds it by its SHA-256, and the verifier hashes the same `runs.plan_json`.
    pub(super) plan_json: String,
    pub(super) run: Run,
    pub(super) trace_id: String,
    pub(super) trace_started_at: DateTime<Utc>,
    /// The run's duration counts from its admission (skill compilation is not part of it).
    pub(super) started: Instant,
    pub(super) scratch: Option<ScratchDir>,
    pub(super) limits: HashMap<String, InvocationLimits>,
    pub(super) secret_sets: BTreeMap<String, Arc<SecretSet>>,
    pub(super) unloadable: Vec<Unloadable>,
    pub(super) skills: HashMap<String, ResolvedSkill>,
    pub(super) granted: Vec<HostPattern>,
    pub(super) plan: Plan,
    pub(super) signer: &'r Signer,
}

impl Runner {
    /// The checks of a request that need no skill and no secret, the same whether it runs
    /// now (`prepare`) or is queued (`submit`): the integrity model, the agent as seen by
    /// this tenant, the plan, and the agent's host grant.
    pub(crate) async fn vet(&self, req: &RunRequest) -> Result<Vetted, RunError> {
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
        Ok(Vetted {
            agent,
            plan,
            granted,
        })
    }

    /// Everything that can be refused, refused before any write; then the run row (with its
    /// plan) and the trace, before anything executes.
    pub(super) async fn prepare<'r>(
        &'r self,
        req: &RunRequest,
        admission: Admission,
        control: &RunControl,
        observer: &dyn RunObserver,
    ) -> Result<Prepared<'r>, RunError> {
        let signer = self.signer.as_ref().ok_or(RunError::NoSigningKey)?;
        let Vetted {
            agent,
            plan,
            granted,
        } = self.vet(req).await?;
        let (skills, unloadable) = self.load_plan_skills(&plan).await?;
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
        let grant = super::limit_grant(&agent);
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
        let plan_json = run.plan_json.clone().unwrap_or_default();
        let heartbeat = Heartbeat::start_controlled(
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
        let prepared = Prepared {
            writer,
            heartbeat,
            plan_json,
            run,
            trace_id,
            trace_started_at,
            started,
            scratch,
            limits,
            secret_sets,
            unloadable,
            skills,
            granted,
            plan,
            signer,
        };
        prepared.writer.append(
            StepKind::RunStart,
            None,
            StepStatus::Success,
            None,
            None,
            run_start_body(&prepared, &agent, &grant),
        );
        Ok(prepared)
    }

    /// Every skill the plan names, loaded once each; a skill whose `describe` was stopped is
    /// set apart, any other load error refuses the run.
    async fn load_plan_skills(
        &self,
        plan: &Plan,
    ) -> Result<(HashMap<String, ResolvedSkill>, Vec<Unloadable>), RunError> {
        let mut skills: HashMap<String, ResolvedSkill> = HashMap::new();
        let mut unloadable: Vec<Unloadable> = Vec::new();
        for step in &plan.steps {
            if !skills.contains_key(&step.skill) && !unloadable.iter().any(|u| u.name == step.skill)
            {
                match self.resolve_skill(&step.skill).await {
                    Ok((skill, builtin)) => {
                        skills.insert(step.skill.clone(), ResolvedSkill { skill, builtin });
                    }
                    Err(RunError::DescribeAborted {
                        name,
                        digest,
                        reason,
                    }) => unloadable.push(Unloadable {
                        name,
                        digest,
                        reason,
                    }),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((skills, unloadable))
    }
}

/// `run.start`: the plan and the policy every step runs under, as the run was admitted.
fn run_start_body(p: &Prepared<'_>, agent: &Agent, grant: &LimitGrant) -> serde_json::Value {
    let mut skill_digests: BTreeMap<_, _> = p
        .skills
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                serde_json::json!({"digest": s.skill.digest, "version": s.skill.info.version}),
            )
        })
        .collect();
    for u in &p.unloadable {
        skill_digests.insert(
            u.name.clone(),
            serde_json::json!({"digest": u.digest, "load_error": u.reason}),
        );
    }
    serde_json::json!({
        "run_id": p.run.id,
        "tenant_id": p.run.tenant_id,
        "agent_id": agent.id,
        "origin_system_id": p.run.origin_system_id,
        "goal": p.run.goal,
        "plan": serde_json::to_value(&p.plan).unwrap_or_default(),
        "policy": {
            "allowed_hosts": agent.allowed_hosts,
            // Effective secret names per skill (declared ∩ granted ∩ stored), never values.
            "secrets": p.secret_sets.iter().map(|(k, v)| (k.clone(), v.names())).collect::<BTreeMap<_, _>>(),
            "limits": {
                "agent_grant": grant,
                "ceilings": InvocationLimits::ceilings_json(),
                "effective": p.limits.iter().collect::<BTreeMap<_, _>>(),
            },
            "wasi": {
                "filesystem": if grant.scratch_dir { format!("scratch dir {} (per run, removed after)", runproof_host::limits::SCRATCH_GUEST_PATH) } else { "none".into() },
                "environment": "none", "args": "none", "sockets": "none", "stdio": "captured",
            },
        },
        "skills": skill_digests,
    })
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
