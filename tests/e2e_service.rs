//! The HTTP API end to end: a real `runtime serve` on loopback, real `runtime worker`
//! processes, a real loopback HTTP server counting what the skills ask of it.

#[path = "support/service.rs"]
mod service;
mod support;

use serde_json::{Value, json};
use service::*;
use std::time::Duration;
use support::http::Server;
use support::*;

const MIN: Duration = Duration::from_secs(60);

/// Integrity and traces without the verification time (the only field that differs
/// between two verifications of the same run).
fn comparable(p: &Value) -> Value {
    json!({"run_id": p["run_id"], "tenant_id": p["tenant_id"], "run_status": p["run_status"],
           "integrity": p["integrity"], "aos_traces": p["aos_traces"], "aos_trace_steps": p["aos_trace_steps"]})
}

#[test]
fn a_run_submitted_over_http_executes_once_and_its_proof_is_the_clis() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("api-submit");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let (tok, _) = token(&tenant);
    let api = serve(&[], &[]);
    let _worker = worker(&["--concurrency", "2"], &[]);
    let submitted = submit(
        &api,
        &tok,
        &json!({"agent_id": agent_id, "goal": format!("fetch {}", target.url("/ok")),
                "origin_system_id": "e2e-api"}),
    );
    assert_eq!(submitted["created"], true);
    assert_eq!(
        submitted["tenant_id"],
        tenant.as_str(),
        "the token's tenant"
    );
    let run_id = submitted["run_id"].as_str().unwrap().to_string();
    let run = wait_run(&api, &tok, &run_id, MIN);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(
        run["lease_owner"].as_str().unwrap().starts_with("worker/"),
        "{run}"
    );
    assert_eq!(target.hits(), 1, "executed exactly once");

    let over_http = get(&api.url(&format!("/v1/runs/{run_id}/proof")), Some(&tok));
    assert_eq!(over_http.status, 200);
    let over_http = over_http.json();
    assert_eq!(
        over_http["integrity"]["verification_status"], "VERIFIED",
        "{over_http}"
    );
    let (code, cli) = proof(&run_id, &tenant);
    assert_eq!(code, 0);
    assert_eq!(comparable(&over_http), comparable(&cli));

    // The step stream of a finished run: every stored step in order, then the end.
    let events = sse(&api.url(&format!("/v1/runs/{run_id}/steps")), &tok);
    let (last, steps) = events.split_last().unwrap();
    assert_eq!(last.0, "end");
    assert_eq!(last.2["status"], "succeeded");
    let chain_length = cli["integrity"]["chain_length"].as_u64().unwrap() as usize;
    assert_eq!(steps.len(), chain_length);
    for (i, (event, id, data)) in steps.iter().enumerate() {
        assert_eq!(
            (event.as_str(), id.as_deref()),
            ("step", Some(i.to_string().as_str()))
        );
        assert_eq!(data["step_index"], i);
        assert_eq!(data["hash"], cli["aos_trace_steps"][i]["hash"]);
    }
    assert_eq!(steps[0].2["kind"], "run.start");
    assert_eq!(steps[chain_length - 1].2["kind"], "run.end");
    // Resuming after step 2 sends the rest only.
    let resumed = sse(&api.url(&format!("/v1/runs/{run_id}/steps?from=3")), &tok);
    assert_eq!(resumed.len(), chain_length - 3 + 1);

    // The bundle over HTTP verifies offline, as one from `runtime proof export` does.
    let bundle = get(&api.url(&format!("/v1/runs/{run_id}/bundle")), Some(&tok));
    assert_eq!(bundle.status, 200);
    let file = tempfile(std::str::from_utf8(&bundle.body).unwrap());
    let key = tempfile("");
    runtime(&["keys", "export-public", "-o", key.to_str().unwrap()]).ok();
    let verified = runtime(&[
        "verify",
        file.to_str().unwrap(),
        "--trusted-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(verified.code, 0, "{verified:?}");
    let inclusion = get(
        &api.url(&format!("/v1/runs/{run_id}/steps/2/inclusion")),
        Some(&tok),
    );
    assert_eq!(inclusion.status, 200);
    let file = tempfile(std::str::from_utf8(&inclusion.body).unwrap());
    let verified = runtime(&[
        "verify",
        file.to_str().unwrap(),
        "--trusted-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(verified.code, 0, "{verified:?}");
    // The run is listed, and a goal with nothing to plan is refused with nothing written.
    let listed = get(&api.url("/v1/runs"), Some(&tok)).json();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);
    let refused = post_json(
        &api.url("/v1/runs"),
        Some(&tok),
        &json!({"agent_id": agent_id, "goal": "no url here", "origin_system_id": "e2e-api"}),
    );
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["code"], "unprocessable");
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("cannot plan")
    );
    let listed = get(&api.url("/v1/runs"), Some(&tok)).json();
    assert_eq!(
        listed["runs"].as_array().unwrap().len(),
        1,
        "nothing written"
    );
}

