use crate::args::RunsCommand;
use crate::database::Database;
use crate::output::Out;
use crate::report::run_status_line;
use crate::signing::{KeyLocation, trusted_or_local};
use anyhow::{Result, bail};
use runproof_coordinator::{RunProofCoordinator, StepListing};
use runproof_proof::{Coverage, FieldCheck};

/// A value as the operator reads it: text unquoted, the plan shortened to one line.
fn shown(c: &FieldCheck) -> String {
    let text = match &c.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 80 {
        format!("{}…", line.chars().take(79).collect::<String>())
    } else {
        line
    }
}

/// What the proof says of a value, with the signed value on a mismatch.
fn marker(c: &FieldCheck) -> String {
    match &c.signed {
        Some(signed) => format!("[MISMATCH: the signed head says {signed}]"),
        None => c.coverage.marker().to_string(),
    }
}

pub async fn run(cmd: &RunsCommand, db: &Database, local: &KeyLocation, out: &Out) -> Result<()> {
    if let RunsCommand::Recover = cmd {
        return recover(db, out).await;
    }
    let store = db.ready_store().await?;
    match cmd {
        RunsCommand::Recover => recover(db, out).await?,
        // Dispatched in main.rs (they have exit codes of their own).
        RunsCommand::Wait { .. } | RunsCommand::Cancel { .. } => {
            bail!("internal: runs wait/cancel are dispatched elsewhere")
        }
        RunsCommand::List { tenant_id, limit } => {
            let runs = store.list_runs(tenant_id, *limit).await?;
            out.emit(&runs, || {
                if runs.is_empty() {
                    outln!("no runs for tenant {tenant_id}");
                }
                for r in &runs {
                    outln!(
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
            trust,
            payloads,
        } => {
            let (trusted, trust_note) = trusted_or_local(&trust.trusted_keys, local)?;
            if store.run_for_tenant(tenant_id, run_id).await?.is_none() {
                bail!("run {run_id} not found for tenant {tenant_id}");
            }
            let proof = RunProofCoordinator::new(store.clone())
                .trusting(trusted)
                .get_run_proof_with(tenant_id, run_id, StepListing::Include)
                .await?;
            let lines = super::steps_view::lines_of(&store, &proof, *payloads).await?;
            // The run is shown from the checked columns, never from the raw row: every
            // value printed comes with what the proof says of it.
            // `run`: each column of the row as {value, coverage}; `checks`: every column of
            // the run and trace rows, with the signed value on a mismatch.
            let run_map: serde_json::Map<String, serde_json::Value> = proof
                .checks
                .iter()
                .filter(|c| c.trace_id.is_none())
                .map(|c| {
                    (
                        c.field.trim_start_matches("runs.").to_string(),
                        serde_json::json!({"value": c.value, "coverage": c.coverage}),
                    )
                })
                .collect();
            let value = serde_json::json!({
                "run": run_map,
                "run_id": proof.run_id,
                "verification_status": proof.integrity.verification_status,
                "failure_reason": proof.integrity.failure_reason,
                "verified_prefix": proof.integrity.verified_prefix,
                "trusted_keys": trust_note,
                "run_status": proof.run_status,
                "checks": proof.checks,
                "aos_traces": proof.aos_traces,
                "aos_trace_steps": lines,
            });
            out.emit(&value, || {
                let i = &proof.integrity;
                outln!(
                    "verification_status: {}  (trusted keys: {trust_note})",
                    i.verification_status.as_str()
                );
                if let Some(r) = &i.failure_reason {
                    outln!("failure_reason: {r}");
                }
                outln!("run_status: {}", run_status_line(&proof));
                for c in proof.checks.iter().filter(|c| c.trace_id.is_none()) {
                    // An empty column is left out, unless leaving it out would hide that
                    // the signed head says it held something.
                    if c.value.is_null() && c.coverage != Coverage::Mismatch {
                        continue;
                    }
                    let name = c.field.trim_start_matches("runs.");
                    outln!("{:<18}{}  {}", format!("{name}:"), shown(c), marker(c));
                }
                for t in &proof.aos_traces {
                    let marks: Vec<String> = proof
                        .checks
                        .iter()
                        .filter(|c| c.trace_id.as_deref() == Some(t.trace_id.as_str()))
                        .filter(|c| c.coverage != Coverage::Bound)
                        .map(|c| {
                            format!(
                                "{} {}",
                                c.field.trim_start_matches("aos_traces."),
                                marker(c)
                            )
                        })
                        .collect();
                    outln!(
                        "trace {}  status={}  steps={}  {}",
                        t.trace_id,
                        t.status,
                        t.step_count,
                        if marks.is_empty() {
                            Coverage::Bound.marker().to_string()
                        } else {
                            marks.join(", ")
                        }
                    );
                }
                // Steps are checked against their hashed bytes (payloads included): intact
                // up to verified_prefix.
                super::steps_view::print(&lines);
                let total = lines.len() as u64;
                if i.verified_prefix < total {
                    outln!(
                        "  [steps from step_index {} on are not verified: the chain breaks there or nothing signed vouches for them]",
                        i.verified_prefix
                    );
                } else if !i.is_verified() && total > 0 {
                    outln!(
                        "  [the {total} step(s) hash and link intact, but no signed head vouches for them]"
                    );
                }
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
            outln!("no lost runs: every running run has a live lease");
        }
        for r in &recovered {
            outln!(
                "{}  tenant {}  failed: {}",
                r.run_id,
                r.tenant_id,
                r.error_message
            );
        }
    });
    Ok(())
}
