//! Workers end to end: real `runtime worker` processes sharing the test database, runs
//! submitted through a real `runtime serve` (or `runtime run --detach`), a real loopback
//! server counting what the skills ask of it.

#[path = "support/service.rs"]
mod service;
mod support;

use serde_json::{Value, json};
use service::*;
use std::time::{Duration, Instant};
use support::http::Server;
use support::*;

const MIN: Duration = Duration::from_secs(60);

/// `runtime run --detach` from this suite.
fn detach(agent_id: &str, tenant: &str, plan: &Value, extra: &[&str]) -> String {
    service::detach(agent_id, tenant, "e2e-workers", plan, extra)
}

#[test]
fn two_workers_execute_500_runs_each_exactly_once_all_sealed_and_verified() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("w500");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let (tok, _) = token(&tenant);
    let api = serve(&[], &[]);
    let body = json!({"agent_id": agent_id, "goal": format!("fetch {}", target.url("/ok")), "origin_system_id": "e2e-w500"});
    let ids: Vec<String> = (0..500)
        .map(|_| {
            submit(&api, &tok, &body)["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let w1 = worker(&["--concurrency", "8"], &[]);
    let w2 = worker(&["--concurrency", "8"], &[]);
    let deadline = Instant::now() + Duration::from_secs(600);
    let db = tokio::runtime::Runtime::new().unwrap();
    let pool = db.block_on(superuser());
    loop {
        let open: i64 = db.block_on(
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE tenant_id = $1 AND status IN ('queued', 'running')")
                .bind(&tenant)
                .fetch_one(&pool),
        )
        .unwrap();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} runs still open");
        std::thread::sleep(Duration::from_millis(200));
    }
    w1.signal(libc::SIGTERM);
    w2.signal(libc::SIGTERM);
    let (c1, e1) = w1.wait(MIN);
    let (c2, e2) = w2.wait(MIN);
    assert_eq!((c1, c2), (Some(0), Some(0)), "{e1}\n{e2}");
    assert_eq!(target.hits(), 500, "each run asked the server exactly once");
    // One attempt, one sealed trace per run; both workers took part.
    let rows: Vec<(String, String, i32, String, i64, i64)> = db
        .block_on(
            sqlx::query_as(
                "SELECT r.id, r.status, r.attempts, r.lease_owner,
                        (SELECT count(*) FROM aos_traces t WHERE t.run_id = r.id),
                        (SELECT count(*) FROM aos_traces t WHERE t.run_id = r.id AND t.sealed_at IS NOT NULL)
                 FROM runs r WHERE r.tenant_id = $1",
            )
            .bind(&tenant)
            .fetch_all(&pool),
        )
        .unwrap();
    assert_eq!(rows.len(), 500);
    for (id, status, attempts, _, traces, sealed) in &rows {
        assert_eq!(
            (status.as_str(), *attempts, *traces, *sealed),
            ("succeeded", 1, 1, 1),
            "run {id}"
        );
    }
    let owners: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    for id in &ids {
        let p = get(
            &api.url(&format!("/v1/runs/{id}/proof?steps=false")),
            Some(&tok),
        )
        .json();
        assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
    }
}

#[test]
fn a_killed_workers_run_is_failed_as_worker_lost_and_never_run_again() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("wkill");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let ttl = [("RUNPROOF_LEASE_TTL", "2s")];
    let doomed = worker(&[], &ttl);
    let run_id = detach(
        &agent_id,
        &tenant,
        &get_plan(&target.url("/slow"), json!({})),
        &[],
    );
    let deadline = Instant::now() + MIN;
    while target.hits() == 0 {
        assert!(
            Instant::now() < deadline,
            "the run never reached the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivor = worker(&[], &ttl);
    doomed.signal(libc::SIGKILL);
    let killed = Instant::now();
    // Watched with plain SQL: a `runtime` command would recover the run itself (every
    // command does), and this test is about the surviving worker doing it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(superuser());
    let deadline = Instant::now() + MIN;
    while rt
        .block_on(
            sqlx::query_scalar::<_, String>("SELECT status FROM runs WHERE id = $1")
                .bind(&run_id)
                .fetch_one(&db),
        )
        .unwrap()
        == "running"
    {
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = killed.elapsed();
    let run = cli_run(&tenant, &run_id);
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error_message"].as_str().unwrap();
    assert!(error.starts_with("worker lost (worker/"), "{error}");
    assert!(error.contains("last heartbeat at 20"), "{error}");
    // The lease (2 s) plus one recovery period (a quarter lease) and some slack.
    assert!(
        took < Duration::from_millis(3500),
        "recovered after {took:?}"
    );
    assert_not_verified(&run_id, &tenant, "not sealed");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(target.hits(), 1, "never executed again");
    assert!(
        survivor
            .stderr()
            .contains(&format!("run {run_id} (tenant {tenant}): worker lost")),
        "{}",
        survivor.stderr()
    );
}

#[test]
fn a_plan_that_opts_in_gets_a_new_attempt_with_its_own_trace() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("wretry");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let ttl = [("RUNPROOF_LEASE_TTL", "2s")];
    let doomed = worker(&[], &ttl);
    let plan = get_plan(&target.url("/slow"), json!({"max_attempts": 2}));
    let run_id = detach(&agent_id, &tenant, &plan, &[]);
    while target.hits() == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    doomed.signal(libc::SIGKILL);
    let _survivor = worker(&[], &ttl);
    // `runs wait` follows the lost run to its new attempt, and that one succeeds.
    let waited = runtime(&[
        "--json",
        "-q",
        "runs",
        "wait",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--timeout",
        "60s",
    ]);
    assert_eq!(waited.code, 0, "{waited:?}");
    let attempt = waited.json();
    let attempt_id = attempt["run_id"].as_str().unwrap();
    assert_ne!(attempt_id, run_id);
    assert_eq!(attempt["parent_run_id"], run_id.as_str());
    assert_eq!(attempt["attempts"], 2);
    let lost = cli_run(&tenant, &run_id);
    assert_eq!(lost["status"], "failed");
    let error = lost["error_message"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "attempt 1 of 2, a new attempt is queued as run {attempt_id}"
        )),
        "{error}"
    );
    assert_not_verified(&run_id, &tenant, "not sealed");
    let (code, p) = proof(attempt_id, &tenant);
    assert_eq!(
        (code, &p["integrity"]["verification_status"]),
        (0, &json!("VERIFIED")),
        "{p}"
    );
    assert_ne!(
        p["aos_traces"][0]["trace_id"],
        proof(&run_id, &tenant).1["aos_traces"][0]["trace_id"]
    );
    assert_eq!(target.hits(), 2, "the first attempt, then the new one");
}