#[test]
fn the_same_idempotency_key_returns_the_same_run_and_never_runs_it_twice() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("api-idem");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let (tok, _) = token(&tenant);
    let api = serve(&[], &[]);
    let body = json!({"agent_id": agent_id, "goal": format!("fetch {}", target.url("/ok")),
                      "origin_system_id": "e2e-api", "idempotency_key": "order-42"});
    let first = post_json(&api.url("/v1/runs"), Some(&tok), &body);
    assert_eq!(first.status, 201);
    let second = post_json(&api.url("/v1/runs"), Some(&tok), &body);
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["created"], false);
    assert_eq!(first.json()["run_id"], second.json()["run_id"]);
    // The header form names the same key.
    let mut no_key = body.clone();
    no_key.as_object_mut().unwrap().remove("idempotency_key");
    let third = request(
        "POST",
        &api.url("/v1/runs"),
        Some(&tok),
        &[
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "order-42"),
        ],
        Some(no_key.to_string().as_bytes()),
    );
    assert_eq!(third.json()["run_id"], first.json()["run_id"]);
    let run_id = first.json()["run_id"].as_str().unwrap().to_string();
    let _worker = worker(&[], &[]);
    assert_eq!(wait_run(&api, &tok, &run_id, MIN)["status"], "succeeded");
    // And after it ran, the CLI with the same key follows that run: nothing runs again.
    let again = runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e-api",
        "--idempotency-key",
        "order-42",
        "--goal",
        &format!("fetch {}", target.url("/ok")),
    ])
    .ok();
    assert_eq!(again.json()["run_id"], run_id.as_str());
    assert_eq!(again.json()["created"], false);
    let detached = runtime(&[
        "--json",
        "-q",
        "run",
        "--detach",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e-api",
        "--idempotency-key",
        "order-42",
        "--goal",
        &format!("fetch {}", target.url("/ok")),
    ])
    .ok();
    assert_eq!(detached.json()["run_id"], run_id.as_str());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(target.hits(), 1, "one execution for one key");
    let runs = get(&api.url("/v1/runs"), Some(&tok)).json();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
}

