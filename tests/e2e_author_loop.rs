//! The author's loop (issue 12): `runtime skill invoke` and `runtime runs show --payloads`,
//! with the commands `docs/skills.md` gives.

mod support;

use serde_json::json;
use support::http::Server;
use support::*;

fn probe_input(actions: &[String]) -> String {
    json!({ "actions": actions }).to_string()
}

#[tokio::test]
async fn invoke_with_an_agent_is_a_real_verified_run_and_shows_what_was_stored() {
    add_test_skill("probe");
    let server = Server::start();
    let tenant = tenant("invoke");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let input = probe_input(&["log:hello".into(), format!("http:{}", server.url("/ok"))]);
    let r = runtime(&[
        "--json",
        "-q",
        "skill",
        "invoke",
        "probe",
        "--agent-id",
        &agent_id,
        "--input",
        &input,
    ])
    .ok();
    let out = r.json();
    assert_eq!(out["recorded"], true);
    assert_eq!(out["status"], "succeeded");
    assert_eq!(out["output"]["results"][0]["log"], "hello");
    assert_eq!(out["output"]["results"][1]["status"], 200);
    let run_id = out["run_id"].as_str().unwrap();
    // The run exists as any run does, in the agent's tenant, and verifies.
    let (code, p) = proof(run_id, &tenant);
    assert_eq!(
        (code, &p["integrity"]["verification_status"]),
        (0, &json!("VERIFIED")),
        "{p}"
    );
    // Every step shown is a stored step, with the body it stored.
    let stored = step_bodies(run_id).await;
    let shown = out["steps"].as_array().unwrap();
    assert_eq!(shown.len(), stored.len());
    for (s, (kind, status, body)) in shown.iter().zip(&stored) {
        assert_eq!((&s["kind"], &s["status"]), (&json!(kind), &json!(status)));
        assert_eq!(&s["payload"], body);
        assert_eq!(s["hash"].as_str().unwrap().len(), 64);
    }
    let http = shown.iter().find(|s| s["kind"] == "host.http").unwrap();
    assert_eq!(
        http["payload"]["response"]["body"]["text"],
        r#"{"hello":"world"}"#
    );

    // The text form: the output, the run, each step with its decoded body, the next command.
    let text = runtime(&[
        "skill",
        "invoke",
        "probe",
        "--agent-id",
        &agent_id,
        "--input",
        &input,
    ])
    .ok();
    assert!(text.stdout.contains("output: {"), "{}", text.stdout);
    assert!(
        text.stdout.contains("→ GET http://127.0.0.1:"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(r#"body    {"hello":"world"}"#),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(r#"{"level":"info","message":"hello"}"#),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("verify: runtime proof --run-id "),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn invoke_without_an_agent_stores_nothing_and_denies_the_network() {
    let path = test_skill_path("probe");
    let server = Server::start();
    let tenant = tenant("invoke-dry");
    let runs_before = runtime(&["--json", "runs", "list", "--tenant-id", &tenant])
        .ok()
        .json();
    let input = probe_input(&["log:dry".into(), format!("http:{}", server.url("/ok"))]);
    let r = runtime(&[
        "--json",
        "-q",
        "skill",
        "invoke",
        path.to_str().unwrap(),
        "--input",
        &input,
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let out = r.json();
    assert_eq!(out["recorded"], false);
    assert!(out.get("run_id").is_none(), "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("http-denied"),
        "{out}"
    );
    let kinds: Vec<&str> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["host.log", "host.http"]);
    // Nothing is hashed, so nothing looks like it could be verified.
    assert!(
        out["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("hash").is_none())
    );
    assert_eq!(server.hits(), 0);
    let runs_after = runtime(&["--json", "runs", "list", "--tenant-id", &tenant])
        .ok()
        .json();
    assert_eq!(runs_before, runs_after);
    let text = runtime(&["skill", "invoke", path.to_str().unwrap(), "--input", &input]);
    assert!(
        text.stdout
            .contains("not recorded: no run and no trace exist"),
        "{text:?}"
    );
}

#[test]
fn invoke_refuses_bad_input_in_one_line() {
    let r = runtime(&["skill", "invoke", "probe", "--input", "{not json"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("--input is not JSON"), "{}", r.stderr);
    let r = runtime(&["skill", "invoke", "probe", "--input", "[1]"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("must be a JSON object"), "{}", r.stderr);
    let r = runtime(&["skill", "invoke", "no_such_skill", "--input", "{}"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("skill list"), "{}", r.stderr);
}

#[tokio::test]
async fn runs_show_payloads_shows_what_each_step_recorded_in_aligned_columns() {
    add_test_skill("probe_wasi_http");
    let server = Server::start();
    let tenant = tenant("show-payloads");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let plan = json!({"planner": "e2e", "steps": [{"step_id": "a", "skill": "probe_wasi_http",
        "params": {"actions": ["log:shown", format!("http:{}", server.url("/ok"))]}}]});
    let report = run_plan(&agent_id, &tenant, &plan).ok().json();
    let run_id = report["run_id"].as_str().unwrap();

    let json_out = runtime(&[
        "--json",
        "runs",
        "show",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
        "--payloads",
    ])
    .ok()
    .json();
    let stored = step_bodies(run_id).await;
    let steps = json_out["aos_trace_steps"].as_array().unwrap();
    assert_eq!(steps.len(), stored.len());
    for (s, (_, _, body)) in steps.iter().zip(&stored) {
        assert_eq!(&s["payload"], body);
    }
    // Without --payloads the listing is as before: no bodies.
    let plain = runtime(&[
        "--json",
        "runs",
        "show",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
    ])
    .ok()
    .json();
    assert!(plain["aos_trace_steps"][0].get("payload").is_none());

    let text = runtime(&[
        "runs",
        "show",
        "--run-id",
        run_id,
        "--tenant-id",
        &tenant,
        "--payloads",
    ])
    .ok()
    .stdout;
    assert!(text.contains("(via wasi:http/outgoing-handler)"), "{text}");
    assert!(
        text.contains(r#"{"level":"info","message":"shown"}"#),
        "{text}"
    );
    // Aligned: the status column starts at the same place on every step line, whatever
    // the length of the skill name ("probe_wasi_http" is 15 characters).
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" success ") || l.contains(" failure "))
        .collect();
    assert!(rows.len() >= 5, "{text}");
    let col = |l: &str| l.find(" success ").or_else(|| l.find(" failure ")).unwrap();
    let first = col(rows[0]);
    assert!(rows.iter().all(|l| col(l) == first), "{text}");
}

#[tokio::test]
async fn a_skill_that_never_asks_for_the_seed_has_no_seed_step() {
    add_test_skill("probe");
    let tenant = tenant("no-seed");
    let agent_id = agent(&tenant, &[]);
    let plan = json!({"planner": "e2e", "steps": [{"step_id": "a", "skill": "probe", "params": {"actions": ["log:x"]}}]});
    let report = run_plan(&agent_id, &tenant, &plan).ok().json();
    let kinds: Vec<String> = step_bodies(report["run_id"].as_str().unwrap())
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect::<Vec<_>>();
    assert_eq!(
        kinds,
        [
            "run.start",
            "skill.start",
            "host.log",
            "skill.end",
            "run.end"
        ],
        "{kinds:?}"
    );
}

/// `runtime runs show … | head`: when the reader goes away the command ends quietly with
/// 141 (as a shell reports SIGPIPE), as git and ripgrep do, with no panic, and stores nothing
/// differently.
#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    let (tenant, run_id) = verified_http_run("pipe", "HASH_CHAIN");
    for json in [false, true] {
        let mut cmd = runtime_cmd();
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .args(["runs", "show", "--run-id", &run_id, "--tenant-id", &tenant])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runtime starts");
        // The reader is gone before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("runtime ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "json={json}: {stderr}");
        assert!(stderr.is_empty(), "json={json}: quiet, got {stderr}");
    }
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(
        (code, &p["integrity"]["verification_status"]),
        (0, &json!("VERIFIED"))
    );
}