#[test]
fn sigterm_drains_runs_in_flight_and_interrupts_them_after_the_grace_period() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("wterm");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let plan = get_plan(&target.url("/slow"), json!({}));

    // Grace longer than the run: it finishes, sealed and VERIFIED; the worker exits 0.
    let w = worker(&["--grace", "30s"], &[]);
    let run_id = detach(&agent_id, &tenant, &plan, &[]);
    while target.hits() < 1 {
        std::thread::sleep(Duration::from_millis(20));
    }
    w.signal(libc::SIGTERM);
    // While draining it claims nothing new.
    let late = detach(
        &agent_id,
        &tenant,
        &get_plan(&target.url("/ok"), json!({})),
        &[],
    );
    let (code, err) = w.wait(MIN);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stopping: no new runs; 1 in flight"), "{err}");
    assert_eq!(cli_run(&tenant, &run_id)["status"], "succeeded");
    let (code, _) = proof(&run_id, &tenant);
    assert_eq!(code, 0);
    assert_eq!(cli_run(&tenant, &late)["status"], "queued");
    runtime(&["runs", "cancel", "--run-id", &late, "--tenant-id", &tenant]).ok();

    // Grace shorter than the run: stopped, recorded as interrupted, sealed and signed.
    let w = worker(&["--grace", "500ms"], &[]);
    let run_id = detach(&agent_id, &tenant, &plan, &[]);
    while target.hits() < 2 {
        std::thread::sleep(Duration::from_millis(20));
    }
    w.signal(libc::SIGTERM);
    let (code, err) = w.wait(MIN);
    assert_eq!(code, Some(0), "{err}");
    let run = cli_run(&tenant, &run_id);
    assert_eq!(run["status"], "failed");
    let error = run["error_message"].as_str().unwrap();
    assert!(
        error.starts_with("interrupted: the worker was stopped (SIGTERM)"),
        "{error}"
    );
    // A complete record of an interrupted run: sealed, and its proof verifies it.
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(
        (code, &p["integrity"]["verification_status"]),
        (0, &json!("VERIFIED")),
        "{p}"
    );
    assert_eq!(p["run_status"], "failed");
    let steps = step_bodies_sync(&run_id);
    let end = steps.iter().find(|(k, _, _)| k == "skill.end").unwrap();
    assert_eq!(end.2["outcome"], "aborted");
}

