//! What a reviewer carries away: the exported bundle, an inclusion proof, the public key,
//! and `runtime verify`, which needs neither the database nor the network. Also the keys
//! commands and the execution report.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::http::{Server, closed_port};
use support::*;

fn verified_run(name: &str) -> (String, String) {
    verified_http_run(name, "HASH_CHAIN")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("e2e-offline")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `runtime verify` with no database reachable: no RUNPROOF_HOME cluster, and a
/// DATABASE_URL that points at a closed port, so any attempt to connect would fail. The
/// Python verifier checks the same file beside it, and the two must agree.
#[track_caller]
fn verify_offline(file: &Path, key: &Path) -> Run {
    let rust = runtime_verify_offline(file, key);
    verifiers::assert_agree(file, &[key], rust)
}

fn runtime_verify_offline(file: &Path, key: &Path) -> Run {
    let empty_home = scratch("nohome");
    Command::new(env!("CARGO_BIN_EXE_runtime"))
        .env("RUNPROOF_HOME", &empty_home)
        .env(
            "DATABASE_URL",
            format!("postgres://nobody:x@127.0.0.1:{}/none", closed_port()),
        )
        .args(["--json", "verify"])
        .arg(file)
        .arg("--trusted-key")
        .arg(key)
        .output()
        .unwrap()
        .into()
}

fn export_public(dir: &Path) -> PathBuf {
    let key = dir.join("runproof-signing.pub");
    runtime(&["keys", "export-public", "-o", key.to_str().unwrap()]).ok();
    key
}

fn export_bundle(dir: &Path, tenant: &str, run_id: &str) -> PathBuf {
    let bundle = dir.join("run.bundle.json");
    runtime(&[
        "proof",
        "export",
        "--run-id",
        run_id,
        "--tenant-id",
        tenant,
        "-o",
        bundle.to_str().unwrap(),
    ])
    .ok();
    bundle
}

#[track_caller]
fn assert_rejected(r: &Run, reason_contains: &str) {
    assert_eq!(r.code, 4, "{r:?}");
    let v = r.json();
    assert_eq!(v["integrity"]["verification_status"], "FAILED", "{v}");
    let reason = v["integrity"]["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should mention {reason_contains:?}"
    );
}

#[test]
fn bundle_verifies_with_only_the_binary_the_bundle_and_the_key_database_stopped() {
    // Its own RUNPROOF_HOME, so stopping that database disturbs no other test.
    let home = scratch("stopped-db-home");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rt = |args: &[&str]| -> Run {
        Command::new(env!("CARGO_BIN_EXE_runtime"))
            .env("RUNPROOF_HOME", &home)
            .env_remove("DATABASE_URL")
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let server = Server::start();
    let agent = rt(&[
        "--json",
        "agent",
        "create",
        "--name",
        "offline",
        "--allow-host",
        "http://127.0.0.1:*",
    ])
    .ok()
    .json();
    let agent_id = agent["agent_id"].as_str().unwrap().to_string();
    let run = rt(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        "t-offline",
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch {}", server.url("/ok")),
    ])
    .ok()
    .json();
    let run_id = run["run_id"].as_str().unwrap();
    let dir = scratch("stopped-db");
    let bundle = dir.join("b.json");
    let key = dir.join("k.pub");
    rt(&[
        "proof",
        "export",
        "--run-id",
        run_id,
        "--tenant-id",
        "t-offline",
        "-o",
        bundle.to_str().unwrap(),
    ])
    .ok();
    rt(&["keys", "export-public", "-o", key.to_str().unwrap()]).ok();
    rt(&["db", "stop"]).ok();
    let status = rt(&["--json", "db", "status"]);
    assert!(
        status.stdout.contains("stopped") || status.stdout.contains("not running"),
        "{status:?}"
    );

    let r = verify_offline(&bundle, &key);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["integrity"]["verification_status"], "VERIFIED");
    assert_eq!(v["run_id"], run_id);
    assert_eq!(
        v["signed_head"]["chain_length"],
        v["integrity"]["chain_length"]
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn exported_bundle_carries_the_head_as_an_object_and_a_v1_bundle_still_verifies_with_both() {
    use base64::Engine as _;
    let (tenant, run_id) = verified_run("o-v2");
    let dir = scratch("v2");
    let key = export_public(&dir);
    let bundle = export_bundle(&dir, &tenant, &run_id);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(v["format"], "runproof-bundle/v2");
    // The envelope is a DSSE envelope object, and the statement beside it is its payload.
    let envelope = &v["signed_head"]["envelope"];
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let decoded: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(v["signed_head"]["statement"], decoded);
    assert_eq!(decoded["predicate"]["run_id"], run_id.as_str());
    assert_eq!(verify_offline(&bundle, &key).code, 0);

    // The same proof as an earlier exporter wrote it: the envelope text in a JSON string.
    let mut v1 = v.clone();
    v1["format"] = "runproof-bundle/v1".into();
    v1["signed_head"] = serde_json::to_string(envelope).unwrap().into();
    let file = dir.join("v1.json");
    std::fs::write(&file, serde_json::to_string_pretty(&v1).unwrap()).unwrap();
    let r = verify_offline(&file, &key);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["format"], "runproof-bundle/v1");

    let step = dir.join("step.json");
    runtime(&[
        "proof",
        "inclusion",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--step",
        "2",
        "-o",
        step.to_str().unwrap(),
    ])
    .ok();
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(&step).unwrap()).unwrap();
    assert_eq!(p["format"], "runproof-inclusion/v2");
    p["format"] = "runproof-inclusion/v1".into();
    p["signed_head"] = serde_json::to_string(&p["signed_head"]["envelope"])
        .unwrap()
        .into();
    let file = dir.join("step-v1.json");
    std::fs::write(&file, serde_json::to_string(&p).unwrap()).unwrap();
    let r = verify_offline(&file, &key);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["format"], "runproof-inclusion/v1");
}

