//! The background trace writer: thousands of steps reach Postgres complete and in order,
//! and a database lost in the middle of a run leaves the trace unsealed, never VERIFIED.
//! (How fast it writes is `runtime bench`'s business, not a test's.)

mod support;

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::*;

/// A plan of `bench` steps (the built-in skill that makes `calls` log host calls).
fn bench_plan(steps: usize, calls: u32) -> serde_json::Value {
    let steps: Vec<_> = (0..steps)
        .map(|i| json!({"step_id": format!("b{i}"), "skill": "bench", "params": {"calls": calls}}))
        .collect();
    json!({"planner": "e2e", "steps": steps})
}

#[tokio::test]
async fn thousands_of_steps_are_durable_in_order_and_verify() {
    let tenant = tenant("writer");
    let agent_id = agent(&tenant, &[]);
    let (steps, calls) = (3usize, 3000u32);
    let r = run_plan(&agent_id, &tenant, &bench_plan(steps, calls)).ok();
    let report = r.json();
    let run_id = report["run_id"].as_str().unwrap();
    // run.start + (skill.start + the logs + skill.end) per step + run.end, plus whatever
    // clock or random reads the guest's std makes on its own (recorded too).
    let expected = report["chain_length"].as_i64().unwrap();
    assert!(
        expected >= 2 + steps as i64 * (calls as i64 + 2),
        "{report}"
    );

    let db = superuser().await;
    // Insertion order (id) is step_index order: the writer task kept the queue's order.
    let indexes: Vec<i64> =
        sqlx::query_scalar("SELECT step_index FROM aos_trace_steps WHERE run_id = $1 ORDER BY id")
            .bind(run_id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(indexes, (0..expected).collect::<Vec<_>>());
    // And the skill's calls are recorded in the order it made them.
    let messages: Vec<String> = sqlx::query_scalar(
        "SELECT convert_from(payload, 'UTF8')::jsonb #>> '{body,message}' FROM aos_trace_steps
         WHERE run_id = $1 AND kind = 'host.log' ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(&db)
    .await
    .unwrap();
    let want: Vec<String> = (0..steps)
        .flat_map(|_| (0..calls).map(|i| format!("bench {i}")))
        .collect();
    assert_eq!(messages, want);
    // Every column the writer fills (large batches by COPY, small ones by INSERT) says what
    // the hashed payload says, and the ids bound once per batch are this run's.
    let mismatched: i64 = sqlx::query_scalar(
        "WITH s AS (SELECT *, convert_from(payload, 'UTF8')::jsonb AS p FROM aos_trace_steps
                    WHERE run_id = $1)
         SELECT count(*) FROM s WHERE
             kind IS DISTINCT FROM p->>'kind' OR skill_name IS DISTINCT FROM p->>'skill'
             OR status IS DISTINCT FROM p->>'status'
             OR duration_ms IS DISTINCT FROM (p->>'duration_ms')::bigint
             OR tenant_id <> $2 OR cost_cents <> 0 OR length(prev_hash) <> 32 OR length(hash) <> 32",
    )
    .bind(run_id)
    .bind(&tenant)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        mismatched, 0,
        "rows whose columns differ from their payload"
    );
    let (traces, skills): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT trace_id), count(*) FILTER (WHERE skill_name = 'bench')
         FROM aos_trace_steps WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(traces, 1);
    assert!(skills >= steps as i64 * calls as i64, "{skills}");

    let (code, p) = proof(run_id, &tenant);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED");
    assert_eq!(p["integrity"]["chain_length"], expected);
}

/// The database goes away while a long run is writing its steps: the run must not report
/// success, and once the database is back the trace is unsealed and does not verify.
/// Uses its own RUNPROOF_HOME (its own cluster) so stopping it disturbs no other test.
#[test]
fn a_database_lost_mid_run_leaves_the_trace_unsealed() {
    let home = format!("{}-dbloss", home().display());
    let rt = |args: &[&str]| -> Run {
        runtime_cmd()
            .env("RUNPROOF_HOME", &home)
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let tenant = tenant("dbloss");
    let agent_id = rt(&[
        "--json",
        "agent",
        "create",
        "--name",
        "dbloss",
        "--tenant-id",
        &tenant,
    ])
    .ok()
    .json()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Long enough (100 000 host calls) that the stop lands while steps are still written.
    let plan = tempfile(&bench_plan(10, 10_000).to_string());
    let mut child = runtime_cmd()
        .env("RUNPROOF_HOME", &home)
        .args([
            "--json",
            "run",
            "--agent-id",
            &agent_id,
            "--tenant-id",
            &tenant,
            "--origin-system-id",
            "e2e",
            "--goal",
            "dbloss",
        ])
        .arg("--plan")
        .arg(&plan)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut run_id = None;
    while stderr.read_line(&mut line).unwrap() > 0 {
        // "run <id> started (...)", then the first plan step's progress: the run is writing.
        if let Some(rest) = line.strip_prefix("run ") {
            run_id = rest.split_whitespace().next().map(str::to_string);
        }
        if line.contains("[1/10]") {
            break;
        }
        line.clear();
    }
    let run_id = run_id.expect("the run started");
    rt(&["db", "stop"]).ok();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code != 0 && code != 3,
        "the run must not be reported finished (exit {code}): {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The next command starts the database again; the trace never verifies.
    let r = rt(&[
        "--json",
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
    ]);
    assert_eq!(r.code, 4, "{r:?}");
    let p = r.json();
    assert_ne!(p["integrity"]["verification_status"], "VERIFIED");
    assert!(p["aos_traces"][0]["sealed_at"].is_null(), "{p}");
    rt(&["db", "stop"]).ok();
}
