//! What the reviewer is shown is what happened: each `runs` and `aos_traces` column an
//! attacker with superuser SQL changes alone (one UPDATE, triggers off) makes the proof
//! FAILED, naming the column and both values; nothing is printed beside a verdict as if it
//! were checked; and step rows copied under the same `run_id` into another trace change no
//! count. Runs come from `runtime run`; only the attack is SQL.

mod support;

use serde_json::Value;
use support::http::{Server, closed_port};
use support::*;

/// A sealed, signed run that ended `failed` (its GET was refused), checked VERIFIED.
fn verified_failed_run(name: &str) -> (String, String) {
    let tenant = tenant(name);
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch http://127.0.0.1:{}/", closed_port()),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!((code, p["run_status"].as_str()), (0, Some("failed")), "{p}");
    (tenant, run_id)
}

/// The check of `field` in a proof (or `runs show`) JSON.
fn check<'a>(p: &'a Value, field: &str) -> &'a Value {
    p["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no check for {field}: {p}"))
}

/// Changes one column with superuser SQL and requires every display to say FAILED, naming
/// the column, with the stored and the signed value.
async fn assert_column_attack(tenant: &str, run_id: &str, table: &str, set: &str, field: &str) {
    let db = superuser().await;
    let key = if table == "runs" { "id" } else { "run_id" };
    tamper(
        &db,
        &format!("UPDATE {table} SET {set} WHERE {key} = '{run_id}'"),
    )
    .await;
    db.close().await;

    let (code, p) = proof(run_id, tenant);
    assert_eq!(code, 4, "{field}: {p}");
    assert_eq!(p["integrity"]["verification_status"], "FAILED", "{field}");
    let reason = p["integrity"]["failure_reason"].as_str().unwrap();
    assert!(reason.starts_with(field), "{field}: {reason}");
    assert!(reason.contains(" says "), "{reason}");
    assert!(reason.contains("; the signed head says "), "{reason}");
    assert_eq!(check(&p, field)["coverage"], "mismatch", "{field}");
    assert!(
        !check(&p, field)["signed"].is_null(),
        "{field}: the signed value is shown"
    );
    assert!(p["run_status"].is_null(), "no signed status beside FAILED");
    assert!(p["integrity"]["signed_by"].is_null());

    // The text form: no VERIFIED, no signed status, the reason.
    let text = runtime(&["proof", "--run-id", run_id, "--tenant-id", tenant]);
    assert_eq!(text.code, 4);
    assert!(
        text.stdout.contains("verification_status: FAILED"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("VERIFIED"), "{}", text.stdout);
    assert!(!text.stdout.contains("(signed)"), "{}", text.stdout);
    assert!(text.stdout.contains(field), "{}", text.stdout);

    // runs show: the verdict, and the column marked as differing from the signed head.
    let shown = runtime(&[
        "--json",
        "runs",
        "show",
        "--run-id",
        run_id,
        "--tenant-id",
        tenant,
    ])
    .ok()
    .json();
    assert_eq!(shown["verification_status"], "FAILED");
    assert_eq!(check(&shown, field)["coverage"], "mismatch");
    let shown_text = runtime(&["runs", "show", "--run-id", run_id, "--tenant-id", tenant])
        .ok()
        .stdout;
    assert!(shown_text.contains("MISMATCH"), "{shown_text}");
}

#[tokio::test]
async fn runs_status_rewritten_to_succeeded_is_failed_and_the_report_never_says_succeeded() {
    let (tenant, run_id) = verified_failed_run("b-status");
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        "status = 'succeeded', error_message = error_message",
        "runs.status",
    )
    .await;
    let (_, p) = proof(&run_id, &tenant);
    let reason = p["integrity"]["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("runs.status says \"succeeded\"; the signed head says \"failed\""),
        "{reason}"
    );
    let report = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{run_id}.md"));
    let r = runtime(&[
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 4);
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("**Verdict: FAILED**"), "{md}");
    assert!(!md.contains("status:** VERIFIED"), "{md}");
    assert!(!md.contains("verification_status: VERIFIED"), "{md}");
    assert!(!md.contains("**Run status:** succeeded"), "{md}");
    assert!(
        md.contains("| `runs.status` | succeeded | mismatch (signed: failed) |"),
        "{md}"
    );
}

