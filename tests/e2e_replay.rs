//! Replay (issue 14), end to end: real runs through `runtime run`, then `runtime replay`
//! re-executes every invocation against the recorded trace. Every run kind replays
//! `REPLAYED`; another component, or a trace re-sealed by a dishonest key holder, is
//! `DIVERGED` at the first differing step; nothing leaves the host while replaying; an
//! unverified trace is not replayed; offline replay from a bundle needs no database.

#[path = "support/service.rs"]
mod service;
mod support;

use runproof_proof::ChainBuilder;
use runproof_proof::seal::signing_key_from_pem;
use serde_json::{Value, json};
use sqlx::Row;
use support::http::{Server, closed_port};
use support::*;

/// `runtime --json replay --run-id R --tenant-id T [extra...]`.
fn replay(run_id: &str, tenant: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "--json",
        "-q",
        "replay",
        "--run-id",
        run_id,
        "--tenant-id",
        tenant,
    ];
    args.extend(extra);
    runtime(&args)
}

/// Replays the run and asserts `REPLAYED` (exit 0) with every invocation matched; returns
/// the report.
#[track_caller]
fn assert_replayed(run_id: &str, tenant: &str) -> Value {
    let r = replay(run_id, tenant, &[]);
    let report = r.json();
    assert_eq!(r.code, 0, "{report}\n{}", r.stderr);
    assert_eq!(report["verdict"], "REPLAYED", "{report}");
    assert_eq!(report["proof"]["verification_status"], "VERIFIED");
    let invocations = report["invocations"].as_array().unwrap();
    assert_eq!(
        invocations.len() as u64,
        report["invocation_count"].as_u64().unwrap()
    );
    assert!(
        invocations
            .iter()
            .all(|i| i["result"] == "matched" || i["result"] == "not-invoked"),
        "{report}"
    );
    report
}

/// Runs `plan` for a fresh agent (`flags`) in a fresh tenant; returns (tenant, run_id,
/// the run's exit code).
fn run(name: &str, flags: &[&str], plan: &Value) -> (String, String, i32) {
    let tenant = tenant(name);
    let agent_id = agent_with(&tenant, flags);
    let r = run_plan(&agent_id, &tenant, plan);
    assert!(r.code == 0 || r.code == 3, "{r:?}");
    let run_id = r.json()["run_id"].as_str().expect("run_id").to_string();
    (tenant, run_id, r.code)
}

fn one_step(skill: &str, params: Value) -> Value {
    json!({"planner": "e2e", "steps": [{"step_id": "s", "skill": skill, "params": params}]})
}

fn probe(actions: &[&str]) -> Value {
    one_step("probe", json!({"actions": actions}))
}

fn hostile(action: &str, arg: &str) -> Value {
    one_step("hostile", json!({"action": action, "arg": arg}))
}

/// The index of the first step of `kind` (and, if given, whose body contains `needle`).
async fn index_of(run_id: &str, kind: &str, needle: &str) -> u64 {
    let steps = step_bodies(run_id).await;
    steps
        .iter()
        .position(|(k, _, b)| k == kind && b.to_string().contains(needle))
        .unwrap_or_else(|| panic!("no {kind} step with {needle:?}: {steps:?}")) as u64
}

#[tokio::test]
async fn a_successful_http_call_replays_without_touching_the_network() {
    let server = Server::start();
    let plan = one_step("http_call", json!({"url": server.url("/ok")}));
    let (tenant, run_id, code) = run("rp-ok", &["--allow-host", "http://127.0.0.1:*"], &plan);
    assert_eq!(code, 0);
    let hits = server.hits();
    assert_eq!(hits, 1);
    let report = assert_replayed(&run_id, &tenant);
    assert_eq!(report["invocation_count"], 1);
    // The write-ahead intent is recorded right before its exchange, and the replay made
    // both: every host step of the invocation was reproduced.
    let steps = step_bodies(&run_id).await;
    let kinds: Vec<&str> = steps.iter().map(|(k, _, _)| k.as_str()).collect();
    let intent = kinds
        .iter()
        .position(|k| *k == "host.intent")
        .expect("an intent");
    assert_eq!(kinds[intent + 1], "host.http", "{kinds:?}");
    assert_eq!(steps[intent].2["request"], steps[intent + 1].2["request"]);
    let host_steps = report["invocations"][0]["host_steps"].as_u64().unwrap();
    assert!(host_steps >= 2, "{report}");
    assert_eq!(report["replayed_steps"], host_steps, "{report}");
    // The response came from the trace: the server saw nothing more.
    assert_eq!(server.hits(), hits, "replay must not reach the network");

    // The built-in's bytes are kept by digest, so the run stays replayable after an upgrade.
    let digest = report["invocations"][0]["digest"].as_str().unwrap();
    let db = superuser().await;
    let row = sqlx::query(
        "SELECT builtin, encode(sha256(component), 'hex') FROM skills WHERE digest = $1",
    )
    .bind(digest)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(row.get::<bool, _>(0));
    assert_eq!(row.get::<Option<String>, _>(1).as_deref(), Some(digest));
    db.close().await;

    // Text output names the verdict.
    let text = runtime(&["replay", "--run-id", &run_id, "--tenant-id", &tenant]).ok();
    assert!(text.stdout.contains("verdict: REPLAYED"), "{}", text.stdout);
}

