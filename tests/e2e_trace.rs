//! What the trace holds: every host call a skill makes, in order, and the plan semantics
//! (retries with back-off, on_error, depends_on, outputs feeding later steps).

mod support;

use serde_json::{Value, json};
use support::http::Server;
use support::*;

async fn step_payloads(run_id: &str) -> Vec<Value> {
    stored_payloads(run_id)
        .await
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect()
}

#[tokio::test]
async fn every_host_call_is_a_step_in_call_order() {
    add_test_skill("probe");
    let server = Server::start();
    let tenant = tenant("order");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let actions = json!([
        "log:first",
        "wall_clock",
        "monotonic_clock",
        "random",
        "stdout:hello out",
        "stderr:hello err",
        format!("http:{}", server.url("/ok")),
        "log:last"
    ]);
    let plan = json!({"planner": "e2e", "steps": [{"step_id": "p", "skill": "probe", "params": {"actions": actions}}]});
    let r = run_plan(&agent_id, &tenant, &plan).ok();
    let report = r.json();
    let run_id = report["run_id"].as_str().unwrap();
    let steps = step_payloads(run_id).await;
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();

    assert_eq!(kinds.first(), Some(&"run.start"));
    assert_eq!(kinds.last(), Some(&"run.end"));
    // The calls the probe made, in its order (std may add clock or random reads of its own
    // in between; those are recorded too, and allowed here).
    let expected = [
        "skill.start",
        "host.log",
        "host.clock.wall",
        "host.clock.monotonic",
        "host.random",
        "host.http",
        "host.log",
        "host.stdout",
        "host.stderr",
        "skill.end",
    ];
    let mut at = 0;
    for want in expected {
        let found = kinds[at..]
            .iter()
            .position(|k| *k == want)
            .unwrap_or_else(|| panic!("{want} missing after {at} in {kinds:?}"));
        at += found + 1;
    }
    let body_of = |kind: &str| steps.iter().find(|s| s["kind"] == kind).unwrap()["body"].clone();
    assert_eq!(body_of("host.log")["message"], "first");
    assert_eq!(body_of("host.stdout")["text"], "hello out\n");
    assert_eq!(body_of("host.stderr")["text"], "hello err\n");
    assert_eq!(body_of("host.http")["response"]["status"], 200);
    // The value the skill saw is the value the trace holds.
    let output = &report["steps"][0]["output"]["results"];
    let random_hex = output
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r.get("random"))
        .and_then(Value::as_str)
        .unwrap();
    assert!(
        steps.iter().any(|s| s["kind"] == "host.random"
            && s["body"]["reads"]
                .as_array()
                .is_some_and(|r| r.iter().any(|b| b == random_hex))),
        "{random_hex} not recorded"
    );
    // Every host call carries the skill that made it.
    assert!(
        steps
            .iter()
            .filter(|s| s["kind"].as_str().unwrap().starts_with("host."))
            .all(|s| s["skill"] == "probe")
    );

    let (code, p) = proof(run_id, &tenant);
    assert_eq!(code, 0);
    assert_eq!(p["integrity"]["chain_length"], steps.len());
}

#[tokio::test]
async fn consecutive_reads_are_one_step_each_value_in_order_counted_once() {
    add_test_skill("probe");
    let tenant = tenant("compact");
    // Five reads and a log line: three host calls under the cap, however many reads.
    let agent_id = agent_with(&tenant, &["--max-host-calls", "3"]);
    let actions = json!([
        "random",
        "random",
        "random",
        "log:between",
        "random",
        "random"
    ]);
    let plan = json!({"planner": "e2e", "steps": [{"step_id": "p", "skill": "probe", "params": {"actions": actions}}]});
    let r = run_plan(&agent_id, &tenant, &plan).ok();
    let report = r.json();
    let run_id = report["run_id"].as_str().unwrap();
    let steps = step_payloads(run_id).await;
    let host: Vec<&Value> = steps
        .iter()
        .filter(|s| s["kind"].as_str().unwrap().starts_with("host."))
        .collect();
    let kinds: Vec<&str> = host.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    // No insecure-seed step: the probe never asks for the seed.
    assert_eq!(
        kinds,
        ["host.random", "host.log", "host.random"],
        "{host:?}"
    );
    // Every value the skill saw, in the order it saw them, and nothing else.
    let seen: Vec<Value> = report["steps"][0]["output"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.get("random").cloned())
        .collect();
    assert_eq!(host[0]["body"]["reads"], json!(seen[..3]));
    assert_eq!(host[2]["body"]["reads"], json!(seen[3..]));
    assert_eq!(host[0]["body"]["source"], "secure");
    let (code, p) = proof(run_id, &tenant);
    assert_eq!(code, 0, "{p}");
}

