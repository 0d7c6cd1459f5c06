use crate::args::RunsCommand;
use crate::database::Database;
use crate::output::Out;
use anyhow::{Result, bail};
use runproof_coordinator::{RunProofCoordinator, StepListing};

pub async fn run(cmd: &RunsCommand, db: &Database, out: &Out) -> Result<()> {
    if let RunsCommand::Recover = cmd {
        return recover(db, out).await;
    }
    let store = db.ready_store().await?;
    match cmd {
        RunsCommand::Recover => recover(db, out).await?,
        RunsCommand::List { tenant_id, limit } => {
            let runs = store.list_runs(tenant_id, *limit).await?;
            out.emit(&runs, || {
                if runs.is_empty() {
                    println!("no runs for tenant {tenant_id}");
                }
                for r in &runs {
                    println!(
                        "{}  {:<9}  {}  {}",
                        r.id,
                        r.status,
                        r.created_at.format("%Y-%m-%d %H:%M:%S"),
                        r.goal
                    );
                }
            });
        }
        RunsCommand::Show {
            run_id,
            tenant_id,
            payloads,
        } => {
            let Some(run) = store.run_for_tenant(tenant_id, run_id).await? else {
                bail!("run {run_id} not found for tenant {tenant_id}");
            };
            let proof = RunProofCoordinator::new(store.clone())
                .get_run_proof_with(tenant_id, run_id, StepListing::Include)
                .await?;
            let lines = super::steps_view::lines_of(&store, &proof, *payloads).await?;
            let value = serde_json::json!({"run": run, "aos_traces": proof.aos_traces, "aos_trace_steps": lines});
            out.emit(&value, || {
                println!("run_id:           {}", run.id);
                println!("status:           {}", run.status);
                println!("agent_id:         {}", run.agent_id);
                println!("tenant_id:        {}", run.tenant_id);
                println!("origin_system_id: {}", run.origin_system_id);
                println!("goal:             {}", run.goal);
                if let Some(e) = &run.error_message {
                    println!("error_message:    {e}");
                }
                println!("created_at:       {}", run.created_at);
                if let Some(d) = run.duration_ms {
                    println!("duration_ms:      {d}");
                }
                for t in &proof.aos_traces {
                    println!(
                        "trace {}  status={}  steps={}",
                        t.trace_id, t.status, t.step_count
                    );
                }
                super::steps_view::print(&lines);
            });
        }
    }
    Ok(())
}

/// `runtime runs recover`: the recovery every command runs on start, reported.
async fn recover(db: &Database, out: &Out) -> Result<()> {
    let (_, recovered) = db.ready_store_recovering().await?;
    let recovered = recovered?;
    out.emit(&serde_json::json!({"recovered": recovered}), || {
        if recovered.is_empty() {
            println!("no lost runs: every running run has a live lease");
        }
        for r in &recovered {
            println!(
                "{}  tenant {}  failed: {}",
                r.run_id, r.tenant_id, r.error_message
            );
        }
    });
    Ok(())
}
