//! Both verifiers on every offline proof the suites make: `runtime verify` (the reference)
//! and the Python verifier written from `docs/proof-format.md` (`verifiers/python`). They
//! must agree: the same exit code, the same verdict (status, model, step count, roots,
//! signer, ids, claims) and the same rule of the spec for the first failure (the reference's
//! reason is mapped to its rule by `runproof_proof::conformance::rule_of`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Run, repo_root, runtime, tempfile};

/// The Python verifier on `file`, `--json`.
pub fn python_verify(file: &Path, keys: &[&Path]) -> Run {
    let mut c = Command::new(std::env::var("RUNPROOF_PYTHON").unwrap_or_else(|_| "python3".into()));
    c.env("PYTHONPATH", repo_root().join("verifiers/python"))
        .args(["-m", "runproof_verify", "--json"])
        .arg(file);
    for k in keys {
        c.arg("--trusted-key").arg(k);
    }
    let r: Run = c
        .output()
        .expect("python3 runs (scripts/setup installs what the second verifier needs)")
        .into();
    assert!(
        !r.stderr.contains("ModuleNotFoundError"),
        "the Python verifier cannot start (run scripts/setup to install `cryptography`): {}",
        r.stderr
    );
    r
}

/// `runtime --json verify` on `file`.
pub fn runtime_verify(file: &Path, keys: &[&Path]) -> Run {
    let mut args: Vec<String> = vec!["--json".into(), "verify".into(), path_str(file)];
    for k in keys {
        args.push("--trusted-key".into());
        args.push(path_str(k));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runtime(&args)
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("a UTF-8 path").to_string()
}

/// Runs the Python verifier beside an already finished `runtime verify` run (`rust`) of the
/// same file and keys, and asserts that the two agree. Returns `rust`.
#[track_caller]
pub fn assert_agree(file: &Path, keys: &[&Path], rust: Run) -> Run {
    let py = python_verify(file, keys);
    assert_eq!(
        rust.code,
        py.code,
        "exit codes differ for {}\nruntime verify: {rust:?}\npython: {py:?}",
        file.display()
    );
    if rust.code == 0 || rust.code == 4 {
        let (r, p) = (rust.json(), py.json());
        assert_eq!(
            comparable(&r),
            comparable(&p),
            "verdicts differ for {}\nruntime verify: {r:#}\npython: {p:#}",
            file.display()
        );
        let reason = r["integrity"]["failure_reason"]
            .as_str()
            .or(r["failure_reason"].as_str());
        let rule = reason.map(|reason| {
            runproof_proof::conformance::rule_of(reason).unwrap_or_else(|| {
                panic!("no rule of the spec names runtime verify's reason {reason:?}")
            })
        });
        assert_eq!(
            rule,
            p["failure_rule"].as_str(),
            "the first failure differs for {}\nruntime verify: {reason:?}\npython: {p:#}",
            file.display()
        );
    }
    rust
}

/// `runtime verify` and the Python verifier on `file`; asserts they agree and returns the
/// reference's run.
#[track_caller]
pub fn verify_both(file: &Path, keys: &[&Path]) -> Run {
    let rust = runtime_verify(file, keys);
    assert_agree(file, keys, rust)
}

/// What both verifiers must say alike (failure reasons are for people and differ).
fn comparable(v: &Value) -> Value {
    if let Some(i) = v.get("integrity") {
        let mut i = i.clone();
        i.as_object_mut().map(|o| o.remove("failure_reason"));
        serde_json::json!({
            "format": v["format"], "ids": [v["tenant_id"], v["run_id"], v["trace_id"]],
            "integrity": i, "signed_head": v["signed_head"],
        })
    } else {
        serde_json::json!({
            "format": v["format"], "status": v["verification_status"],
            "step_index": v["step_index"], "tree_size": v["tree_size"],
            "signed_head": v["signed_head"], "signed_by": v["signed_by"],
            "step_kind": v["step"]["kind"],
        })
    }
}

/// The local signing key's public half, as a reviewer exports it.
pub fn local_public_key() -> Option<PathBuf> {
    let path = tempfile("");
    let r = runtime(&["keys", "export-public", "-o", path.to_str().unwrap()]);
    (r.code == 0).then_some(path)
}

/// Exports `run_id`'s bundle and the inclusion proof of its middle step, whatever state the
/// run is in (genuine, interrupted or forged by an attack), and checks each with both
/// verifiers against the local key, as `runtime proof` does. `online_verified`: what
/// `runtime proof` said; a verified run's bundle and inclusion proof must verify too.
/// Export refusals (no such run, no trace, several traces, no signed head) are not proofs
/// and are skipped.
#[track_caller]
pub fn check_exports(run_id: &str, tenant: &str, online_verified: bool) {
    let Some(key) = local_public_key() else {
        return;
    };
    let bundle = tempfile("");
    let exported = runtime(&[
        "--json",
        "proof",
        "export",
        "--run-id",
        run_id,
        "--tenant-id",
        tenant,
        "-o",
        bundle.to_str().unwrap(),
    ]);
    if exported.code != 0 {
        assert!(!online_verified, "a verified run must export: {exported:?}");
        return;
    }
    let r = verify_both(&bundle, &[&key]);
    if online_verified {
        assert_eq!(r.code, 0, "the bundle of a verified run must verify: {r:?}");
    }
    let steps = exported.json()["steps"].as_u64().unwrap_or(0);
    if steps == 0 {
        return;
    }
    let step = (steps / 2).to_string();
    let inclusion = tempfile("");
    let made = runtime(&[
        "proof",
        "inclusion",
        "--run-id",
        run_id,
        "--tenant-id",
        tenant,
        "--step",
        &step,
        "-o",
        inclusion.to_str().unwrap(),
    ]);
    if made.code != 0 {
        assert!(
            !online_verified,
            "a verified run must prove a step: {made:?}"
        );
        return;
    }
    let r = verify_both(&inclusion, &[&key]);
    if online_verified {
        assert_eq!(
            r.code, 0,
            "a verified run's inclusion proof must verify: {r:?}"
        );
    }
    let _ = std::fs::remove_file(&bundle);
    let _ = std::fs::remove_file(&inclusion);
    let _ = std::fs::remove_file(&key);
}