#[tokio::test]
async fn retries_on_error_dependencies_and_outputs() {
    add_test_skill("probe");
    let server = Server::start();
    let tenant = tenant("plan");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let plan = json!({"planner": "e2e", "steps": [
        {"step_id": "flaky", "skill": "probe", "params": {"actions": ["fail:always"]}, "retry_count": 1, "on_error": "continue"},
        {"step_id": "after_flaky", "skill": "probe", "params": {"actions": ["log:never"]}, "depends_on": ["flaky"]},
        {"step_id": "fetch", "skill": "http_call", "params": {"url": server.url("/ok")}, "output_key": "page"},
        {"step_id": "use", "skill": "probe", "params": {"actions": ["log:got {{ page.status_code }}"]}, "depends_on": ["fetch"]}
    ]});
    let started = std::time::Instant::now();
    let r = run_plan(&agent_id, &tenant, &plan);
    assert_eq!(
        r.code, 0,
        "continue-on-error failures do not fail the run: {r:?}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "one retry waits 0.5 s"
    );
    let report = r.json();
    let by_id = |id: &str| {
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("flaky")["status"], "failed");
    assert_eq!(by_id("flaky")["attempts"], 2);
    assert_eq!(by_id("after_flaky")["status"], "skipped");
    assert_eq!(by_id("fetch")["status"], "succeeded");
    assert_eq!(by_id("use")["status"], "succeeded");

    let steps = step_payloads(report["run_id"].as_str().unwrap()).await;
    let ends: Vec<&str> = steps
        .iter()
        .filter(|s| s["kind"] == "skill.end")
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        &ends[..2],
        &["retry", "failure"],
        "first attempt marked retry, last failure"
    );
    assert!(
        steps
            .iter()
            .any(|s| s["kind"] == "skill.skipped" && s["status"] == "skipped")
    );
    assert!(
        steps
            .iter()
            .any(|s| s["kind"] == "host.log" && s["body"]["message"] == "got 200"),
        "output fed the later step"
    );
    let (code, _) = proof(report["run_id"].as_str().unwrap(), &tenant);
    assert_eq!(code, 0);
}

#[tokio::test]
async fn abort_skips_the_rest_and_a_trap_is_contained() {
    add_test_skill("probe");
    let tenant = tenant("abort");
    let agent_id = agent(&tenant, &[]);
    let plan = json!({"planner": "e2e", "steps": [
        {"step_id": "boom", "skill": "probe", "params": {"actions": ["log:before", "panic:on purpose"]}},
        {"step_id": "later", "skill": "probe", "params": {"actions": ["log:never"]}}
    ]});
    let r = run_plan(&agent_id, &tenant, &plan);
    assert_eq!(r.code, 3, "{r:?}");
    let report = r.json();
    assert!(report["error_message"].as_str().unwrap().contains("boom"));
    assert!(
        report["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("trap"),
        "{}",
        report["steps"][0]
    );
    assert_eq!(report["steps"][1]["status"], "skipped");
    let (code, p) = proof(report["run_id"].as_str().unwrap(), &tenant);
    assert_eq!(code, 0, "{p}");
}
