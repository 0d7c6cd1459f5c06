use crate::args::ProofArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::Result;
use runproof_coordinator::RunProofCoordinator;

/// Exit code when the proof is anything but VERIFIED.
pub const EXIT_NOT_VERIFIED: i32 = 4;

pub async fn run(args: &ProofArgs, db: &Database, out: &Out) -> Result<i32> {
    let store = db.ready_store().await?;
    let proof = RunProofCoordinator::new(store).get_run_proof(&args.tenant_id, &args.run_id).await?;
    let i = &proof.integrity;
    out.emit(&proof, || {
        println!("run_id: {}", proof.run_id);
        println!("integrity_model: {}", i.model.as_str());
        println!("verification_status: {}", serde_json::to_value(i.verification_status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default());
        println!("chain_length: {}", i.chain_length);
        println!("root_hash: {}", i.root_hash.as_deref().unwrap_or("-"));
        println!("trace_count: {}", proof.aos_traces.len());
        println!("step_count: {}", proof.aos_trace_steps.len());
        if let Some(r) = &i.failure_reason {
            println!("failure_reason: {r}");
        }
        println!("verified_at: {}", proof.verified_at.to_rfc3339());
    });
    Ok(if i.is_verified() { 0 } else { EXIT_NOT_VERIFIED })
}
