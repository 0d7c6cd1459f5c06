use crate::args::RunArgs;
use crate::database::Database;
use crate::exit::{EXIT_INTERRUPTED, EXIT_TERMINATED, exit_for};
use crate::output::Out;
use anyhow::{Context, Result, bail};
use runproof_host::SkillHost;
use runproof_proof::RunStatus;
use runproof_runner::{RunEvent, RunObserver, RunRequest, Runner};
use std::sync::Arc;

struct Progress<'a> {
    out: &'a Out,
    /// The run once it exists, so an interrupt can mark it.
    run_id: std::sync::Mutex<Option<String>>,
}

impl RunObserver for Progress<'_> {
    fn event(&self, e: &RunEvent<'_>) {
        match e {
            RunEvent::Started {
                run_id,
                trace_id,
                plan,
            } => {
                *self.run_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(run_id.to_string());
                self.out.progress(format!(
                    "run {run_id} started (trace {trace_id}, planner {}, {} step(s))",
                    plan.planner,
                    plan.steps.len()
                ));
            }
            RunEvent::StepStarted {
                index,
                total,
                step_id,
                skill,
                attempt,
            } => {
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.out.progress(format!(
                    "  [{}/{total}] {step_id}: {skill}{again} ...",
                    index + 1
                ));
            }
            RunEvent::StepFinished {
                index,
                total,
                outcome,
            } => {
                let detail = match &outcome.error {
                    Some(e) => format!(": {e}"),
                    None => String::new(),
                };
                self.out.progress(format!(
                    "  [{}/{total}] {}: {} in {} ms{detail}",
                    index + 1,
                    outcome.step_id,
                    outcome.status,
                    outcome.duration_ms
                ));
            }
            RunEvent::Retrying {
                step_id,
                attempt,
                after,
                reason,
            } => self.out.progress(format!(
                "  {step_id}: attempt {attempt} failed ({reason}); retrying in {:.1} s",
                after.as_secs_f64()
            )),
        }
    }
}

/// Returns the process exit code: 0 succeeded, EXIT_RUN_FAILED failed.
pub async fn run(
    args: &RunArgs,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    key: &crate::signing::KeyLocation,
    out: &Out,
) -> Result<i32> {
    // Checked here too (the database trigger is the backstop) so the message is about the
    // flag, not a constraint.
    if args.origin_system_id.trim().is_empty() {
        bail!("--origin-system-id must name the system this run comes from");
    }
    if args.origin_system_id == "legacy-migration" {
        bail!(
            "--origin-system-id 'legacy-migration' is reserved for migrated rows; name the real origin system"
        );
    }
    let plan_json = match &args.plan {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading plan {}", path.display()))?,
        ),
        None => None,
    };
    if args.queue.detach {
        let request = crate::commands::queue::request(args, plan_json);
        return crate::commands::queue::detach(args, request, db, home, out).await;
    }
    let signing_key = key.load_or_create(out)?;
    let store = db.ready_store().await?;
    // A key used before names that run: it is followed, never executed a second time.
    if let Some(k) = &args.idempotency_key
        && let Some(existing) = store.run_by_idempotency_key(&args.tenant_id, k).await?
    {
        return crate::commands::queue::replay(&store, existing, out).await;
    }
    let host = Arc::new(SkillHost::new(crate::compile_progress::host_config(
        home, out,
    ))?);
    let runner = Runner::new(store.clone(), host)
        .with_lease(runproof_runner::lease::process_holder(
            "runner",
            args.lease_ttl,
        ))
        .with_signer(signing_key)
        .with_secrets_home(crate::database::home_dir(home));
    let progress = Progress {
        out,
        run_id: std::sync::Mutex::new(None),
    };
    let request = RunRequest {
        agent_id: args.agent_id.clone(),
        tenant_id: args.tenant_id.clone(),
        origin_system_id: args.origin_system_id.clone(),
        goal: args.goal.clone(),
        plan_json,
        idempotency_key: args.idempotency_key.clone(),
        integrity_model: args.integrity_model,
    };
    let report = tokio::select! {
        report = runner.run(&request, &progress) => report?,
        (signal, exit_code) = interrupted() => {
            // The trace is left unsealed on purpose: it is incomplete, and its proof must
            // say so. The run row is marked so operators see why.
            let run_id = progress.run_id.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(run_id) = &run_id {
                store.abandon_run(run_id, &format!("interrupted by {signal}; trace left unsealed")).await?;
            }
            out.emit(&serde_json::json!({"run_id": run_id, "status": RunStatus::Failed, "error_message": "interrupted"}), || {
                if let Some(r) = &run_id {
                    outln!("run_id: {r}");
                }
                outln!("status: failed (interrupted; the trace is unsealed and will not verify)");
            });
            return Ok(exit_code);
        }
    };
    store.close().await;
    out.emit(&report, || {
        outln!("run_id: {}", report.run_id);
        outln!("status: {}", report.status);
        if let Some(e) = &report.error_message {
            outln!("error:  {e}");
        }
        outln!(
            "trace_id: {} ({} steps recorded, sealed and signed by {})",
            report.trace_id,
            report.chain_length,
            crate::output::short(&report.signing_key_id)
        );
        outln!(
            "verify: runtime proof --run-id {} --tenant-id {}",
            report.run_id,
            report.tenant_id
        );
    });
    Ok(exit_for(report.status))
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and container runtimes send)
/// and names it. Both end a run the same way: marked failed, trace unsealed.
async fn interrupted() -> (&'static str, i32) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            // Without a SIGTERM handler the default action (exit) still applies; the lease
            // then expires and recovery marks the run.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => ("the operator (Ctrl-C)", EXIT_INTERRUPTED),
        _ = term => ("SIGTERM", EXIT_TERMINATED),
    }
}