#[tokio::test]
async fn http_errors_and_denials_replay() {
    add_test_skill("probe");
    add_test_skill("probe_wasi_http");
    let server = Server::start();
    let closed = format!("http://127.0.0.1:{}/", closed_port());
    // With whether the request left the host (so its write-ahead intent is in the trace,
    // and the replay must commit it too).
    for (name, plan, left) in [
        // A status the skill reports, a refused connection, a destination not granted.
        (
            "rp-500",
            probe(&[&format!("http:{}", server.url("/status/500"))]),
            true,
        ),
        ("rp-connect", probe(&[&format!("http:{closed}")]), true),
        ("rp-denied", probe(&["http:http://10.1.2.3/"]), false),
        // A cap: the recorded cause (response-body) is what gives the wasi:http guest
        // HTTP-response-body-size again; without it the replayed code, and so the
        // skill's error, would differ.
        (
            "rp-too-large",
            probe(&[&format!("http:{}", server.url("/over-cap"))]),
            true,
        ),
        (
            "rp-wasi-too-large",
            one_step(
                "probe_wasi_http",
                json!({"actions": [format!("http:{}", server.url("/over-cap"))]}),
            ),
            true,
        ),
        (
            "rp-call-500",
            one_step("http_call", json!({"url": server.url("/status/500")})),
            true,
        ),
    ] {
        let (tenant, run_id, _) = run(name, &["--allow-host", "http://127.0.0.1:*"], &plan);
        let steps = step_bodies(&run_id).await;
        let intents = steps.iter().filter(|(k, _, _)| k == "host.intent").count();
        assert_eq!(intents, usize::from(left), "{name}: {steps:?}");
        assert_replayed(&run_id, &tenant);
    }
    assert_eq!(server.hits(), 4, "only the runs reached the server");
}

#[tokio::test]
async fn answers_capped_to_a_digest_are_refused_and_capped_requests_still_compare() {
    add_test_skill("hostile");
    let server = Server::start();
    let allow = ["--allow-host", "http://127.0.0.1:*"];

    // A response body over 64 KiB is in the trace only as its size, SHA-256 and prefix: the
    // replay cannot serve it, so it refuses the trace (naming the step), never REPLAYED.
    let plan = one_step("http_call", json!({"url": server.url("/big")}));
    let (tenant, run_id, code) = run("rp-big-response", &allow, &plan);
    assert_eq!(code, 0);
    let http = index_of(&run_id, "host.http", "/big").await;
    let steps = step_bodies(&run_id).await;
    assert_eq!(
        steps[http as usize].2["response"]["body"]["digest"]["size"],
        100_000
    );
    let hits = server.hits();
    let r = replay(&run_id, &tenant, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stdout.contains("REPLAYED"), "{}", r.stdout);
    let error = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains(&format!("step {http} (host.http)"))
            && error.contains("recorded only as its size, SHA-256 and prefix"),
        "{error}
{}",
        r.stderr
    );
    let text = runtime(&["replay", "--run-id", &run_id, "--tenant-id", &tenant]);
    assert_eq!(text.code, 1);
    assert!(!text.stdout.contains("REPLAYED"), "{}", text.stdout);
    assert!(
        text.stderr.contains("cannot be replayed"),
        "{}",
        text.stderr
    );
    assert_eq!(
        server.hits(),
        hits,
        "a refused replay reaches nothing either"
    );

    // A request body over 64 KiB is recorded as its digest too, in its intent and its
    // exchange; that is the guest's side, so the replayed code's request is compared by
    // the digest (the answer is whole): REPLAYED.
    add_test_skill("probe");
    let spec = json!({"method": "POST", "url": server.url("/ok"), "body": "A".repeat(100_000)});
    let plan = probe(&[&format!("request:{spec}")]);
    let (tenant, run_id, code) = run("rp-big-request", &allow, &plan);
    assert_eq!(code, 0);
    let intent = index_of(&run_id, "host.intent", "/ok").await;
    let steps = step_bodies(&run_id).await;
    assert_eq!(
        steps[intent as usize].2["request"]["body"]["digest"]["size"],
        100_000
    );
    assert_replayed(&run_id, &tenant);

    // An output over the 1 MiB step cap is in skill.end as its digest: the replayed output
    // is compared with it by its bytes.
    let (tenant, run_id, code) = run("rp-big-output", &[], &hostile("output", "2000000"));
    assert_eq!(code, 0);
    let steps = step_bodies(&run_id).await;
    let end = &steps.iter().find(|(k, _, _)| k == "skill.end").unwrap().2;
    assert_eq!(end["output"]["digest"]["size"], 2_000_000 - 2, "{end}");
    assert_replayed(&run_id, &tenant);

    // A request refused for its size leaves no intent and replays as refused.
    let plan = hostile(
        "big_requests",
        &format!("{}x2@{}", 5 << 20, server.url("/ok")),
    );
    let (tenant, run_id, code) = run("rp-refused-request", &allow, &plan);
    assert_eq!(code, 3);
    let steps = step_bodies(&run_id).await;
    assert!(
        steps.iter().all(|(k, _, _)| k != "host.intent"),
        "{steps:?}"
    );
    assert_replayed(&run_id, &tenant);
}

