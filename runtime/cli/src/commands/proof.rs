use crate::args::ProofArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::Result;
use runproof_coordinator::{RunProofCoordinator, StepListing};

/// Exit code when the proof is anything but VERIFIED.
pub const EXIT_NOT_VERIFIED: i32 = 4;

pub async fn run(args: &ProofArgs, db: &Database, out: &Out) -> Result<i32> {
    let store = db.ready_store().await?;
    // The text output names no step, so it does not keep them: verifying a trace of any
    // length then takes flat memory. `--json` prints every step, so it lists them.
    let listing = if out.json { StepListing::Include } else { StepListing::Omit };
    let proof = RunProofCoordinator::new(store).get_run_proof_with(&args.tenant_id, &args.run_id, listing).await?;
    let i = &proof.integrity;
    out.emit(&proof, || {
        println!("run_id: {}", proof.run_id);
        println!("integrity_model: {}", i.model.as_str());
        println!("verification_status: {}", serde_json::to_value(i.verification_status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default());
        println!("chain_length: {}", i.chain_length);
        println!("root_hash: {}", i.root_hash.as_deref().unwrap_or("-"));
        println!("trace_count: {}", proof.aos_traces.len());
        println!("step_count: {}", proof.aos_traces.iter().map(|t| t.step_count).sum::<i64>());
        if let Some(r) = &i.failure_reason {
            println!("failure_reason: {r}");
        }
        println!("verified_at: {}", proof.verified_at.to_rfc3339());
    });
    Ok(if i.is_verified() { 0 } else { EXIT_NOT_VERIFIED })
}
