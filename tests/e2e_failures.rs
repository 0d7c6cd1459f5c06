//! A skill that fails is a `failed` run whose trace is sealed and VERIFIED: the proof is of
//! what happened, including the failure.

mod support;

use serde_json::{Value, json};
use support::http::{Server, closed_port};
use support::*;

fn one_get(url: &str) -> Value {
    json!({"planner": "e2e", "steps": [{"step_id": "get", "skill": "http_call", "params": {"url": url}}]})
}

/// Runs `url` with `hosts` granted; asserts a failed, sealed, verified run; returns the
/// proof and the host.http step bodies.
async fn failed_but_verified(name: &str, hosts: &[&str], url: &str) -> (Value, Vec<Value>) {
    let tenant = tenant(name);
    let agent_id = agent(&tenant, hosts);
    let r = run_plan(&agent_id, &tenant, &one_get(url));
    assert_eq!(r.code, 3, "a failed run exits 3: {r:?}");
    let report = r.json();
    assert_eq!(report["status"], "failed");
    let run_id = report["run_id"].as_str().unwrap();
    assert!(!run_id.is_empty());

    let (code, p) = proof(run_id, &tenant);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
    assert_eq!(p["aos_traces"][0]["status"], "failed");
    assert!(p["aos_traces"][0]["sealed_at"].is_string());

    let db = superuser().await;
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM aos_trace_steps WHERE run_id = $1 AND kind = 'host.http' ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(&db)
    .await
    .unwrap();
    let run_status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(run_status, "failed");
    (
        p,
        bodies
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect(),
    )
}

#[tokio::test]
async fn http_500_fails_the_run_with_a_verified_trace() {
    let server = Server::start();
    let (p, http) = failed_but_verified(
        "http500",
        &["http://127.0.0.1:*"],
        &server.url("/status/500"),
    )
    .await;
    assert_eq!(server.hits(), 1);
    assert_eq!(http.len(), 1);
    assert_eq!(http[0]["status"], "success", "the exchange itself worked");
    assert_eq!(http[0]["body"]["response"]["status"], 500);
    let steps = p["aos_trace_steps"].as_array().unwrap();
    let end = steps.iter().find(|s| s["kind"] == "skill.end").unwrap();
    assert_eq!(end["status"], "failure");
}

#[tokio::test]
async fn refused_connection_fails_the_run_with_a_verified_trace() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let (_, http) = failed_but_verified("refused", &["http://127.0.0.1:*"], &url).await;
    assert_eq!(http[0]["status"], "failure");
    assert_eq!(http[0]["body"]["error"]["code"], "connect");
}

#[tokio::test]
async fn denied_host_is_a_recorded_step_and_never_contacted() {
    let server = Server::start();
    // The agent is granted another port only.
    let (_, http) =
        failed_but_verified("denied", &["http://127.0.0.1:1"], &server.url("/ok")).await;
    assert_eq!(
        server.hits(),
        0,
        "a denied destination must not be contacted"
    );
    assert_eq!(http.len(), 1, "the denied attempt is a recorded step");
    assert_eq!(http[0]["status"], "failure");
    assert_eq!(http[0]["body"]["error"]["code"], "denied");
    assert!(
        http[0]["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );

    // No grant at all: deny by default.
    let server = Server::start();
    let (_, http) = failed_but_verified("nogrant", &[], &server.url("/ok")).await;
    assert_eq!(server.hits(), 0);
    assert_eq!(http[0]["body"]["error"]["code"], "denied");
}

#[tokio::test]
async fn redirects_are_rechecked_per_hop() {
    let allowed = Server::start();
    let r = {
        let tenant = tenant("redirect");
        let agent_id = agent(&tenant, &[&format!("http://127.0.0.1:{}", allowed.port)]);
        run_plan(&agent_id, &tenant, &one_get(&allowed.url("/redirect")))
    };
    assert_eq!(r.code, 0, "{r:?}");
    let out = &r.json()["steps"][0]["output"];
    assert_eq!(out["status_code"], 200);
    assert_eq!(
        allowed.hits(),
        2,
        "redirect and target both served by the granted host"
    );
}

#[test]
fn ctrl_c_marks_the_run_failed_and_leaves_the_trace_unverifiable() {
    let server = Server::start();
    let tenant = tenant("sigint");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = interrupted_run(&server, &tenant, &agent_id);
    assert_eq!(r.code, 130, "{r:?}");
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let shown = runtime(&[
        "--json",
        "runs",
        "show",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
    ])
    .ok()
    .json();
    // Shown as stored, and marked: no signed head vouches for an interrupted run's row.
    assert_eq!(shown["run"]["status"]["value"], "failed");
    assert_eq!(shown["run"]["status"]["coverage"], "unverified");
    assert_eq!(shown["verification_status"], "FAILED");
    assert!(
        shown["run"]["error_message"]["value"]
            .as_str()
            .unwrap()
            .contains("interrupted")
    );
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(code, 4);
    assert!(
        p["integrity"]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("not sealed"),
        "{p}"
    );
}
