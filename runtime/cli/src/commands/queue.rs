//! The queue from the command line: `run --detach` (queue and return), `runs wait`
//! (follow a run to its end), `runs cancel`.

use crate::args::RunArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::{Result, bail};
use runproof_host::SkillHost;
use runproof_proof::RunStatus;
use runproof_runner::{QueueOptions, RunRequest, Runner};
use runproof_store::{CancelOutcome, Run, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `runtime run --detach`: checks the request as `runtime run` does, queues it and prints
/// its run_id. Nothing is written for a refused request.
pub async fn detach(
    args: &RunArgs,
    request: RunRequest,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    out: &Out,
) -> Result<i32> {
    let store = db.ready_store().await?;
    let host = Arc::new(SkillHost::new(crate::database::host_config(home))?);
    let runner = Runner::new(store.clone(), host);
    let submitted = runner
        .submit(
            &request,
            &QueueOptions {
                priority: args.queue.priority,
            },
        )
        .await?;
    store.close().await;
    let run = &submitted.run;
    let mut value = serde_json::to_value(run)?;
    value["created"] = submitted.created.into();
    out.emit(&value, || {
        outln!("run_id: {}", run.id);
        outln!("status: {}", run.status);
        if !submitted.created {
            outln!(
                "note: idempotency key already used: this is that run, nothing was queued again"
            );
        }
        outln!(
            "follow: runtime runs wait --run-id {} --tenant-id {}",
            run.id,
            run.tenant_id
        );
    });
    Ok(0)
}

/// Polls the run until it has ended (following a lost run to its next attempt).
pub async fn follow(
    store: &Store,
    tenant: &str,
    run_id: &str,
    timeout: Option<Duration>,
    out: &Out,
) -> Result<Run> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut current = run_id.to_string();
    let mut pause = Duration::from_millis(20);
    loop {
        let Some(run) = store.run_for_tenant(tenant, &current).await? else {
            bail!("run {current} not found for tenant {tenant}");
        };
        if RunStatus::is_final_word(&run.status) {
            match store.next_attempt(&run.id).await? {
                Some(next) if run.status == RunStatus::Failed.as_str() => {
                    out.progress(format!(
                        "run {} failed ({}); following its next attempt, run {next}",
                        run.id,
                        run.error_message.as_deref().unwrap_or("no reason recorded")
                    ));
                    current = next;
                    continue;
                }
                _ => return Ok(run),
            }
        }
        if let Some(d) = deadline
            && Instant::now() >= d
        {
            bail!(
                "run {current} is still {} after {:.1} s; it goes on (wait again, or `runtime runs cancel`)",
                run.status,
                timeout.unwrap_or_default().as_secs_f64()
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// `runtime runs wait`: exit 0 if the run (or its last attempt) succeeded, 3 if it failed.
pub async fn wait(
    run_id: &str,
    tenant: &str,
    timeout: Option<Duration>,
    db: &Database,
    out: &Out,
) -> Result<i32> {
    let store = db.ready_store().await?;
    let run = follow(&store, tenant, run_id, timeout, out).await?;
    store.close().await;
    out.emit(&run, || {
        outln!("run_id: {}", run.id);
        outln!("status: {}", run.status);
        if let Some(e) = &run.error_message {
            outln!("error:  {e}");
        }
        outln!(
            "verify: runtime proof --run-id {} --tenant-id {}",
            run.id,
            run.tenant_id
        );
    });
    // A stored status this runtime does not know is not a success.
    Ok(crate::exit::exit_for(
        RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed),
    ))
}

/// `runtime runs cancel`.
pub async fn cancel(run_id: &str, tenant: &str, db: &Database, out: &Out) -> Result<()> {
    let store = db.ready_store().await?;
    let Some(outcome) = store
        .cancel_run(tenant, run_id, "cancelled before it started")
        .await?
    else {
        bail!("run {run_id} not found for tenant {tenant}");
    };
    store.close().await;
    out.emit(
        &serde_json::json!({"run_id": run_id, "outcome": outcome}),
        || match outcome {
            CancelOutcome::Cancelled => outln!("run {run_id}: cancelled; it never started"),
            CancelOutcome::Requested => outln!(
                "run {run_id}: running; asked to stop (at its next lease renewal it ends failed, sealed)"
            ),
            CancelOutcome::AlreadyEnded => {
                outln!("run {run_id}: already ended; nothing changed")
            }
        },
    );
    Ok(())
}

/// The run request `runtime run` flags describe.
pub fn request(args: &RunArgs, plan_json: Option<String>) -> RunRequest {
    RunRequest {
        agent_id: args.agent_id.clone(),
        tenant_id: args.tenant_id.clone(),
        origin_system_id: args.origin_system_id.clone(),
        goal: args.goal.clone(),
        plan_json,
        idempotency_key: args.idempotency_key.clone(),
        integrity_model: args.integrity_model,
    }
}

/// `runtime run --idempotency-key K` when K was used before: that run, followed to its
/// end, and nothing executed again.
pub async fn replay(store: &Store, existing: Run, out: &Out) -> Result<i32> {
    out.progress(format!(
        "idempotency key already used by run {} ({}): not executed again; following it",
        existing.id, existing.status
    ));
    let run = follow(store, &existing.tenant_id, &existing.id, None, out).await?;
    store.close().await;
    let mut value = serde_json::to_value(&run)?;
    value["created"] = false.into();
    out.emit(&value, || {
        outln!("run_id: {}", run.id);
        outln!("status: {}", run.status);
        if let Some(e) = &run.error_message {
            outln!("error:  {e}");
        }
        outln!("note: the idempotency key was used before; this is that run");
    });
    // A stored status this runtime does not know is not a success.
    Ok(crate::exit::exit_for(
        RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed),
    ))
}
