//! `runtime verify FILE --trusted-key KEY`: the reviewer's command. Reads one file and the
//! pinned keys; opens no database and no network connection.

use crate::args::VerifyArgs;
use crate::commands::proof::{EXIT_NOT_VERIFIED, status_word};
use crate::output::Out;
use crate::signing::load_trusted;
use anyhow::{Context, Result};
use runproof_proof::{DocumentVerdict, verify_document};

/// Bundles of a million steps are a few hundred MB; anything far beyond is not ours.
const MAX_FILE_BYTES: u64 = 4 << 30;

pub fn run(args: &VerifyArgs, out: &Out) -> Result<i32> {
    let trusted = load_trusted(&args.trusted_keys)?;
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        anyhow::bail!(
            "{} is {size} bytes, larger than any proof file",
            args.file.display()
        );
    }
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let v = match verify_document(&bytes, &trusted) {
        DocumentVerdict::Inclusion(v) => v,
        DocumentVerdict::Bundle(v) => return Ok(bundle(args, out, &v)),
    };
    out.emit(&v, || {
        println!("file: {} (inclusion proof)", args.file.display());
        println!(
            "verification_status: {}",
            status_word(v.verification_status)
        );
        if let (Some(i), Some(n)) = (v.step_index, v.tree_size) {
            println!("step_index: {i} of {n}");
        }
        if let Some(c) = &v.signed_head {
            println!(
                "run_id: {}  tenant_id: {}  trace_id: {}",
                c.run_id, c.tenant_id, c.trace_id
            );
            println!("merkle_root: {}", c.merkle_root);
        }
        if let Some(step) = &v.step {
            println!("step: {}", serde_json::to_string(step).unwrap_or_default());
        }
        if let Some(k) = &v.signed_by {
            println!("signed_by: {k}");
        }
        if let Some(r) = &v.failure_reason {
            println!("failure_reason: {r}");
        }
    });
    Ok(
        if v.verification_status == runproof_proof::VerificationStatus::Verified {
            0
        } else {
            EXIT_NOT_VERIFIED
        },
    )
}

fn bundle(args: &VerifyArgs, out: &Out, v: &runproof_proof::BundleVerdict) -> i32 {
    let i = &v.integrity;
    out.emit(&v, || {
        println!("file: {} (bundle)", args.file.display());
        if let (Some(r), Some(t)) = (&v.run_id, &v.tenant_id) {
            println!("run_id: {r}  tenant_id: {t}");
        }
        println!("integrity_model: {}", i.model.as_str());
        println!(
            "verification_status: {}",
            status_word(i.verification_status)
        );
        println!("chain_length: {}", i.chain_length);
        println!("verified_prefix: {}", i.verified_prefix);
        println!("root_hash: {}", i.root_hash.as_deref().unwrap_or("-"));
        if let Some(k) = &i.signed_by {
            println!("signed_by: {k}");
        }
        if let Some(r) = &i.failure_reason {
            println!("failure_reason: {r}");
        }
        // What the run was, only from the signed head (present only when it verified).
        if let Some(c) = &v.signed_head {
            println!("signed run (from the head the pinned key signed):");
            println!("  status: {}", c.status);
            println!(
                "  started_at: {}  completed_at: {}",
                c.started_at, c.completed_at
            );
            match &c.run {
                Some(run) => {
                    println!("  goal: {}", run.goal);
                    println!(
                        "  agent_id: {}  origin_system_id: {}",
                        run.agent_id, run.origin_system_id
                    );
                    println!("  plan_sha256: {}", run.plan_sha256);
                    if let Some(e) = &run.error_message {
                        println!("  error_message: {e}");
                    }
                    println!("  duration_ms: {}", run.duration_ms);
                }
                None => println!(
                    "  (a v1 head: it does not state the run's goal, agent, origin, plan or error)"
                ),
            }
        }
    });
    if i.is_verified() {
        0
    } else {
        EXIT_NOT_VERIFIED
    }
}