#[test]
fn bundle_with_one_step_altered_fails_offline() {
    let (tenant, run_id) = verified_run("o-alter");
    let dir = scratch("alter");
    let key = export_public(&dir);
    let bundle = export_bundle(&dir, &tenant, &run_id);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    // Re-encode step 3's payload with one character changed.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = String::from_utf8(
        b64.decode(v["steps"][3]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let altered = payload.replacen("\"status\":\"success\"", "\"status\":\"failure\"", 1);
    assert_ne!(altered, payload);
    v["steps"][3]["payload"] = b64.encode(altered).into();
    let forged = dir.join("forged.json");
    std::fs::write(&forged, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    assert_rejected(&verify_offline(&forged, &key), "step_index 3");
}

#[test]
fn bundle_attacks_malformed_input_never_verifies() {
    let (tenant, run_id) = verified_run("o-malformed");
    let dir = scratch("malformed");
    let key = export_public(&dir);
    let bundle = export_bundle(&dir, &tenant, &run_id);
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert_eq!(verify_offline(&bundle, &key).code, 0);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hash = v["steps"][1]["hash"].as_str().unwrap().to_string();
    let payload = v["steps"][1]["payload"].as_str().unwrap().to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("trailing garbage", format!("{text}\n}}"), "trailing data"),
        (
            "short hash",
            text.replacen(&hash, &hash[..63], 1),
            "wrong length",
        ),
        (
            "bad hex",
            text.replacen(&hash, &format!("g{}", &hash[1..]), 1),
            "not lower-case hex",
        ),
        (
            "bad base64",
            text.replacen(&payload, &format!("{payload}="), 1),
            "base64",
        ),
        (
            "duplicate key",
            text.replacen(
                "\"format\":",
                "\"format\": \"runproof-bundle/v2\",\n  \"format\":",
                1,
            ),
            "duplicate JSON key",
        ),
        (
            "number beyond 2^53",
            text.replacen("\"step_index\": 1,", "\"step_index\": 9007199254740993,", 1),
            "2^53",
        ),
        (
            "unknown envelope field",
            text.replacen("\"envelope\": {", "\"envelope\": {\"x\": 0,", 1),
            "envelope has unknown field",
        ),
        (
            "statement edited beside the envelope",
            text.replacen(
                "\"_type\": \"https://in-toto.io/Statement/v1\"",
                "\"_type\": \"x\"",
                1,
            ),
            "signed_head.statement differs",
        ),
        ("not json", "this is not a bundle".into(), "not valid JSON"),
        ("empty", String::new(), "not valid JSON"),
    ];
    for (name, body, reason) in cases {
        assert_ne!(body, text, "{name}: the edit must change something");
        let file = dir.join(format!("{}.json", name.replace(' ', "-")));
        std::fs::write(&file, body).unwrap();
        let r = verify_offline(&file, &key);
        assert_rejected(&r, reason);
    }
}

#[test]
fn bundle_checked_against_an_unpinned_key_fails() {
    let (tenant, run_id) = verified_run("o-unpinned");
    let dir = scratch("unpinned");
    let bundle = export_bundle(&dir, &tenant, &run_id);
    let other = dir.join("other.pem");
    let pem = runproof_proof::seal::verifying_key_to_pem(
        &runproof_proof::seal::signing_key_from_seed([5; 32]).verifying_key(),
    )
    .unwrap();
    std::fs::write(&other, pem).unwrap();
    assert_rejected(&verify_offline(&bundle, &other), "not trusted");
}

#[test]
fn verify_without_a_pinned_key_is_a_usage_error() {
    let dir = scratch("nokey");
    let file = dir.join("x.json");
    std::fs::write(&file, "{}").unwrap();
    let r: Run = Command::new(env!("CARGO_BIN_EXE_runtime"))
        .args(["verify"])
        .arg(&file)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--trusted-key"), "{}", r.stderr);
    let py = verifiers::python_verify(&file, &[]);
    assert_eq!(
        py.code, 2,
        "the second verifier: the same usage error: {py:?}"
    );
    assert!(py.stderr.contains("--trusted-key"), "{}", py.stderr);
    // A private key handed in as the trusted key is refused with a clear message.
    let private = dir.join("private.pem");
    let pem = runproof_proof::seal::signing_key_to_pem(
        &runproof_proof::seal::signing_key_from_seed([6; 32]),
    )
    .unwrap();
    std::fs::write(&private, pem.as_bytes()).unwrap();
    let r = verify_offline(&file, &private);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("PUBLIC KEY"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
}

#[test]
fn inclusion_proof_of_a_middle_step_verifies_offline_and_any_altered_byte_fails() {
    let (tenant, run_id) = verified_run("o-inclusion");
    let dir = scratch("inclusion");
    let key = export_public(&dir);
    let proof_file = dir.join("step3.json");
    runtime(&[
        "proof",
        "inclusion",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--step",
        "3",
        "-o",
        proof_file.to_str().unwrap(),
    ])
    .ok();
    let r = verify_offline(&proof_file, &key);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["verification_status"], "VERIFIED");
    assert_eq!(v["step_index"], 3);
    let (_, listed) = proof(&run_id, &tenant);
    assert_eq!(
        v["step"]["kind"], listed["aos_trace_steps"][3]["kind"],
        "{v}"
    );
    assert!(
        v["step"]["kind"].as_str().unwrap().starts_with("host."),
        "a host call in the middle: {v}"
    );
    assert_eq!(v["signed_head"]["run_id"], run_id.as_str());

    // Every 97th byte flipped (the in-process test in runtime/proof flips every byte).
    let bytes = std::fs::read(&proof_file).unwrap();
    let mut checked = 0;
    for i in (0..bytes.len()).step_by(97) {
        let mut altered = bytes.clone();
        altered[i] ^= 0x01;
        if altered[i].is_ascii_whitespace() && bytes[i].is_ascii_whitespace() {
            continue;
        }
        let file = dir.join("altered.json");
        std::fs::write(&file, &altered).unwrap();
        let r = verify_offline(&file, &key);
        assert_eq!(r.code, 4, "byte {i} altered still verified: {r:?}");
        checked += 1;
    }
    assert!(checked > 5);

    // A step that does not exist is a clear error.
    let r = runtime(&[
        "proof",
        "inclusion",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--step",
        "999",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("step 999 is not in run"), "{}", r.stderr);
}

#[test]
fn keys_generate_refuses_to_overwrite_and_rotation_keeps_old_proofs_checkable() {
    let dir = scratch("keys");
    let path = dir.join("signing.pem");
    let p = path.to_str().unwrap();
    let first = runtime(&["--json", "keys", "generate", "--out", p])
        .ok()
        .json();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = runtime(&["keys", "generate", "--out", p]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("--rotate"), "{}", again.stderr);

    // A run signed with this key, then the key rotated: the old proof still verifies with
    // the old public key (exported from the retired key file this runtime holds, never from
    // the database), and not with the new one.
    let server = Server::start();
    let tenant = tenant("o-rotate");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let run = runtime(&[
        "--json",
        "-q",
        "--signing-key",
        p,
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch {}", server.url("/ok")),
    ])
    .ok()
    .json();
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(run["signing_key_id"], first["key_id"]);
    let rotated = runtime(&["--json", "keys", "generate", "--out", p, "--rotate"])
        .ok()
        .json();
    assert_ne!(rotated["key_id"], first["key_id"]);
    assert_eq!(rotated["retired"]["key_id"], first["key_id"]);
    let old_pub = dir.join("old.pub");
    runtime(&[
        "--signing-key",
        p,
        "keys",
        "export-public",
        "--key-id",
        first["key_id"].as_str().unwrap(),
        "-o",
        old_pub.to_str().unwrap(),
    ])
    .ok();
    let new_pub = dir.join("new.pub");
    runtime(&[
        "--signing-key",
        p,
        "keys",
        "export-public",
        "-o",
        new_pub.to_str().unwrap(),
    ])
    .ok();
    let r = runtime(&[
        "--json",
        "proof",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
        "--trusted-key",
        old_pub.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = runtime(&[
        "--json",
        "proof",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
        "--trusted-key",
        new_pub.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 4, "the new key did not sign this run: {r:?}");
    // The operator's own default trust is every key file the runtime holds, retired ones
    // included (never a key from the database).
    let r = runtime(&[
        "--signing-key",
        p,
        "proof",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("and 1 retired key(s) held locally"),
        "{}",
        r.stdout
    );

    let listed = runtime(&["--json", "keys", "list"]).ok().json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["key_id"] == first["key_id"] && k["traces_signed"] == 1)
    );
    // One keyring with both keys: pinned once, it checks runs from before and after.
    let ring = dir.join("ring.pub");
    let exported = runtime(&[
        "--json",
        "--signing-key",
        p,
        "keys",
        "export-public",
        "--all",
        "-o",
        ring.to_str().unwrap(),
    ])
    .ok()
    .json();
    assert_eq!(
        exported["key_ids"].as_array().unwrap().len(),
        2,
        "{exported}"
    );
    let r = runtime(&[
        "proof",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
        "--trusted-key",
        ring.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_new_home_stays_reachable_for_postgres_when_the_key_is_created_first() {
    // `runtime run` creates the signing key before the database: the key's directory is
    // private, but RUNPROOF_HOME must stay reachable for the `postgres` user.
    let parent = scratch("fresh-home");
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = parent.join("home-not-created-yet");
    let rt = |args: &[&str]| -> Run {
        Command::new(env!("CARGO_BIN_EXE_runtime"))
            .env("RUNPROOF_HOME", &home)
            .env_remove("DATABASE_URL")
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let r = rt(&["--json", "keys", "generate"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home.join("keys")), 0o700);
    assert_ne!(mode(&home) & 0o001, 0, "RUNPROOF_HOME stays traversable");
    let r = rt(&["--json", "agent", "list"]);
    assert_eq!(
        r.code, 0,
        "the built-in database starts under the same home: {r:?}"
    );
    rt(&["db", "stop"]).ok();
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn a_signing_key_readable_by_others_is_refused() {
    let dir = scratch("keymode");
    let path = dir.join("loose.pem");
    runtime(&["keys", "generate", "--out", path.to_str().unwrap()]).ok();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = runtime(&[
        "--signing-key",
        path.to_str().unwrap(),
        "keys",
        "export-public",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
    // A named key that does not exist is an error, not a surprise new key.
    let missing = dir.join("missing.pem");
    let r = runtime(&[
        "--signing-key",
        missing.to_str().unwrap(),
        "run",
        "--agent-id",
        "x",
        "--tenant-id",
        "t",
        "--origin-system-id",
        "o",
        "--goal",
        "g",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(!missing.exists());
}

#[test]
fn report_holds_the_environment_the_sql_evidence_the_verdict_and_the_signed_head() {
    let (tenant, run_id) = verified_run("o-report");
    let dir = scratch("report");
    let report = dir.join("report.md");
    runtime(&[
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--report",
        report.to_str().unwrap(),
    ])
    .ok();
    let md = std::fs::read_to_string(&report).unwrap();
    for needle in [
        "## Environment",
        "PostgreSQL 15",
        "**Verification status:** VERIFIED",
        "**origin_system_id default removed:** yes",
        "FROM aos_traces\nWHERE run_id = '",
        "SELECT COUNT(*) AS step_count",
        "https://in-toto.io/Statement/v1",
        "\"payloadType\":\"application/vnd.in-toto+json\"",
        &run_id,
    ] {
        assert!(md.contains(needle), "report lacks {needle:?}:\n{md}");
    }
}