#[tokio::test]
async fn runs_goal_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-goal", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        "goal = 'a harmless goal'",
        "runs.goal",
    )
    .await;
}

#[tokio::test]
async fn runs_plan_json_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-plan", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        "plan_json = replace(plan_json, 'http_call', 'http_call ')",
        "runs.plan_json",
    )
    .await;
}

#[tokio::test]
async fn runs_origin_system_id_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-origin", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        "origin_system_id = 'trusted-system'",
        "runs.origin_system_id",
    )
    .await;
}

#[tokio::test]
async fn runs_agent_id_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-agent", "HASH_CHAIN");
    let other = agent(&tenant, &[]);
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        &format!("agent_id = '{other}'"),
        "runs.agent_id",
    )
    .await;
}

#[tokio::test]
async fn runs_error_message_changed_alone_is_failed() {
    let (tenant, run_id) = verified_failed_run("b-error");
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        "error_message = NULL",
        "runs.error_message",
    )
    .await;
}

#[tokio::test]
async fn runs_duration_ms_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-duration", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "runs",
        "duration_ms = duration_ms + 1",
        "runs.duration_ms",
    )
    .await;
}

#[tokio::test]
async fn runs_times_changed_alone_are_failed() {
    for (i, column) in ["created_at", "started_at", "completed_at"]
        .iter()
        .enumerate()
    {
        let (tenant, run_id) = verified_http_run(&format!("b-time{i}"), "HASH_CHAIN");
        assert_column_attack(
            &tenant,
            &run_id,
            "runs",
            &format!("{column} = {column} - interval '1 hour'"),
            &format!("runs.{column}"),
        )
        .await;
    }
}

#[tokio::test]
async fn aos_traces_started_at_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-tstart", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "aos_traces",
        "started_at = started_at - interval '1 day'",
        "aos_traces.started_at",
    )
    .await;
}

#[tokio::test]
async fn aos_traces_completed_at_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-tdone", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "aos_traces",
        "completed_at = completed_at + interval '1 second'",
        "aos_traces.completed_at",
    )
    .await;
}

#[tokio::test]
async fn aos_traces_sealed_at_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-tsealed", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "aos_traces",
        "sealed_at = sealed_at + interval '1 minute'",
        "aos_traces.sealed_at",
    )
    .await;
}

#[tokio::test]
async fn aos_traces_merkle_root_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-tmerkle", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "aos_traces",
        "merkle_root = set_byte(merkle_root, 0, get_byte(merkle_root, 0) # 1)",
        "aos_traces.merkle_root",
    )
    .await;
}

#[tokio::test]
async fn aos_traces_signing_key_id_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-tkey", "HASH_CHAIN");
    assert_column_attack(
        &tenant,
        &run_id,
        "aos_traces",
        &format!("signing_key_id = '{}'", "ab".repeat(32)),
        "aos_traces.signing_key_id",
    )
    .await;
}

#[tokio::test]
async fn aos_traces_agent_id_changed_alone_is_failed() {
    let (tenant, run_id) = verified_http_run("b-tagent", "HASH_CHAIN");
    let other = agent(&tenant, &[]);
    assert_column_attack(
        &tenant,
        &run_id,
        "aos_traces",
        &format!("agent_id = '{other}'"),
        "aos_traces.agent_id",
    )
    .await;
}