fn step_bodies_sync(run_id: &str) -> Vec<(String, String, Value)> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(step_bodies(run_id))
}

#[test]
fn cancel_stops_a_queued_run_before_it_starts_and_a_running_one_with_a_seal() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("wcancel");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let queued = detach(
        &agent_id,
        &tenant,
        &get_plan(&target.url("/ok"), json!({})),
        &[],
    );
    let c = runtime(&[
        "--json",
        "runs",
        "cancel",
        "--run-id",
        &queued,
        "--tenant-id",
        &tenant,
    ])
    .ok();
    assert_eq!(c.json()["outcome"], "cancelled");
    let w = worker(&[], &[("RUNPROOF_LEASE_TTL", "900ms")]);
    let running = detach(
        &agent_id,
        &tenant,
        &get_plan(&target.url("/slow"), json!({})),
        &[],
    );
    while target.hits() < 1 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let c = runtime(&[
        "--json",
        "runs",
        "cancel",
        "--run-id",
        &running,
        "--tenant-id",
        &tenant,
    ])
    .ok();
    assert_eq!(c.json()["outcome"], "requested");
    let run = until(&tenant, &running, MIN, |r| r["status"] != "running");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the slow request was cut short"
    );
    assert_eq!(run["status"], "failed");
    assert!(
        run["error_message"]
            .as_str()
            .unwrap()
            .starts_with("cancelled"),
        "{run}"
    );
    let (code, p) = proof(&running, &tenant);
    assert_eq!(
        (code, &p["integrity"]["verification_status"]),
        (0, &json!("VERIFIED")),
        "{p}"
    );
    let q = cli_run(&tenant, &queued);
    assert_eq!(q["status"], "failed");
    assert_eq!(q["started_at"], Value::Null, "it never started");
    assert_eq!(target.hits(), 1);
    let c = runtime(&[
        "--json",
        "runs",
        "cancel",
        "--run-id",
        &running,
        "--tenant-id",
        &tenant,
    ])
    .ok();
    assert_eq!(c.json()["outcome"], "already_ended");
    drop(w);
}

#[test]
fn higher_priority_runs_are_claimed_first() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("wprio");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let plan = get_plan(&target.url("/ok"), json!({}));
    let low = detach(&agent_id, &tenant, &plan, &["--priority", "-5"]);
    let mid = detach(&agent_id, &tenant, &plan, &[]);
    let high = detach(&agent_id, &tenant, &plan, &["--priority", "10"]);
    let _w = worker(&["--concurrency", "1"], &[]);
    let waited = runtime(&[
        "-q",
        "runs",
        "wait",
        "--run-id",
        &low,
        "--tenant-id",
        &tenant,
        "--timeout",
        "60s",
    ]);
    assert_eq!(waited.code, 0, "{waited:?}");
    let started = |id: &str| {
        cli_run(&tenant, id)["started_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(started(&high) < started(&mid), "high before the default");
    assert!(started(&mid) < started(&low), "the default before low");
}
