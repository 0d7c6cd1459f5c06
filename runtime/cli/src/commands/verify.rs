//! `runtime verify FILE --trusted-key KEY`: the reviewer's command. Reads one file and the
//! pinned keys; opens no database and no network connection.

use crate::args::VerifyArgs;
use crate::exit::EXIT_NOT_VERIFIED;
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
        outln!("file: {} (inclusion proof)", args.file.display());
        outln!("verification_status: {}", v.verification_status.as_str());
        if let (Some(i), Some(n)) = (v.step_index, v.tree_size) {
            outln!("step_index: {i} of {n}");
        }
        if let Some(c) = &v.signed_head {
            outln!(
                "run_id: {}  tenant_id: {}  trace_id: {}",
                c.run_id,
                c.tenant_id,
                c.trace_id
            );
            outln!("merkle_root: {}", c.merkle_root);
        }
        if let Some(step) = &v.step {
            outln!("step: {}", serde_json::to_string(step).unwrap_or_default());
        }
        if let Some(k) = &v.signed_by {
            outln!("signed_by: {k}");
        }
        if let Some(r) = &v.failure_reason {
            outln!("failure_reason: {r}");
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
        outln!("file: {} (bundle)", args.file.display());
        if let (Some(r), Some(t)) = (&v.run_id, &v.tenant_id) {
            outln!("run_id: {r}  tenant_id: {t}");
        }
        outln!("integrity_model: {}", i.model.as_str());
        outln!("verification_status: {}", i.verification_status.as_str());
        outln!("chain_length: {}", i.chain_length);
        outln!("verified_prefix: {}", i.verified_prefix);
        outln!("root_hash: {}", i.root_hash.as_deref().unwrap_or("-"));
        if let Some(k) = &i.signed_by {
            outln!("signed_by: {k}");
        }
        if let Some(r) = &i.failure_reason {
            outln!("failure_reason: {r}");
        }
        // What the run was, only from the signed head (present only when it verified).
        if let Some(c) = &v.signed_head {
            outln!("signed run (from the head the pinned key signed):");
            outln!("  status: {}", c.status);
            outln!(
                "  started_at: {}  completed_at: {}",
                c.started_at,
                c.completed_at
            );
            match &c.run {
                Some(run) => {
                    outln!("  goal: {}", run.goal);
                    outln!(
                        "  agent_id: {}  origin_system_id: {}",
                        run.agent_id,
                        run.origin_system_id
                    );
                    outln!("  plan_sha256: {}", run.plan_sha256);
                    if let Some(e) = &run.error_message {
                        outln!("  error_message: {e}");
                    }
                    outln!("  duration_ms: {}", run.duration_ms);
                }
                None => outln!(
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
