//! The example skills in other languages (issue 12), end to end: built by
//! `scripts/build-examples` with the commands their READMEs and `docs/skills.md` give, added
//! with `runtime skill add`, run under an agent with `runtime skill invoke --agent-id` (a
//! real, recorded run) or `runtime run --plan`, and checked `VERIFIED` by `runtime proof`.
//! The same JSON-pointer skill in Python, JavaScript and C over `runproof:skill/http`, and
//! in Rust and JavaScript (`fetch()`) over standard `wasi:http`.

mod support;

use serde_json::{Value, json};
use support::http::Server;
use support::*;

fn example(path: &str) -> String {
    example_component(path).to_string_lossy().into_owned()
}

/// `runtime skill add FILE`, as the guide says.
fn add(path: &str) {
    runtime(&["skill", "add", "--replace", &example(path)]).ok();
}

fn grant_agent(tenant: &str, max_host_calls: &str) -> String {
    agent_with(
        tenant,
        &[
            "--allow-host",
            "http://127.0.0.1:*",
            "--max-host-calls",
            max_host_calls,
        ],
    )
}

/// `runtime skill invoke NAME --agent-id A --input JSON` as JSON.
fn invoke(name: &str, agent: &str, input: &Value) -> Run {
    runtime(&[
        "--json",
        "-q",
        "skill",
        "invoke",
        name,
        "--agent-id",
        agent,
        "--input",
        &input.to_string(),
    ])
}

/// `runtime proof`: VERIFIED, and the chain length.
fn verified(run_id: &str, tenant: &str) -> u64 {
    let (code, p) = proof(run_id, tenant);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
    p["integrity"]["chain_length"].as_u64().unwrap()
}

/// The JSON-pointer skill `name` (built at `path`) finds `/hello` in the test server's
/// document, in a verified run; returns that run's host.http step.
async fn json_pointer_run(path: &str, name: &str, interface: &str) -> Value {
    add(path);
    let server = Server::start();
    let tenant = tenant(name);
    let agent = grant_agent(&tenant, "100");
    let r = invoke(
        name,
        &agent,
        &json!({"url": server.url("/ok"), "pointer": "/hello"}),
    )
    .ok();
    let out = r.json();
    assert_eq!(out["recorded"], true, "{out}");
    assert_eq!(out["output"]["value"], "world", "{out}");
    let run_id = out["run_id"].as_str().unwrap();
    let length = verified(run_id, &tenant);
    assert!(length <= 20, "{name}: {length} steps");
    let steps = step_bodies(run_id).await;
    let http: Vec<&(String, String, Value)> =
        steps.iter().filter(|(k, _, _)| k == "host.http").collect();
    assert_eq!(http.len(), 1, "{steps:?}");
    assert_eq!(http[0].2["interface"], interface, "{:?}", http[0]);
    assert_eq!(http[0].2["response"]["status"], 200);
    // What the skill invoke printed is what was stored.
    let shown: Vec<&Value> = out["steps"].as_array().unwrap().iter().collect();
    assert_eq!(shown.len(), steps.len());
    for (s, (kind, _, body)) in shown.iter().zip(&steps) {
        assert_eq!(&s["kind"], kind);
        assert_eq!(&s["payload"], body);
    }
    assert_eq!(server.hits(), 1);
    http[0].2.clone()
}

#[tokio::test]
async fn python_skill_is_verified_in_at_most_20_steps_under_100_host_calls() {
    add("python_skill/json_pointer_py.wasm");
    let server = Server::start();
    let tenant = tenant("ex-python");
    // The cap the issue names: an interpreter's start-up reads must fit under it.
    let agent = grant_agent(&tenant, "100");
    let plan = json!({"planner": "manual", "steps": [{"step_id": "pick", "skill": "json_pointer_py",
        "params": {"url": server.url("/ok"), "pointer": "/hello"}}]});
    let r = run_plan(&agent, &tenant, &plan).ok();
    let report = r.json();
    assert_eq!(report["steps"][0]["output"]["value"], "world", "{report}");
    let run_id = report["run_id"].as_str().unwrap();
    let length = verified(run_id, &tenant);
    assert!(length <= 20, "the Python skill's chain has {length} steps");
    let steps = step_bodies(run_id).await;
    // Every random byte the interpreter drew is still in the trace, in compact steps.
    let reads: usize = steps
        .iter()
        .filter(|(k, _, _)| k == "host.random")
        .map(|(_, _, b)| b["reads"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(reads > 0, "{steps:?}");
    assert!(
        steps.iter().all(|(_, _, b)| b["source"] != "insecure-seed"),
        "no seed step unless the component asks for the seed"
    );
    // And the author's loop on the same skill.
    json_pointer_run(
        "python_skill/json_pointer_py.wasm",
        "json_pointer_py",
        "runproof:skill/http",
    )
    .await;
}

#[tokio::test]
async fn javascript_skill_is_verified() {
    json_pointer_run(
        "js_skill/json_pointer_js.wasm",
        "json_pointer_js",
        "runproof:skill/http",
    )
    .await;
}

#[tokio::test]
async fn c_skill_is_verified_and_a_missing_pointer_is_its_own_error() {
    json_pointer_run(
        "c_skill/json_pointer_c.wasm",
        "json_pointer_c",
        "runproof:skill/http",
    )
    .await;
    let server = Server::start();
    let tenant = tenant("ex-c-missing");
    let agent = grant_agent(&tenant, "100");
    let r = invoke(
        "json_pointer_c",
        &agent,
        &json!({"url": server.url("/ok"), "pointer": "/nope"}),
    );
    assert_eq!(r.code, 3, "{r:?}");
    let out = r.json();
    assert!(
        out["error"].as_str().unwrap().starts_with("not-found:"),
        "{out}"
    );
    verified(out["run_id"].as_str().unwrap(), &tenant);
}

#[tokio::test]
async fn rust_wasi_http_skill_is_verified_and_denied_like_any_other() {
    // A member of the guest workspace: its README's `cargo build` puts it in guest/target.
    let path = "../guest/target/wasm32-wasip2/release/json_pointer_wasi_http.wasm";
    json_pointer_run(path, "json_pointer_wasi_http", "wasi:http/outgoing-handler").await;
    // Without a grant for the destination, the standard request is denied and recorded.
    let server = Server::start();
    let tenant = tenant("ex-rust-denied");
    let agent = agent_with(&tenant, &["--allow-host", "https://*.example.com"]);
    let r = invoke(
        "json_pointer_wasi_http",
        &agent,
        &json!({"url": server.url("/ok"), "pointer": "/hello"}),
    );
    assert_eq!(r.code, 3, "{r:?}");
    let out = r.json();
    assert!(
        out["error"].as_str().unwrap().contains("HttpRequestDenied"),
        "{out}"
    );
    let run_id = out["run_id"].as_str().unwrap();
    verified(run_id, &tenant);
    let steps = step_bodies(run_id).await;
    let (_, status, body) = steps.iter().find(|(k, _, _)| k == "host.http").unwrap();
    assert_eq!(status, "failure");
    assert_eq!(body["error"]["code"], "denied", "{body}");
    assert_eq!(body["interface"], "wasi:http/outgoing-handler");
    assert_eq!(server.hits(), 0, "a denied destination is never contacted");
}

#[tokio::test]
async fn javascript_fetch_skill_goes_through_wasi_http_and_is_verified() {
    let http = json_pointer_run(
        "js_skill/fetch_pointer_js.wasm",
        "fetch_pointer_js",
        "wasi:http/outgoing-handler",
    )
    .await;
    assert_eq!(http["request"]["method"], "GET");
}
