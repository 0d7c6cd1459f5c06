//! A run that dies mid-request keeps its evidence: the request's intent was durable before
//! the request left, the next command fails the run with the reason, and its proof is not
//! VERIFIED but says how much of the trace is intact (`verified_prefix`). Three ways to die:
//! kill -9 of `runtime run`, SIGTERM, and Postgres stopped with `pg_ctl stop -m immediate`.

mod support;

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::http::Server;
use support::*;

/// Every stored step of `run_id` as (kind, body), in order, through the database at `url`.
async fn stored_steps(url: &str, run_id: &str) -> Vec<(String, Value)> {
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect as superuser");
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kind, payload FROM aos_trace_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(&db)
    .await
    .unwrap();
    db.close().await;
    rows.into_iter()
        .map(|(kind, p)| {
            let v: Value = serde_json::from_slice(&p).unwrap();
            (kind, v["body"].clone())
        })
        .collect()
}

/// What every crash must leave: the run failed with `reason`, its proof FAILED with at
/// least run.start intact, and the in-flight request's intent stored (its result not).
async fn assert_crash_evidence(
    url: &str,
    proof: (i32, Value),
    run: &Value,
    reason: &str,
    slow_url: &str,
) {
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error_message"].as_str().unwrap_or_default();
    assert!(error.contains(reason), "{error}");
    let (code, p) = proof;
    assert_eq!(code, 4, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "FAILED", "{p}");
    let prefix = p["integrity"]["verified_prefix"].as_u64().unwrap();
    assert!(prefix >= 1, "{p}");
    let why = p["integrity"]["failure_reason"].as_str().unwrap();
    assert!(why.contains("is not sealed"), "{why}");
    assert!(why.contains(&format!("verified_prefix {prefix}")), "{why}");
    assert!(
        p["run_status"].is_null(),
        "no signed status beside FAILED: {p}"
    );

    let steps = stored_steps(url, run["run_id"].as_str().unwrap()).await;
    assert_eq!(steps[0].0, "run.start");
    let intent = steps
        .iter()
        .find(|(kind, _)| kind == "host.intent")
        .unwrap_or_else(|| panic!("the in-flight request's intent is stored: {steps:?}"));
    assert_eq!(intent.1["interface"], "runproof:skill/http");
    assert_eq!(intent.1["request"]["url"], slow_url);
    assert!(
        !steps.iter().any(|(kind, _)| kind == "host.http"),
        "the request never finished, so no result step: {steps:?}"
    );
    // Every stored step is part of the intact prefix: nothing was half-written.
    assert_eq!(prefix as usize, steps.len(), "{p}");
}

#[tokio::test]
async fn kill_9_mid_request_leaves_the_intent_and_the_next_command_fails_the_run() {
    let server = Server::start();
    let tenant = tenant("crash-kill");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = signalled_run(
        &server,
        &tenant,
        &agent_id,
        libc::SIGKILL,
        &[("RUNPROOF_LEASE_TTL", "1s")],
    );
    assert_eq!(r.code, -1, "killed: {r:?}");
    std::thread::sleep(Duration::from_millis(1500));
    // The next command (any) recovers the run.
    let run = only_run_of(&tenant);
    let url = runtime(&["db", "url"]).ok().stdout.trim().to_string();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    assert_crash_evidence(
        &url,
        proof(&run_id, &tenant),
        &run,
        "runner lost (runner/",
        &server.url("/slow"),
    )
    .await;
}

#[tokio::test]
async fn sigterm_mid_request_leaves_the_intent_and_fails_the_run() {
    let server = Server::start();
    let tenant = tenant("crash-term");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = signalled_run(&server, &tenant, &agent_id, libc::SIGTERM, &[]);
    assert_eq!(r.code, 143, "{r:?}");
    let run = only_run_of(&tenant);
    let url = runtime(&["db", "url"]).ok().stdout.trim().to_string();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    assert_crash_evidence(
        &url,
        proof(&run_id, &tenant),
        &run,
        "SIGTERM",
        &server.url("/slow"),
    )
    .await;
}