#[test]
fn tokens_name_the_tenant_and_a_revoked_token_is_refused() {
    let _one = exclusive();
    let target = Server::start();
    let (a, b) = (tenant("api-a"), tenant("api-b"));
    let agent_a = agent(&a, &["http://127.0.0.1:*"]);
    let (tok_a, id_a) = token(&a);
    let (tok_b, _) = token(&b);
    let api = serve(&[], &[]);
    // Queued (no worker runs in this test): enough to be found, or not.
    let run = submit(
        &api,
        &tok_a,
        &json!({"agent_id": agent_a, "goal": format!("fetch {}", target.url("/ok")), "origin_system_id": "e2e"}),
    );
    let run_id = run["run_id"].as_str().unwrap();
    for path in [
        format!("/v1/runs/{run_id}"),
        format!("/v1/runs/{run_id}/proof"),
        format!("/v1/runs/{run_id}/steps"),
        format!("/v1/runs/{run_id}/bundle"),
        format!("/v1/runs/{run_id}/wait?timeout=0"),
    ] {
        let theirs = get(&api.url(&path), Some(&tok_b));
        let missing = get(&api.url(&path.replace(run_id, "no-such-run")), Some(&tok_b));
        assert_eq!((theirs.status, missing.status), (404, 404), "{path}");
        assert_eq!(theirs.json()["code"], "not_found");
        assert_eq!(
            theirs.json()["error"]
                .as_str()
                .unwrap()
                .replace(run_id, "X"),
            missing.json()["error"]
                .as_str()
                .unwrap()
                .replace("no-such-run", "X"),
            "another tenant's run looks exactly like a missing one"
        );
    }
    let cancel = post_json(
        &api.url(&format!("/v1/runs/{run_id}/cancel")),
        Some(&tok_b),
        &json!({}),
    );
    assert_eq!(cancel.status, 404);
    // B cannot run A's tenant-bound agent either, and cannot name a tenant in the body.
    let theirs = post_json(
        &api.url("/v1/runs"),
        Some(&tok_b),
        &json!({"agent_id": agent_a, "goal": format!("fetch {}", target.url("/ok")), "origin_system_id": "e2e"}),
    );
    assert_eq!(
        theirs.status,
        404,
        "{}",
        String::from_utf8_lossy(&theirs.body)
    );
    let smuggled = post_json(
        &api.url("/v1/runs"),
        Some(&tok_b),
        &json!({"agent_id": agent_a, "tenant_id": a, "goal": "x", "origin_system_id": "e2e"}),
    );
    assert_eq!(smuggled.status, 400);
    assert!(
        smuggled.json()["error"]
            .as_str()
            .unwrap()
            .contains("tenant_id")
    );

    assert_eq!(
        get(&api.url(&format!("/v1/runs/{run_id}")), Some(&tok_a)).status,
        200
    );
    let none = get(&api.url(&format!("/v1/runs/{run_id}")), None);
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["code"], "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(get(&api.url("/v1/runs"), Some("rpt_0000")).status, 401);
    runtime(&["token", "revoke", "--token-id", &id_a]).ok();
    let revoked = get(&api.url(&format!("/v1/runs/{run_id}")), Some(&tok_a));
    assert_eq!(revoked.status, 401);
    assert!(
        revoked.json()["error"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    let listed = runtime(&["--json", "token", "list", "--tenant-id", &a])
        .ok()
        .json();
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");
    assert!(
        !listed.to_string().contains(&tok_a),
        "the token itself is never listed"
    );
    // Leave nothing queued for the next test's workers.
    let (tok_a2, _) = token(&a);
    post_json(
        &api.url(&format!("/v1/runs/{run_id}/cancel")),
        Some(&tok_a2),
        &json!({}),
    );
}

#[test]
fn bad_requests_get_json_errors_with_their_status() {
    let tenant = tenant("api-errors");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let (tok, _) = token(&tenant);
    let api = serve(&["--max-body", "4KiB"], &[]);
    let big =
        json!({"agent_id": agent_id, "goal": "x".repeat(8 * 1024), "origin_system_id": "e2e"});
    let r = post_json(&api.url("/v1/runs"), Some(&tok), &big);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], "payload_too_large");
    let r = request(
        "POST",
        &api.url("/v1/runs"),
        Some(&tok),
        &[("Content-Type", "application/json")],
        Some(b"{not json"),
    );
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("bad_request"))
    );
    let r = request(
        "POST",
        &api.url("/v1/runs"),
        Some(&tok),
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    );
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (415, json!("unsupported_media_type"))
    );
    let r = get(&api.url("/v1/nothing-here"), Some(&tok));
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("not_found"))
    );
    let r = request("DELETE", &api.url("/v1/runs"), Some(&tok), &[], None);
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (405, json!("method_not_allowed"))
    );
    let r = get(&api.url("/v1/runs?limit=0"), Some(&tok));
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("bad_request"))
    );
    let r = get(&api.url("/v1/runs/x/steps/abc/inclusion"), Some(&tok));
    assert_eq!(r.status, 400);
    assert_eq!(
        runtime(&["--json", "runs", "list", "--tenant-id", &tenant])
            .ok()
            .json(),
        json!([])
    );
}