#[tokio::test]
async fn step_rows_copied_into_another_trace_under_the_same_run_id_change_no_count() {
    let (tenant, run_id) = verified_http_run("b-copy", "HASH_CHAIN");
    let (_, before) = proof(&run_id, &tenant);
    let report = |name: &str| {
        let path =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{run_id}-{name}.md"));
        runtime(&[
            "proof",
            "--run-id",
            &run_id,
            "--tenant-id",
            &tenant,
            "--report",
            path.to_str().unwrap(),
        ])
        .ok();
        std::fs::read_to_string(path).unwrap()
    };
    let report_before = report("before");

    // Another run's trace receives copies of this run's steps, still labelled with this
    // run's id (indexes moved so the unique key holds).
    let server = Server::start();
    let other_agent = agent(&tenant, &["http://127.0.0.1:*"]);
    let other = runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &other_agent,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch {}", server.url("/ok")),
    ])
    .ok()
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let db = superuser().await;
    tamper(&db, &format!(
        "INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, cost_cents, payload, prev_hash, hash)
         SELECT (SELECT trace_id FROM aos_traces WHERE run_id = '{other}'), run_id, tenant_id, step_index + 1000, kind, skill_name, status, duration_ms, cost_cents, payload, prev_hash, hash
         FROM aos_trace_steps WHERE run_id = '{run_id}'"
    )).await;
    let by_run: i64 = sqlx::query_scalar("SELECT count(*) FROM aos_trace_steps WHERE run_id = $1")
        .bind(&run_id)
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    let chain_length = before["integrity"]["chain_length"].as_i64().unwrap();
    assert_eq!(
        by_run,
        2 * chain_length,
        "the rows are there, under this run's id"
    );

    let (code, after) = proof(&run_id, &tenant);
    assert_eq!(code, 0, "this run's own trace is untouched: {after}");
    for pointer in [
        "/integrity/chain_length",
        "/integrity/verified_prefix",
        "/aos_traces/0/step_count",
    ] {
        assert_eq!(after.pointer(pointer), before.pointer(pointer), "{pointer}");
    }
    assert_eq!(
        after["aos_trace_steps"].as_array().unwrap().len(),
        before["aos_trace_steps"].as_array().unwrap().len()
    );
    // The report counts per trace too: the same numbers, before and after.
    let count_lines = |md: &str| -> Vec<String> {
        md.lines()
            .filter(|l| l.contains("step_count"))
            .map(str::to_owned)
            .collect()
    };
    let report_after = report("after");
    assert_eq!(count_lines(&report_after), count_lines(&report_before));
    for md in [&report_before, &report_after] {
        assert!(
            md.contains(&format!("**Trace step_count:** {chain_length} ")),
            "{md}"
        );
        assert!(
            md.contains(&format!("| step_count |\n|---|\n| {chain_length} |")),
            "{md}"
        );
    }
    let shown = runtime(&["runs", "show", "--run-id", &run_id, "--tenant-id", &tenant])
        .ok()
        .stdout;
    assert!(shown.contains(&format!("steps={chain_length} ")), "{shown}");
    // The trace the rows were pushed into is the one that no longer verifies.
    let (code, p) = proof(&other, &tenant);
    assert_eq!(code, 4, "{p}");
}

#[tokio::test]
async fn a_verified_run_shows_nothing_unmarked() {
    let (tenant, run_id) = verified_http_run("b-marks", "HASH_CHAIN");
    let (_, p) = proof(&run_id, &tenant);
    assert_eq!(p["head_version"], "v2");
    assert_eq!(p["run_status"], "succeeded");
    for c in p["checks"].as_array().unwrap() {
        let coverage = c["coverage"].as_str().unwrap();
        assert!(coverage == "bound" || coverage == "not_bound", "{c}");
        if coverage == "not_bound" {
            assert!(c["note"].is_string(), "a reason is given: {c}");
        }
    }
    for bound in [
        "runs.status",
        "runs.goal",
        "runs.plan_json",
        "runs.origin_system_id",
        "runs.agent_id",
        "runs.error_message",
        "runs.duration_ms",
        "runs.created_at",
        "runs.started_at",
        "runs.completed_at",
        "aos_traces.started_at",
        "aos_traces.completed_at",
        "aos_traces.sealed_at",
        "aos_traces.merkle_root",
        "aos_traces.signing_key_id",
        "aos_traces.agent_id",
    ] {
        assert_eq!(check(&p, bound)["coverage"], "bound", "{bound}");
    }
    // runs show marks every value it prints.
    let shown = runtime(&["runs", "show", "--run-id", &run_id, "--tenant-id", &tenant])
        .ok()
        .stdout;
    for line in shown
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("trace "))
    {
        assert!(
            line.ends_with("[signed]") || line.ends_with("[not covered by the proof]"),
            "unmarked: {line:?}\n{shown}"
        );
    }
    assert!(shown.contains("attempts:"), "{shown}");
}