/// Postgres killed hard while the request is in flight (its own cluster, so no other test
/// loses its database): the intent was committed synchronously before the request left,
/// so crash recovery keeps it, with everything before it.
#[tokio::test]
async fn postgres_stopped_immediately_mid_request_keeps_the_intent() {
    let home = format!("{}-pgcrash", home().display());
    // Stops this test's own cluster however the test ends.
    struct StopOnDrop(String);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            let _ = runtime_cmd()
                .env("RUNPROOF_HOME", &self.0)
                .args(["db", "stop"])
                .output();
        }
    }
    let _stop = StopOnDrop(home.clone());
    let rt = |args: &[&str]| -> Run {
        runtime_cmd()
            .env("RUNPROOF_HOME", &home)
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let server = Server::start();
    let tenant = tenant("crash-pg");
    let agent_id = rt(&[
        "--json",
        "agent",
        "create",
        "--name",
        "pgcrash",
        "--tenant-id",
        &tenant,
        "--allow-host",
        "http://127.0.0.1:*",
    ])
    .ok()
    .json()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let child = runtime_cmd()
        .env("RUNPROOF_HOME", &home)
        .env("RUNPROOF_LEASE_TTL", "1s")
        .args(["--json", "-q", "run", "--agent-id", &agent_id])
        .args([
            "--tenant-id",
            &tenant,
            "--origin-system-id",
            "e2e",
            "--goal",
        ])
        .arg(format!("wait for {}", server.url("/slow")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runtime starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.hits() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.hits(), 1, "the request is in flight");
    pg_ctl_stop_immediate(&home);
    let out = child.wait_with_output().expect("runtime exits");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code != 0 && code != 3,
        "a run whose database died is not reported finished (exit {code})"
    );
    std::thread::sleep(Duration::from_millis(1200));

    // The next command starts Postgres again (crash recovery), then fails the lost run.
    let runs = rt(&["--json", "runs", "list", "--tenant-id", &tenant])
        .ok()
        .json();
    let run = runs.as_array().unwrap()[0].clone();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let url = rt(&["db", "url"]).ok().stdout.trim().to_string();
    let p = rt(&[
        "--json",
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
    ]);
    let p = (p.code, p.json());
    assert_crash_evidence(&url, p, &run, "runner lost (runner/", &server.url("/slow")).await;
}

/// `pg_ctl stop -m immediate` on the cluster under `home`, as its owner: what a crash of the
/// database server looks like (no checkpoint, no clean shutdown; recovery replays the WAL).
fn pg_ctl_stop_immediate(home: &str) {
    let data = format!("{home}/postgres/data");
    let pg_ctl = pg_ctl_path();
    // SAFETY: geteuid has no preconditions and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    // Postgres tools refuse to run as root: run pg_ctl as the cluster's owner.
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(&pg_ctl);
        c
    } else {
        Command::new(&pg_ctl)
    };
    let status = cmd
        .args(["stop", "-m", "immediate", "-w", "-D", &data])
        .status()
        .expect("pg_ctl runs");
    assert!(status.success(), "pg_ctl stop -m immediate failed");
}

fn pg_ctl_path() -> String {
    for dir in ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"] {
        let p = format!("{dir}/pg_ctl");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    "pg_ctl".into()
}

/// Steps without side effects are batched, but never held back: a skill that logs and then
/// computes for seconds without another host call has its steps in Postgres while the run
/// is still going (so a crash then loses at most the last moments, not the whole run).
#[tokio::test]
async fn batched_steps_reach_postgres_while_the_skill_still_computes() {
    add_test_skill("hostile");
    let tenant = tenant("crash-held");
    let agent_id = agent_with(&tenant, &["--timeout", "4s"]);
    let plan = serde_json::json!({"planner": "e2e", "steps": [
        {"step_id": "say", "skill": "hostile", "params": {"action": "log", "arg": "before the loop"}},
        {"step_id": "spin", "skill": "hostile", "params": {"action": "loop", "arg": ""}},
    ]});
    let file = tempfile(&plan.to_string());
    let child = runtime_cmd()
        .args([
            "--json",
            "-q",
            "run",
            "--agent-id",
            &agent_id,
            "--tenant-id",
            &tenant,
        ])
        .args(["--origin-system-id", "e2e", "--goal", "held", "--plan"])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("runtime starts");
    let db = superuser().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (stored, status) = loop {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT r.status, (SELECT count(*) FROM aos_trace_steps s WHERE s.run_id = r.id)
             FROM runs r WHERE r.tenant_id = $1",
        )
        .bind(&tenant)
        .fetch_optional(&db)
        .await
        .unwrap();
        match row {
            // run.start, skill.start, host.log, skill.end, skill.start of the loop.
            Some((status, n)) if n >= 5 => break (n, status),
            _ if Instant::now() > deadline => panic!("no steps stored mid-run: {row:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(
        status, "running",
        "stored while the skill computed ({stored} steps)"
    );
    let log: Vec<(String,)> = sqlx::query_as(
        "SELECT kind FROM aos_trace_steps s JOIN runs r ON r.id = s.run_id
         WHERE r.tenant_id = $1 AND s.kind = 'host.log'",
    )
    .bind(&tenant)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(log.len(), 1);
    db.close().await;
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, 3, "the loop hits its deadline: {r:?}");
}