/// The OpenAPI document in the repository is what is served, and it describes what the
/// server answers: every documented operation exists (401 without a token, or 200 for the
/// public ones), and agents and skills are listed.
#[test]
fn the_openapi_document_is_the_repositorys_and_matches_the_server() {
    let api = serve(&[], &[]);
    let served = get(&api.url("/v1/openapi.json"), None);
    assert_eq!(served.status, 200);
    let kept = std::fs::read(repo_root().join("runtime/server/openapi.json")).unwrap();
    assert_eq!(served.body, kept);
    let doc: Value = serde_json::from_slice(&kept).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{run_id}", "r")
            .replace("{agent_id}", "a")
            .replace("{skill}", "http_call")
            .replace("{step}", "0");
        for (method, op) in item.as_object().unwrap() {
            let r = request(
                &method.to_uppercase(),
                &api.url(&concrete),
                None,
                &[("Content-Type", "application/json")],
                Some(b"{}"),
            );
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            let expected = if public { 200 } else { 401 };
            assert_eq!(
                r.status,
                expected,
                "{method} {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
    }
    let tenant = tenant("api-catalog");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let (tok, _) = token(&tenant);
    let agents = get(&api.url("/v1/agents"), Some(&tok)).json();
    assert!(
        agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent_id"] == agent_id.as_str())
    );
    assert_eq!(
        get(&api.url(&format!("/v1/agents/{agent_id}")), Some(&tok)).json()["agent_id"],
        agent_id.as_str()
    );
    let skills = get(&api.url("/v1/skills"), Some(&tok)).json();
    let http = skills["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "http_call")
        .unwrap()
        .clone();
    let by_name = get(&api.url("/v1/skills/http_call"), Some(&tok)).json();
    assert_eq!(by_name["digest"], http["digest"]);
    let by_digest = get(
        &api.url(&format!("/v1/skills/{}", http["digest"].as_str().unwrap())),
        Some(&tok),
    )
    .json();
    assert_eq!(by_digest["name"], "http_call");
    assert_eq!(get(&api.url("/v1/skills/nope"), Some(&tok)).status, 404);
}

#[test]
fn serve_with_in_process_workers_is_a_whole_deployment() {
    let _one = exclusive();
    let target = Server::start();
    let tenant = tenant("api-inproc");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let (tok, _) = token(&tenant);
    let api = serve(&["--workers", "2"], &[]);
    let ids: Vec<String> = (0..5)
        .map(|_| {
            submit(&api, &tok, &json!({"agent_id": agent_id, "goal": format!("fetch {}", target.url("/ok")), "origin_system_id": "e2e"}))
                ["run_id"].as_str().unwrap().to_string()
        })
        .collect();
    for id in &ids {
        assert_eq!(wait_run(&api, &tok, id, MIN)["status"], "succeeded");
        let p = get(
            &api.url(&format!("/v1/runs/{id}/proof?steps=false")),
            Some(&tok),
        )
        .json();
        assert_eq!(p["integrity"]["verification_status"], "VERIFIED");
        assert_eq!(p["aos_trace_steps"], json!([]));
    }
    assert_eq!(target.hits(), 5);
    api.proc.signal(libc::SIGTERM);
    let (code, err) = api.proc.wait(MIN);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches(": succeeded in").count(), 5, "{err}");
}
