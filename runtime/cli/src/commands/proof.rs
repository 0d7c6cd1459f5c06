//! `runtime proof`: verify a run's trace against the pinned keys; export it for offline
//! review (`proof export`, `proof inclusion`); write the execution report (`--report`).

use crate::args::{ProofAction, ProofArgs};
use crate::database::Database;
use crate::exit::EXIT_NOT_VERIFIED;
use crate::output::Out;
use crate::signing::{KeyLocation, trusted_or_local};
use anyhow::{Context, Result};
use runproof_coordinator::{RunProof, RunProofCoordinator, StepListing};
use runproof_proof::Coverage;

pub async fn run(args: &ProofArgs, db: &Database, local: &KeyLocation, out: &Out) -> Result<i32> {
    match &args.action {
        Some(ProofAction::Export {
            run_id,
            tenant_id,
            out: path,
            with_components,
        }) => export(run_id, tenant_id, path, *with_components, db, out).await,
        Some(ProofAction::Inclusion {
            run_id,
            tenant_id,
            step,
            out: path,
        }) => inclusion(run_id, tenant_id, *step, path.as_ref(), db, out).await,
        None => {
            // clap requires both flags when no subcommand is given.
            let (Some(run_id), Some(tenant_id)) = (&args.run_id, &args.tenant_id) else {
                anyhow::bail!("--run-id and --tenant-id are required");
            };
            verify(run_id, tenant_id, args, db, local, out).await
        }
    }
}

async fn verify(
    run_id: &str,
    tenant_id: &str,
    args: &ProofArgs,
    db: &Database,
    local: &KeyLocation,
    out: &Out,
) -> Result<i32> {
    let (trusted, trust_note) = trusted_or_local(&args.trust.trusted_keys, local)?;
    let store = db.ready_store().await?;
    // The text output names no step, so it does not keep them: verifying a trace of any
    // length then takes flat memory. `--json` and the report list every step.
    let listing = if out.json || args.report.is_some() {
        StepListing::Include
    } else {
        StepListing::Omit
    };
    let coordinator = RunProofCoordinator::new(store.clone()).trusting(trusted);
    let proof = coordinator
        .get_run_proof_with(tenant_id, run_id, listing)
        .await?;
    if let Some(path) = &args.report {
        let evidence = store.evidence(run_id).await?;
        let traces = store.traces_for_run(tenant_id, run_id).await?;
        let signed_head = traces.iter().find_map(|t| t.signed_head.clone());
        let text = crate::report::render(&crate::report::ReportInput {
            proof: &proof,
            evidence: &evidence,
            signed_head: signed_head.as_deref(),
            trust_note: &trust_note,
            database: &db.describe(),
        });
        std::fs::write(path, text).with_context(|| format!("writing report {}", path.display()))?;
        out.progress(format!("report written to {}", path.display()));
    }
    store.close().await;
    let i = &proof.integrity;
    out.emit(&proof, || {
        // Everything printed here is either recomputed, signed, or says it is not.
        outln!("run_id: {}", proof.run_id);
        outln!("run_status: {}", crate::report::run_status_line(&proof));
        outln!("integrity_model: {}", i.model.as_str());
        outln!("verification_status: {}", i.verification_status.as_str());
        outln!("chain_length: {}", i.chain_length);
        outln!("verified_prefix: {}", i.verified_prefix);
        outln!("root_hash: {}", i.root_hash.as_deref().unwrap_or("-"));
        outln!("merkle_root: {}", i.merkle_root.as_deref().unwrap_or("-"));
        outln!("trace_count: {}", proof.aos_traces.len());
        outln!(
            "step_count: {}",
            proof.aos_traces.iter().map(|t| t.step_count).sum::<u64>()
        );
        outln!("signed_by: {}", i.signed_by.as_deref().unwrap_or("-"));
        outln!("trusted_keys: {trust_note}");
        if let Some(v) = proof.head_version {
            outln!("head_version: {}", v.as_str());
        }
        if let Some(r) = &i.failure_reason {
            outln!("failure_reason: {r}");
        }
        if i.is_verified() {
            let bound = proof
                .checks
                .iter()
                .filter(|c| c.coverage == Coverage::Bound)
                .count();
            outln!("row_columns_bound: {bound} (equal to the signed head)");
            outln!("row_columns_not_covered: {}", not_covered(&proof));
        }
        outln!("verified_at: {}", proof.verified_at.to_rfc3339());
    });
    Ok(if i.is_verified() {
        0
    } else {
        EXIT_NOT_VERIFIED
    })
}

/// The columns shown by `runs show` that the proof does not cover, by name.
fn not_covered(proof: &RunProof) -> String {
    let names: Vec<&str> = proof
        .checks
        .iter()
        .filter(|c| c.coverage == Coverage::NotBound && c.trace_id.is_none())
        .map(|c| c.field)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

async fn export(
    run_id: &str,
    tenant_id: &str,
    path: &std::path::Path,
    with_components: bool,
    db: &Database,
    out: &Out,
) -> Result<i32> {
    let store = db.ready_store().await?;
    let mut bundle = RunProofCoordinator::new(store.clone())
        .export_bundle(tenant_id, run_id)
        .await?;
    if with_components {
        let components =
            crate::commands::replay::components_of(&store, &bundle.skill_digests).await?;
        bundle.components = Some(runproof_proof::components::encode_components(&components));
    }
    store.close().await;
    let json = bundle.to_json();
    std::fs::write(path, &json).with_context(|| format!("writing bundle {}", path.display()))?;
    let summary = serde_json::json!({
        "run_id": run_id,
        "tenant_id": tenant_id,
        "bundle": path,
        "steps": bundle.steps.len(),
        "bytes": json.len(),
        "signed": bundle.signed_head.is_some(),
        "components": bundle.components.as_ref().map_or(0, |c| c.len()),
    });
    out.emit(&summary, || {
        outln!(
            "bundle: {} ({} steps, {} components, {} bytes)",
            path.display(),
            bundle.steps.len(),
            bundle.components.as_ref().map_or(0, |c| c.len()),
            json.len()
        );
        if bundle.signed_head.is_none() {
            outln!("warning: the trace head is not signed; this bundle will not verify");
        }
        outln!(
            "verify offline: runtime verify {} --trusted-key runproof-signing.pub",
            path.display()
        );
    });
    Ok(0)
}

async fn inclusion(
    run_id: &str,
    tenant_id: &str,
    step: u64,
    path: Option<&std::path::PathBuf>,
    db: &Database,
    out: &Out,
) -> Result<i32> {
    let store = db.ready_store().await?;
    let proof = RunProofCoordinator::new(store.clone())
        .inclusion_proof(tenant_id, run_id, step)
        .await?;
    store.close().await;
    let json = proof.to_json();
    match path {
        Some(p) => {
            std::fs::write(p, &json)
                .with_context(|| format!("writing inclusion proof {}", p.display()))?;
            out.emit(
                &serde_json::json!({"run_id": run_id, "step": step, "tree_size": proof.tree_size, "file": p}),
                || {
                    outln!("inclusion proof of step {step} of {}: {}", proof.tree_size, p.display());
                    outln!("verify offline: runtime verify {} --trusted-key runproof-signing.pub", p.display());
                },
            );
        }
        // The proof is itself JSON: print it as is, with or without --json.
        None => outln!("{json}"),
    }
    Ok(0)
}