#[tokio::test]
async fn a_run_a_worker_executed_from_the_queue_replays() {
    let _one = service::exclusive();
    add_test_skill("probe");
    let server = Server::start();
    let tenant = tenant("rp-worker");
    let agent_id = agent_with(&tenant, &["--allow-host", "http://127.0.0.1:*"]);
    let plan = probe(&[
        "wall_clock",
        "random",
        &format!("http:{}", server.url("/ok")),
        "log:done",
    ]);
    let run_id = service::detach(&agent_id, &tenant, "e2e-replay", &plan, &[]);
    let worker = service::worker(&["--concurrency", "2"], &[]);
    let run = service::until(&tenant, &run_id, std::time::Duration::from_secs(120), |r| {
        r["status"] != "queued" && r["status"] != "running"
    });
    worker.signal(libc::SIGTERM);
    let (code, stderr) = worker.wait(std::time::Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(run["status"], "succeeded", "{run}");
    let hits = server.hits();
    assert_replayed(&run_id, &tenant);
    assert_eq!(server.hits(), hits);
}

#[tokio::test]
async fn a_run_cancelled_mid_request_replays_as_recorded() {
    let one = service::exclusive();
    add_test_skill("probe");
    let server = Server::start();
    let tenant = tenant("rp-cancel");
    let agent_id = agent_with(&tenant, &["--allow-host", "http://127.0.0.1:*"]);
    let plan = probe(&[
        "log:start",
        "wall_clock",
        &format!("http:{}", server.url("/slow")),
        "log:never",
    ]);
    let worker = service::worker(&[], &[("RUNPROOF_LEASE_TTL", "900ms")]);
    let run_id = service::detach(&agent_id, &tenant, "e2e-replay", &plan, &[]);
    while server.hits() < 1 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    runtime(&[
        "runs",
        "cancel",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
    ])
    .ok();
    let run = service::until(&tenant, &run_id, std::time::Duration::from_secs(60), |r| {
        r["status"] != "running"
    });
    worker.signal(libc::SIGTERM);
    let (code, stderr) = worker.wait(std::time::Duration::from_secs(60));
    // No worker runs any more: the other tests may queue runs again.
    drop(one);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(run["status"], "failed", "{run}");
    // The request's intent is on disk, its result never came: the invocation was dropped.
    let steps = step_bodies(&run_id).await;
    let kinds: Vec<&str> = steps.iter().map(|(k, _, _)| k.as_str()).collect();
    assert!(kinds.contains(&"host.intent"), "{kinds:?}");
    assert!(!kinds.contains(&"host.http"), "{kinds:?}");
    let end = &steps.iter().find(|(k, _, _)| k == "skill.end").unwrap().2;
    assert_eq!(end["stopped_from_outside"], true, "{end}");
    assert!(
        end["error"].as_str().unwrap().starts_with("cancelled"),
        "{end}"
    );
    // The replay makes every recorded call (the intent too), then is cut off there.
    let report = assert_replayed(&run_id, &tenant);
    assert_eq!(
        report["invocations"][0]["stopped_as_recorded"], true,
        "{report}"
    );
    assert_eq!(server.hits(), 1, "the replay sent nothing");
}

#[tokio::test]
async fn wasi_denials_replay() {
    add_test_skill("hostile");
    for (name, action, arg) in [
        ("rp-passwd", "read_file", "/etc/passwd"),
        ("rp-socket", "socket", "127.0.0.1:9"),
        ("rp-dns", "socket", "localhost:9"),
        ("rp-env", "env", ""),
    ] {
        let (tenant, run_id, _) = run(name, &[], &hostile(action, arg));
        let steps = step_bodies(&run_id).await;
        if action != "env" {
            assert!(
                steps.iter().any(|(k, _, _)| k == "host.denied"),
                "{steps:?}"
            );
        }
        assert_replayed(&run_id, &tenant);
    }
}

#[tokio::test]
async fn every_probe_action_replays() {
    add_test_skill("probe");
    let server = Server::start();
    let url = server.url("/ok");
    let plan = probe(&[
        "log:first",
        "wall_clock",
        "monotonic_clock",
        "random",
        "monotonic_clock",
        "stdout:to stdout",
        "stderr:to stderr",
        &format!("http:{url}"),
        &format!(
            r#"request:{{"method": "POST", "url": "{url}", "headers": [["x-a", "b"]], "body": "hi"}}"#
        ),
        "random",
        "wall_clock",
        "log:last",
    ]);
    let (tenant, run_id, code) = run("rp-probe", &["--allow-host", "http://127.0.0.1:*"], &plan);
    assert_eq!(code, 0);
    let report = assert_replayed(&run_id, &tenant);
    let kinds: Vec<String> = step_bodies(&run_id)
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    for kind in [
        "host.log",
        "host.clock.wall",
        "host.clock.monotonic",
        "host.random",
        "host.stdout",
        "host.stderr",
        "host.http",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert!(report["replayed_steps"].as_u64().unwrap() >= 10, "{report}");
}

#[tokio::test]
async fn retries_and_on_error_continue_replay() {
    add_test_skill("probe");
    let closed = format!("http:http://127.0.0.1:{}/", closed_port());
    let plan = json!({"planner": "e2e", "steps": [
        {"step_id": "flaky", "skill": "probe", "params": {"actions": ["log:try", closed]},
         "retry_count": 2, "on_error": "continue"},
        {"step_id": "fails", "skill": "probe", "params": {"actions": ["fail:on purpose"]},
         "on_error": "continue"},
        {"step_id": "after", "skill": "probe", "params": {"actions": ["log:still here", "random"]}},
        {"step_id": "skipped", "skill": "probe", "depends_on": ["fails"], "params": {"actions": []}},
        // Its params do not resolve: recorded, never invoked, nothing to re-run.
        {"step_id": "bad-params", "skill": "probe", "params": {"actions": ["log:{{ after.nope }}"]},
         "on_error": "continue"},
    ]});
    let (tenant, run_id, code) = run("rp-retry", &["--allow-host", "http://127.0.0.1:*"], &plan);
    assert_eq!(code, 0, "on_error continue: the run succeeds");
    let report = assert_replayed(&run_id, &tenant);
    // Three attempts of the flaky step, one each of the next two; the skipped one never ran.
    let attempts: Vec<(String, u64)> = report["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["step_id"].as_str().unwrap().to_string(),
                i["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            ("flaky".to_string(), 1),
            ("flaky".to_string(), 2),
            ("flaky".to_string(), 3),
            ("fails".to_string(), 1),
            ("after".to_string(), 1),
            ("bad-params".to_string(), 1)
        ]
    );
    assert_eq!(
        report["invocations"][5]["result"], "not-invoked",
        "{report}"
    );
}

#[tokio::test]
async fn limit_hits_and_traps_replay_as_recorded() {
    add_test_skill("hostile");
    add_test_skill("probe");
    let cases: Vec<(&str, Vec<&str>, Value, &str)> = vec![
        (
            "rp-calls",
            vec!["--max-host-calls", "5"],
            hostile("host_calls", "50"),
            "host call limit of 5 reached",
        ),
        (
            "rp-clock",
            vec!["--max-host-calls", "20"],
            hostile("clock_loop", ""),
            "host call limit of 20 reached",
        ),
        (
            "rp-fuel",
            vec!["--fuel", "2000000"],
            hostile("loop", ""),
            "fuel exhausted (2000000 units)",
        ),
        (
            "rp-mem",
            vec!["--max-memory", "16MiB"],
            hostile("alloc", ""),
            "memory limit of 16 MiB exceeded",
        ),
        (
            "rp-deadline",
            vec!["--timeout", "500ms"],
            hostile("loop", ""),
            "deadline of 500 ms exceeded",
        ),
        (
            // Stopped by the deadline between two clock reads: the replay reads until the
            // trace is exhausted, and the next read is where the deadline struck.
            "rp-deadline-reads",
            vec!["--timeout", "300ms", "--max-host-calls", "1000000"],
            hostile("clock_loop", ""),
            "deadline of 300 ms exceeded",
        ),
        (
            "rp-stack",
            vec![],
            hostile("recurse", ""),
            "wasm stack overflow",
        ),
        (
            "rp-output",
            vec!["--max-memory", "64MiB"],
            hostile("output", "5000000"),
            "output of 5000000 bytes exceeds the 4 MiB cap",
        ),
        (
            "rp-stdout",
            vec![],
            hostile("stdout_flood", ""),
            "stdout limit of 1 MiB reached",
        ),
        ("rp-trap", vec![], hostile("trap", ""), "wasm trap"),
        (
            // Parked in a host call (a WASI sleep) when the deadline struck: the host's
            // wall-clock bound, not the epoch, stopped it.
            "rp-sleep",
            vec!["--timeout", "500ms"],
            hostile("sleep", "3600"),
            "deadline of 500 ms exceeded",
        ),
        (
            // The replay's scratch directory is a fresh temporary one with the recorded
            // quotas: the same write is the one refused.
            "rp-scratch-bytes",
            vec!["--scratch-dir", "--scratch-max-bytes", "4MiB"],
            hostile("scratch_fill", "64"),
            "scratch quota of 4 MiB written reached",
        ),
        (
            "rp-scratch-files",
            vec!["--scratch-dir", "--scratch-max-files", "50"],
            hostile("scratch_files", "10000"),
            "scratch quota of 50 files created reached",
        ),
        (
            "rp-exit",
            vec![],
            hostile("exit", "3"),
            "skill called exit(",
        ),
        (
            "rp-panic",
            vec![],
            probe(&["log:before", "panic:boom"]),
            "wasm trap",
        ),
    ];
    let mut stopped_as_recorded = 0;
    for (name, flags, plan, reason) in cases {
        let (tenant, run_id, code) = run(name, &flags, &plan);
        assert_eq!(code, 3, "{name}");
        let steps = step_bodies(&run_id).await;
        let end = &steps.iter().find(|(k, _, _)| k == "skill.end").unwrap().2;
        assert_eq!(end["outcome"], "aborted", "{name}: {end}");
        assert!(
            end["error"].as_str().unwrap().contains(reason),
            "{name}: {end}"
        );
        let report = assert_replayed(&run_id, &tenant);
        assert_eq!(report["invocation_count"], 1, "{name}");
        if report["invocations"][0]["stopped_as_recorded"] == true {
            stopped_as_recorded += 1;
        }
    }
    // The clock loop stopped by its deadline asks for one more reading where the trace ends.
    assert_eq!(stopped_as_recorded, 1);
}

#[tokio::test]
async fn another_component_under_the_same_name_diverges_at_the_first_differing_step() {
    add_test_skill("probe");
    let server = Server::start();
    let url = server.url("/ok");
    let plan = probe(&["log:one", "wall_clock", &format!("http:{url}"), "log:two"]);
    let (tenant, run_id, code) = run("rp-other", &["--allow-host", "http://127.0.0.1:*"], &plan);
    assert_eq!(code, 0);
    let hits = server.hits();
    let variant = test_skill_path("probe_variant");
    let against = format!("probe={}", variant.display());
    let r = replay(&run_id, &tenant, &["--against", &against]);
    let report = r.json();
    assert_eq!(r.code, 5, "DIVERGED exits 5: {report}");
    assert_eq!(report["verdict"], "DIVERGED");
    // The variant logs before its request: the first differing step is the recorded
    // request's write-ahead intent, right before its exchange.
    let intent_step = index_of(&run_id, "host.intent", &url).await;
    assert_eq!(intent_step + 1, index_of(&run_id, "host.http", &url).await);
    let d = &report["divergence"];
    assert_eq!(d["step_index"], intent_step, "{report}");
    assert_eq!(d["expected"]["kind"], "host.intent");
    assert_eq!(d["actual"]["kind"], "host.log");
    assert!(
        d["actual"]["summary"]
            .as_str()
            .unwrap()
            .contains("fetching"),
        "{d}"
    );
    assert_eq!(report["substituted"][0]["skill"], "probe");
    assert_eq!(
        server.hits(),
        hits,
        "not even a diverging replay reaches the network"
    );

    // Text output says where and what.
    let text = runtime(&[
        "replay",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--against",
        &against,
    ]);
    assert_eq!(text.code, 5);
    assert!(
        text.stdout
            .contains(&format!("verdict: DIVERGED at step {intent_step}")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("expected: host.intent GET"),
        "{}",
        text.stdout
    );

    // The component file given for the recorded digest must be that component.
    let digest = report["invocations"][0]["digest"].as_str().unwrap();
    let wrong = format!("{digest}={}", variant.display());
    let r = replay(&run_id, &tenant, &["--component", &wrong]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("it is not that component"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn an_output_resealed_with_the_real_key_verifies_but_diverges() {
    add_test_skill("probe");
    let plan = probe(&["log:honest", "random"]);
    let (tenant, run_id, code) = run("rp-reseal", &[], &plan);
    assert_eq!(code, 0);
    assert_replayed(&run_id, &tenant);

    // A dishonest key holder: edit the recorded output, rebuild the chain, sign the new
    // head with the runtime's own key file.
    let db = superuser().await;
    let trace: (String, String) =
        sqlx::query_as("SELECT trace_id, signed_head FROM aos_traces WHERE run_id = $1")
            .bind(&run_id)
            .fetch_one(&db)
            .await
            .unwrap();
    let rows: Vec<(i64, Vec<u8>, String)> = sqlx::query_as(
        "SELECT id, payload, kind FROM aos_trace_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(&run_id)
    .fetch_all(&db)
    .await
    .unwrap();
    let mut chain = ChainBuilder::new(&tenant, &run_id, &trace.0);
    let mut sql = String::new();
    let mut end_index = None;
    for (n, (id, payload, kind)) in rows.iter().enumerate() {
        let mut payload = payload.clone();
        if kind == "skill.end" {
            let text = String::from_utf8(payload).unwrap();
            assert!(text.contains(r#""log":"honest""#), "{text}");
            payload = text
                .replace(r#""log":"honest""#, r#""log":"forged""#)
                .into_bytes();
            end_index = Some(n as u64);
        }
        let a = chain.append(&payload);
        sql.push_str(&format!(
            "UPDATE aos_trace_steps SET payload = '\\x{}'::bytea, prev_hash = '\\x{}'::bytea, hash = '\\x{}'::bytea WHERE id = {id};\n",
            hex::encode(&payload),
            hex::encode(a.prev_hash),
            hex::encode(a.hash)
        ));
    }
    let mut claims = decode_claims(&trace.1);
    claims.root_hash = hex::encode(chain.head());
    claims.merkle_root = hex::encode(chain.merkle_root());
    let key_pem = std::fs::read_to_string(home().join("keys/signing-key.pem")).unwrap();
    let key = signing_key_from_pem(&key_pem).unwrap();
    let signed = runproof_proof::sign_head(&claims, &key);
    sql.push_str(&format!(
        "UPDATE aos_traces SET root_hash = '\\x{}'::bytea, merkle_root = '\\x{}'::bytea, signed_head = '{signed}' WHERE run_id = '{run_id}';",
        hex::encode(chain.head()),
        hex::encode(chain.merkle_root())
    ));
    tamper(&db, &sql).await;
    db.close().await;

    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(code, 0, "the re-sealed trace verifies: {p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED");
    let r = replay(&run_id, &tenant, &[]);
    let report = r.json();
    assert_eq!(r.code, 5, "{report}");
    assert_eq!(report["verdict"], "DIVERGED");
    let d = &report["divergence"];
    assert_eq!(d["step_index"], end_index.unwrap(), "{report}");
    assert_eq!(d["expected"]["kind"], "skill.end");
    assert_eq!(
        d["expected"]["detail"]["output"]["results"][0]["log"],
        "forged"
    );
    assert_eq!(
        d["actual"]["detail"]["output"]["results"][0]["log"],
        "honest"
    );
}

#[tokio::test]
async fn an_unverified_trace_is_not_replayed() {
    add_test_skill("probe");
    let (tenant, run_id, _) = run("rp-unverified", &[], &probe(&["log:x"]));
    let db = superuser().await;
    tamper(
        &db,
        &format!(
            "UPDATE aos_trace_steps SET payload = convert_to(replace(convert_from(payload, 'UTF8'), 'log:x', 'log:y'), 'UTF8') WHERE run_id = '{run_id}'"
        ),
    )
    .await;
    db.close().await;
    let r = replay(&run_id, &tenant, &[]);
    let report = r.json();
    assert_eq!(r.code, 4, "{report}");
    assert_eq!(report["proof"]["verification_status"], "FAILED");
    assert_eq!(report["verdict"], Value::Null);
    assert!(report["refused"].as_str().unwrap().contains("not replayed"));
    assert!(report.get("invocations").is_none(), "nothing was replayed");
}

/// A RUNPROOF_HOME of its own (its own database, which this test stops), so stopping the
/// database and replacing `probe` do not touch the runs of the other tests.
fn private_home() -> std::path::PathBuf {
    let base = home();
    let dir = base
        .parent()
        .unwrap()
        .join(format!("e2e-replay-home-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn in_home(home: &std::path::Path, args: &[&str]) -> Run {
    runtime_cmd()
        .env("RUNPROOF_HOME", home)
        .args(args)
        .output()
        .expect("runtime starts")
        .into()
}

#[tokio::test]
async fn replaced_components_stay_replayable_and_bundles_replay_offline_with_the_database_stopped()
{
    let home = private_home();
    let rt = |args: &[&str]| in_home(&home, args);
    let probe_path = test_skill_path("probe");
    let variant_path = test_skill_path("probe_variant");
    rt(&["skill", "add", probe_path.to_str().unwrap()]).ok();
    let agent = rt(&[
        "--json",
        "agent",
        "create",
        "--name",
        "a",
        "--tenant-id",
        "t",
    ])
    .ok()
    .json()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = tempfile(&probe(&["log:hello", "wall_clock", "random"]).to_string());
    let run_with = |rt: &dyn Fn(&[&str]) -> Run| {
        rt(&[
            "--json",
            "-q",
            "run",
            "--agent-id",
            &agent,
            "--goal",
            "g",
            "--tenant-id",
            "t",
            "--origin-system-id",
            "e2e",
            "--plan",
            plan.to_str().unwrap(),
        ])
        .ok()
        .json()["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = run_with(&rt);
    // A different component under the same name, made current with --replace.
    let r = rt(&["skill", "add", variant_path.to_str().unwrap()]);
    assert_eq!(
        r.code, 1,
        "a different component under a taken name needs --replace"
    );
    rt(&["skill", "add", "--replace", variant_path.to_str().unwrap()]).ok();
    let second = run_with(&rt);

    // Both digests are kept; each run replays against its own.
    let listed = rt(&["--json", "skill", "list"]).ok().json().to_string();
    let digest_of =
        |p: &std::path::Path| runproof_host::component_digest(&std::fs::read(p).unwrap());
    let (d1, d2) = (digest_of(&probe_path), digest_of(&variant_path));
    assert!(listed.contains(&d1) && listed.contains(&d2), "{listed}");
    for run_id in [&first, &second] {
        let r = rt(&["--json", "replay", "--run-id", run_id, "--tenant-id", "t"]);
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(r.json()["verdict"], "REPLAYED");
    }
    let r = rt(&["--json", "replay", "--run-id", &first, "--tenant-id", "t"]).json();
    assert_eq!(r["invocations"][0]["replayed_digest"], d1.as_str());
    let r = rt(&["--json", "replay", "--run-id", &second, "--tenant-id", "t"]).json();
    assert_eq!(r["invocations"][0]["replayed_digest"], d2.as_str());

    // The database refuses to forget a component.
    let url = rt(&["db", "url"]).ok().stdout.trim().to_string();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let e = sqlx::query("DELETE FROM skills WHERE digest = $1")
        .bind(&d1)
        .execute(&db)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("stays retrievable"), "{e}");
    db.close().await;

    // Bundles: one with its components, one without; then the database stops.
    let dir = home.join("bundles");
    std::fs::create_dir_all(&dir).unwrap();
    let with = dir.join("with.json");
    let without = dir.join("without.json");
    let public = dir.join("key.pub");
    rt(&[
        "proof",
        "export",
        "--run-id",
        &first,
        "--tenant-id",
        "t",
        "-o",
        with.to_str().unwrap(),
        "--with-components",
    ])
    .ok();
    rt(&[
        "proof",
        "export",
        "--run-id",
        &second,
        "--tenant-id",
        "t",
        "-o",
        without.to_str().unwrap(),
    ])
    .ok();
    rt(&["keys", "export-public", "-o", public.to_str().unwrap()]).ok();
    rt(&["db", "stop"]).ok();
    let pid_file = home.join("postgres/data/postmaster.pid");
    assert!(!pid_file.exists(), "the database is stopped");

    // The bundle with components verifies with both verifiers (the spec's optional field).
    let v = support::verifiers::verify_both(&with, &[&public]);
    assert_eq!(v.code, 0, "{v:?}");
    let key = public.to_str().unwrap();
    let r = rt(&[
        "--json",
        "replay",
        with.to_str().unwrap(),
        "--trusted-key",
        key,
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["verdict"], "REPLAYED");
    assert_eq!(r.json()["source"], format!("bundle {}", with.display()));
    // And with no database reachable at all: DATABASE_URL names a port nobody listens on.
    let unreachable = format!("postgres://runproof@127.0.0.1:{}/runproof", closed_port());
    let r: Run = runtime_cmd()
        .env("RUNPROOF_HOME", &home)
        .env("DATABASE_URL", &unreachable)
        .args(["--json", "replay", with.to_str().unwrap(), "--trusted-key"])
        .arg(&public)
        .output()
        .expect("runtime starts")
        .into();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["verdict"], "REPLAYED");
    // Without its component the replay names the digest it needs...
    let r = rt(&[
        "--json",
        "replay",
        without.to_str().unwrap(),
        "--trusted-key",
        key,
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&d2) && r.stderr.contains("--component"),
        "{}",
        r.stderr
    );
    // ... and replays with it given by file.
    let given = format!("{d2}={}", variant_path.display());
    let r = rt(&[
        "--json",
        "replay",
        without.to_str().unwrap(),
        "--trusted-key",
        key,
        "--component",
        &given,
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["verdict"], "REPLAYED");
    assert!(
        !pid_file.exists(),
        "offline replay never started the database"
    );
    let _ = std::fs::remove_dir_all(&home);
}

fn decode_claims(envelope: &str) -> runproof_proof::TraceHeadClaims {
    use base64::Engine as _;
    let v: Value = serde_json::from_str(envelope).unwrap();
    let body = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&body).unwrap();
    serde_json::from_value(statement["predicate"].clone()).unwrap()
}

#[tokio::test]
async fn python_javascript_c_and_wasi_http_components_replay() {
    let server = Server::start();
    let tenant = tenant("rp-examples");
    let agent = agent_with(
        &tenant,
        &[
            "--allow-host",
            "http://127.0.0.1:*",
            "--max-host-calls",
            "100",
        ],
    );
    for (path, name) in [
        ("python_skill/json_pointer_py.wasm", "json_pointer_py"),
        ("js_skill/json_pointer_js.wasm", "json_pointer_js"),
        ("js_skill/fetch_pointer_js.wasm", "fetch_pointer_js"),
        ("c_skill/json_pointer_c.wasm", "json_pointer_c"),
        (
            "../guest/target/wasm32-wasip2/release/json_pointer_wasi_http.wasm",
            "json_pointer_wasi_http",
        ),
    ] {
        let file = example_component(path);
        runtime(&["skill", "add", "--replace", file.to_str().unwrap()]).ok();
        let input = json!({"url": server.url("/ok"), "pointer": "/hello"});
        let out = runtime(&[
            "--json",
            "-q",
            "skill",
            "invoke",
            name,
            "--agent-id",
            &agent,
            "--tenant-id",
            &tenant,
            "--input",
            &input.to_string(),
        ])
        .ok()
        .json();
        assert_eq!(out["output"]["value"], "world", "{name}: {out}");
        let run_id = out["run_id"].as_str().unwrap();
        let hits = server.hits();
        let report = assert_replayed(run_id, &tenant);
        assert_eq!(report["invocation_count"], 1, "{name}");
        assert!(
            report["replayed_steps"].as_u64().unwrap() >= 1,
            "{name}: {report}"
        );
        assert_eq!(
            server.hits(),
            hits,
            "{name}: replay must not reach the network"
        );
    }
}
