//! `runtime skill add` validates before storing: each refusal is one line naming the
//! problem, exits 1, and stores nothing.

mod support;

use support::*;

/// Rows in `skills` (nothing may be stored by a refused add).
async fn skill_rows() -> i64 {
    let db = superuser().await;
    let n = sqlx::query_scalar("SELECT count(*) FROM skills")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    n
}

/// Tests in this file add skills; counting rows is only meaningful one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Adds `file`; asserts a one-line refusal containing `expected` and nothing stored.
async fn refused(file: &std::path::Path, expected: &str) {
    let _one_at_a_time = SERIAL.lock().await;
    // The probe adds first so the table exists and the count is meaningful.
    add_test_skill("probe");
    let before = skill_rows().await;
    let r = runtime(&["skill", "add", file.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    let line = r.stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.contains(expected), "{line:?} should say {expected:?}");
    assert_eq!(skill_rows().await, before, "nothing stored");
}

fn scratch_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-skill-add");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn not_wasm_is_refused() {
    refused(
        &scratch_file("not.wasm", b"#!/bin/sh\necho hi\n"),
        "is not WebAssembly",
    )
    .await;
}

#[tokio::test]
async fn core_module_is_refused() {
    // The smallest valid core module: magic and version 1, no sections.
    refused(
        &scratch_file("core.wasm", b"\0asm\x01\0\0\0"),
        "core wasm module, not a component",
    )
    .await;
}

#[tokio::test]
async fn wrong_world_is_refused() {
    refused(
        &test_skill_path("wrong_world"),
        "does not export `describe`",
    )
    .await;
}

#[tokio::test]
async fn forbidden_import_is_refused_by_name() {
    refused(
        &test_skill_path("forbidden_import"),
        "imports `wasi:http/outgoing-handler@0.3.0`",
    )
    .await;
}

#[tokio::test]
async fn oversize_is_refused_before_reading() {
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize((32 << 20) + 1, 0);
    refused(&scratch_file("big.wasm", &big), "over the 32 MiB limit").await;
}

#[tokio::test]
async fn duplicate_name_with_other_bytes_needs_replace() {
    let original = add_test_skill("hostile");
    // Same component plus a custom section (id 0, name "e2e", one payload byte): other
    // bytes, same behaviour, same `describe` name.
    let mut other = std::fs::read(&original).unwrap();
    let unique = (std::process::id() % 251) as u8;
    other.extend_from_slice(&[0x00, 0x05, 0x03, b'e', b'2', b'e', unique]);
    let file = scratch_file(&format!("hostile-{unique}.wasm"), &other);
    refused(
        &file,
        "a different component named \"hostile\" is already added",
    )
    .await;
    let _one_at_a_time = SERIAL.lock().await;
    // With --replace it is added, and becomes current.
    let r = runtime(&[
        "--json",
        "skill",
        "add",
        "--replace",
        file.to_str().unwrap(),
    ])
    .ok();
    let digest = r.json()["digest"].as_str().unwrap().to_string();
    let shown = runtime(&["--json", "skill", "inspect", "hostile"])
        .ok()
        .json();
    assert_eq!(shown["digest"], digest);
    assert!(
        shown["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("runproof:skill/log"))
    );
    assert_eq!(shown["exports"], serde_json::json!(["describe", "invoke"]));
    // Put the fixture back for the other tests.
    add_test_skill("hostile");
}

#[tokio::test]
async fn inspect_shows_the_effective_grant() {
    add_test_skill("hostile");
    let tenant = tenant("inspect");
    let agent_id = agent_with(
        &tenant,
        &[
            "--max-memory",
            "48MiB",
            "--timeout",
            "5s",
            "--fuel",
            "1000",
            "--scratch-dir",
        ],
    );
    let v = runtime(&[
        "--json",
        "skill",
        "inspect",
        "http_call",
        "--agent-id",
        &agent_id,
    ])
    .ok()
    .json();
    assert_eq!(v["builtin"], true);
    assert_eq!(v["digest"].as_str().unwrap().len(), 64);
    let limits = &v["effective"]["limits"];
    assert_eq!(limits["max_memory_bytes"], 48 << 20);
    assert_eq!(limits["timeout_ms"], 5000);
    assert_eq!(limits["fuel"], 1000);
    assert_eq!(limits["scratch_dir"], true);
    // By digest too.
    let by_digest = runtime(&["--json", "skill", "inspect", v["digest"].as_str().unwrap()])
        .ok()
        .json();
    assert_eq!(by_digest["name"], "http_call");
    // A grant above the ceiling is refused at agent create.
    let r = runtime(&["agent", "create", "--name", "x", "--max-memory", "8GiB"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("above the runtime's ceiling of 1 GiB"),
        "{}",
        r.stderr
    );
    let r = runtime(&["agent", "create", "--name", "x", "--timeout", "30"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("needs a unit"), "{}", r.stderr);
}
