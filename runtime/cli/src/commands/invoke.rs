//! `runtime skill invoke NAME|FILE --input JSON [--agent-id A]`: the author's loop. One
//! invocation, its output, and every step it recorded with the body decoded.
//!
//! - With `--agent-id` it is a **real run**, made by the runner like `runtime run` with a
//!   one-step plan (`{"skill": NAME, "params": INPUT}`, origin system `skill-invoke`), under
//!   the agent's grants, secrets and limits: recorded, sealed and signed, and the steps
//!   shown are read back from the database. `runtime proof` checks it like any run.
//! - Without, nothing is stored: the skill runs in memory under a deny-all outbound policy
//!   and the runtime's default limits, and the steps shown are what the host reported.
//!   They carry no hash: no trace exists, and the output says so.

use super::steps_view::{self, StepLine};
use crate::args::InvokeArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::{Context, Result, bail};
use runproof_host::{HostEvent, InvocationLimits, InvocationOutcome, SkillHost, TraceRecorder};
use runproof_proof::RunStatus;
use runproof_runner::{RunRequest, Runner};
use std::sync::{Arc, Mutex};

pub async fn run(
    args: &InvokeArgs,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    key: &crate::signing::KeyLocation,
    out: &Out,
) -> Result<i32> {
    let input: serde_json::Value = serde_json::from_str(&args.input)
        .with_context(|| "--input is not JSON; give the input document, e.g. --input '{\"url\": \"https://example.com\"}'")?;
    if !input.is_object() {
        bail!("--input must be a JSON object (a skill's input is a plan step's params)");
    }
    let file = std::path::Path::new(&args.skill);
    let is_file = file.is_file() || args.skill.ends_with(".wasm");
    match &args.agent_id {
        Some(agent_id) => recorded(args, agent_id, input, is_file, db, home, key, out).await,
        None => in_memory(args, input, is_file, db, home, out).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn recorded(
    args: &InvokeArgs,
    agent_id: &str,
    input: serde_json::Value,
    is_file: bool,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    key: &crate::signing::KeyLocation,
    out: &Out,
) -> Result<i32> {
    let store = db.ready_store().await?;
    let Some(agent) = store.agent(agent_id).await? else {
        bail!("no agent {agent_id}; `runtime agent list` shows the agents");
    };
    let tenant_id = match (&args.tenant_id, &agent.tenant_id) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => {
            bail!("agent {agent_id} serves every tenant; name the run's tenant with --tenant-id")
        }
    };
    let name = if is_file {
        let added = super::skill::add_component(
            std::path::Path::new(&args.skill),
            args.replace,
            db,
            home,
            out,
        )
        .await?;
        out.progress(format!(
            "added skill {} {} (sha256 {})",
            added.name, added.version, added.digest
        ));
        added.name
    } else {
        args.skill.clone()
    };
    let plan = serde_json::json!({"planner": "skill-invoke", "steps": [
        {"step_id": "invoke", "skill": name, "params": input}
    ]});
    let signing_key = key.load_or_create(out)?;
    let host = Arc::new(SkillHost::new(crate::compile_progress::host_config(
        home, out,
    ))?);
    let runner = Runner::new(store.clone(), host)
        .with_lease(runproof_runner::lease::process_holder(
            "skill-invoke",
            std::time::Duration::from_secs(30),
        ))
        .with_signer(signing_key)
        .with_secrets_home(crate::database::home_dir(home));
    let request = RunRequest {
        agent_id: agent_id.to_string(),
        tenant_id: tenant_id.clone(),
        origin_system_id: "skill-invoke".into(),
        goal: format!("skill invoke {name}"),
        plan_json: Some(plan.to_string()),
        idempotency_key: None,
        integrity_model: runproof_proof::IntegrityModel::HashChain,
    };
    let report = runner.run(&request, &()).await?;
    // What is shown is what was stored: the steps read back, bodies decoded.
    let proof = runproof_coordinator::RunProofCoordinator::new(store.clone())
        .get_run_proof_with(
            &tenant_id,
            &report.run_id,
            runproof_coordinator::StepListing::Include,
        )
        .await?;
    let steps = steps_view::lines_of(&store, &proof, true).await?;
    store.close().await;
    let step = report.steps.first();
    let value = serde_json::json!({
        "recorded": true,
        "run_id": report.run_id,
        "tenant_id": report.tenant_id,
        "status": report.status,
        "output": step.and_then(|s| s.output.clone()),
        "error": step.and_then(|s| s.error.clone()),
        "chain_length": report.chain_length,
        "steps": steps,
    });
    out.emit(&value, || {
        print_result(
            step.and_then(|s| s.output.as_ref()),
            step.and_then(|s| s.error.as_deref()),
        );
        outln!(
            "run_id: {}  status: {}  ({} steps recorded, sealed and signed)",
            report.run_id,
            report.status,
            report.chain_length
        );
        steps_view::print(&steps);
        outln!(
            "verify: runtime proof --run-id {} --tenant-id {}",
            report.run_id,
            report.tenant_id
        );
    });
    Ok(crate::exit::exit_for(report.status))
}

async fn in_memory(
    args: &InvokeArgs,
    input: serde_json::Value,
    is_file: bool,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    out: &Out,
) -> Result<i32> {
    let wasm = if is_file {
        std::fs::read(&args.skill).with_context(|| format!("reading {}", args.skill))?
    } else {
        super::skill::find_component(&args.skill, db).await?.0
    };
    let host = SkillHost::new(crate::compile_progress::host_config(home, out))?;
    let skill = host
        .load(&wasm)
        .await
        .with_context(|| format!("{} cannot be invoked", args.skill))?;
    let recorder = Arc::new(Collect::default());
    let limits = InvocationLimits::effective(
        &skill.info.capabilities,
        &runproof_host::LimitGrant::default(),
    );
    let outcome = host
        .invoke(
            &skill,
            &input.to_string(),
            recorder.clone(),
            &[],
            limits,
            None,
        )
        .await;
    let (output, error) = match outcome {
        InvocationOutcome::Output(o) => (
            Some(serde_json::from_str(&o).unwrap_or(serde_json::Value::String(o))),
            None,
        ),
        InvocationOutcome::SkillError { code, message } => {
            (None, Some(format!("{code}: {message}")))
        }
        InvocationOutcome::Aborted { reason } => (None, Some(format!("aborted: {reason}"))),
    };
    let steps: Vec<StepLine> = recorder
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .enumerate()
        .map(|(i, (skill, e))| StepLine {
            trace_id: None,
            step_index: i as i64,
            kind: e.kind.as_str().to_string(),
            skill_name: Some(skill.clone()),
            status: e.status.as_str().to_string(),
            duration_ms: e.duration_ms.map(|d| d as i64),
            cost_cents: 0,
            hash: None,
            payload: Some(e.body.clone()),
        })
        .collect();
    let value = serde_json::json!({
        "recorded": false,
        "skill": skill.info.name,
        "digest": skill.digest,
        "status": RunStatus::ended(error.is_none()),
        "output": output,
        "error": error,
        "steps": steps,
    });
    out.emit(&value, || {
        print_result(output.as_ref(), error.as_deref());
        outln!(
            "not recorded: no run and no trace exist (deny-all outbound policy, default limits); \
             pass --agent-id to run it under an agent's policy as a recorded, verifiable run"
        );
        steps_view::print(&steps);
    });
    Ok(crate::exit::exit_for(RunStatus::ended(error.is_none())))
}

fn print_result(output: Option<&serde_json::Value>, error: Option<&str>) {
    match (output, error) {
        (Some(o), _) => outln!(
            "output: {}",
            serde_json::to_string_pretty(o).unwrap_or_default()
        ),
        (None, Some(e)) => outln!("error: {e}"),
        (None, None) => outln!("error: (none recorded)"),
    }
}

/// Keeps what the host reports, in order: an invocation outside any run.
#[derive(Default)]
struct Collect(Mutex<Vec<(String, HostEvent)>>);

impl TraceRecorder for Collect {
    fn record(&self, skill: &str, event: HostEvent) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((skill.to_string(), event));
    }
}
