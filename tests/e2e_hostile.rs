//! Hostile skills: each test runs one action of the `hostile` fixture (tests/skills/hostile)
//! through the real binary and checks that
//! - the runtime process survives: it exits 3 (the run failed), not by a signal or panic;
//! - the run ends `failed` with a reason naming the cause;
//! - the denied attempt or the limit hit is a recorded trace step;
//! - `runtime proof` says VERIFIED.

mod support;

use serde_json::{Value, json};
use support::*;

fn plan(action: &str, arg: &str) -> Value {
    json!({"planner": "e2e", "steps": [
        {"step_id": "attack", "skill": "hostile", "params": {"action": action, "arg": arg}}
    ]})
}

/// One run of the hostile skill, as stored.
struct Attack {
    run_id: String,
    /// The run's error message (the failed step's reason).
    error: String,
    /// (kind, status, body) of every step, in order.
    steps: Vec<(String, String, Value)>,
}

impl Attack {
    /// The `skill.end` step's body.
    fn skill_end(&self) -> &Value {
        &self
            .steps
            .iter()
            .find(|(k, _, _)| k == "skill.end")
            .expect("a skill.end step")
            .2
    }

    /// Recorded denials (host.denied steps with status failure and a `denied` body).
    fn denials(&self) -> Vec<&Value> {
        self.steps
            .iter()
            .filter(|(k, s, b)| k == "host.denied" && s == "failure" && b["denied"].is_object())
            .map(|(_, _, b)| &b["denied"])
            .collect()
    }

    fn run_start_policy(&self) -> &Value {
        &self.steps[0].2["policy"]
    }
}

/// Runs `action` for a fresh agent created with `flags`; asserts the run failed (exit 3),
/// its trace is sealed and VERIFIED, and returns what was stored.
async fn attack(name: &str, flags: &[&str], action: &str, arg: &str) -> Attack {
    add_test_skill("hostile");
    let tenant = tenant(name);
    let agent_id = agent_with(&tenant, flags);
    let r = run_plan(&agent_id, &tenant, &plan(action, arg));
    assert_eq!(
        r.code, 3,
        "the runtime must survive and report a failed run (exit 3): {r:?}"
    );
    let report = r.json();
    assert_eq!(report["status"], "failed", "{report}");
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let error = report["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
    assert_eq!(p["aos_traces"][0]["status"], "failed");

    let steps = step_bodies(&run_id).await;
    let attack = Attack {
        run_id,
        error,
        steps,
    };
    let (_, end_status, _) = attack
        .steps
        .iter()
        .find(|(k, _, _)| k == "skill.end")
        .unwrap();
    assert_eq!(
        end_status, "failure",
        "the step that was stopped is recorded as failed"
    );
    attack
}

/// Asserts the skill was stopped by the sandbox with `reason`, recorded in its skill.end.
fn assert_aborted(a: &Attack, reason: &str) {
    assert_eq!(
        a.skill_end()["outcome"],
        "aborted",
        "run {}: {:?}",
        a.run_id,
        a.skill_end()
    );
    assert_eq!(a.skill_end()["error"], reason, "run {}", a.run_id);
    assert!(
        a.error.contains(reason),
        "run error {:?} should name {reason:?}",
        a.error
    );
}

#[tokio::test]
async fn read_etc_passwd_is_denied_and_recorded() {
    let a = attack("passwd", &[], "read_file", "/etc/passwd").await;
    assert!(
        a.error.contains("denied: cannot read /etc/passwd"),
        "{}",
        a.error
    );
    let denials = a.denials();
    assert_eq!(denials.len(), 1, "{:?}", a.steps);
    assert_eq!(denials[0]["interface"], "wasi:filesystem/preopens");
    assert!(
        denials[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no filesystem")
    );
    // Nothing of the file made it anywhere into the trace.
    assert!(
        !a.steps
            .iter()
            .any(|(_, _, b)| b.to_string().contains("root:x:0:0"))
    );
}

#[tokio::test]
async fn open_socket_is_denied_and_recorded() {
    let port = support::http::Server::start();
    let a = attack("socket", &[], "socket", &format!("127.0.0.1:{}", port.port)).await;
    assert_eq!(port.hits(), 0, "nothing may be contacted");
    assert!(a.error.contains("denied: cannot connect"), "{}", a.error);
    let denials = a.denials();
    assert!(!denials.is_empty(), "{:?}", a.steps);
    assert_eq!(denials[0]["interface"], "wasi:sockets/tcp-create-socket");
}

#[tokio::test]
async fn name_lookup_is_denied_and_recorded() {
    let a = attack("dns", &[], "socket", "localhost:9").await;
    assert!(a.error.contains("denied: cannot connect"), "{}", a.error);
    let denials = a.denials();
    assert!(!denials.is_empty(), "{:?}", a.steps);
    assert_eq!(denials[0]["interface"], "wasi:sockets/ip-name-lookup");
    assert!(denials[0]["call"].as_str().unwrap().contains("localhost"));
}

#[tokio::test]
async fn loop_forever_hits_the_deadline() {
    let started = std::time::Instant::now();
    let a = attack("loop", &["--timeout", "1s"], "loop", "").await;
    assert_aborted(&a, "deadline of 1000 ms exceeded");
    assert_eq!(
        a.run_start_policy()["limits"]["effective"]["hostile"]["timeout_ms"],
        1000
    );
    // Generous: the point is that the loop was stopped, not how fast.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn allocate_without_bound_hits_the_memory_limit() {
    let a = attack("alloc", &["--max-memory", "16MiB"], "alloc", "").await;
    assert_aborted(&a, "memory limit of 16 MiB exceeded");
    assert_eq!(
        a.run_start_policy()["limits"]["effective"]["hostile"]["max_memory_bytes"],
        16 << 20
    );
    assert_eq!(
        a.run_start_policy()["limits"]["agent_grant"]["max_memory_bytes"],
        16 << 20
    );
}

#[tokio::test]
async fn recurse_without_bound_is_a_contained_stack_overflow() {
    let a = attack("recurse", &[], "recurse", "").await;
    assert_aborted(&a, "wasm stack overflow");
}

#[tokio::test]
async fn return_100_mb_of_output_hits_the_output_cap() {
    // Enough memory for the guest to build the output, so the output cap is what stops it.
    let a = attack("output", &["--max-memory", "256MiB"], "output", "104857600").await;
    assert_aborted(&a, "output of 104857600 bytes exceeds the 4 MiB cap");
    // The output itself is not in the trace.
    assert!(
        a.steps
            .iter()
            .all(|(_, _, b)| b.to_string().len() < 1 << 20)
    );
}

#[tokio::test]
async fn make_100_000_host_calls_hits_the_host_call_cap() {
    let a = attack("hostcalls", &[], "host_calls", "100000").await;
    assert_aborted(&a, "host call limit of 10000 reached");
    let logs = a.steps.iter().filter(|(k, _, _)| k == "host.log").count();
    assert!(
        logs > 0 && logs <= 10_000,
        "{logs} log steps: the cap bounds the trace"
    );
}

#[tokio::test]
async fn reading_the_clock_forever_hits_the_host_call_cap() {
    // Clock reads cannot trap by themselves; the cap still holds (checked every epoch tick).
    let a = attack("clockloop", &["--max-host-calls", "50"], "clock_loop", "").await;
    assert_aborted(&a, "host call limit of 50 reached");
    let clocks = a
        .steps
        .iter()
        .filter(|(k, _, _)| k.starts_with("host.clock"))
        .count();
    assert!(clocks > 0 && clocks <= 50, "{clocks} clock steps");
}

#[tokio::test]
async fn trap_is_contained() {
    let a = attack("trap", &[], "trap", "").await;
    assert_aborted(&a, "wasm trap: wasm `unreachable` instruction executed");
}

#[tokio::test]
async fn flooding_stdout_hits_the_stdio_cap() {
    let a = attack("stdout", &[], "stdout_flood", "").await;
    assert_aborted(&a, "stdout limit of 1 MiB reached");
    let (_, _, captured) = a
        .steps
        .iter()
        .find(|(k, _, _)| k == "host.stdout")
        .expect("captured stdout is recorded");
    // A full pipe is 1 MiB: recorded whole when its step fits the 1 MiB step cap, else as
    // its size, SHA-256 and prefix (the bounded trace, issue 10).
    let size = match captured["text"].as_str() {
        Some(text) => text.len() as u64,
        None => captured["text"]["digest"]["size"].as_u64().unwrap(),
    };
    assert!(size > 0 && size <= 1 << 20, "{size}");
}

#[tokio::test]
async fn exit_is_contained() {
    // WASI p2's exit carries only success or failure: exit(7) arrives as exit(1).
    let a = attack("exit", &[], "exit", "7").await;
    assert_aborted(&a, "skill called exit(1)");
}

#[tokio::test]
async fn fuel_exhaustion_names_the_fuel_grant() {
    let a = attack("fuel", &["--fuel", "10000000"], "loop", "").await;
    assert_aborted(&a, "fuel exhausted (10000000 units)");
    assert_eq!(
        a.run_start_policy()["limits"]["effective"]["hostile"]["fuel"],
        10_000_000
    );
}

#[tokio::test]
async fn scratch_dir_not_granted_is_denied() {
    let a = attack("noscratch", &[], "scratch", "/scratch").await;
    assert!(
        a.error
            .contains("denied: cannot write /scratch/hostile.txt"),
        "{}",
        a.error
    );
    assert_eq!(a.denials()[0]["interface"], "wasi:filesystem/preopens");
    assert_eq!(a.run_start_policy()["wasi"]["filesystem"], "none");
}

#[tokio::test]
async fn scratch_dir_granted_is_usable_and_removed_after_the_run() {
    add_test_skill("hostile");
    let tenant = tenant("scratch");
    let agent_id = agent_with(&tenant, &["--scratch-dir"]);
    let r = run_plan(&agent_id, &tenant, &plan("scratch", "/scratch"));
    assert_eq!(r.code, 0, "{r:?}");
    let report = r.json();
    let out = &report["steps"][0]["output"];
    assert_eq!(out["read_back"], "written by the hostile skill");
    assert_eq!(
        out["entries"],
        json!(["hostile.txt"]),
        "a fresh, empty directory per run"
    );
    let run_id = report["run_id"].as_str().unwrap();
    let dir = home().join("scratch").join(run_id);
    assert!(
        !dir.exists(),
        "{} must be removed after the run",
        dir.display()
    );
    let (code, p) = proof(run_id, &tenant);
    assert_eq!(code, 0);
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED");
    let steps = step_bodies(run_id).await;
    assert!(
        steps[0].2["policy"]["wasi"]["filesystem"]
            .as_str()
            .unwrap()
            .contains("/scratch")
    );

    // Even with a scratch dir, nothing outside it can be named.
    let r = run_plan(&agent_id, &tenant, &plan("read_file", "/etc/passwd"));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.json()["error_message"]
            .as_str()
            .unwrap()
            .contains("denied")
    );
}

#[tokio::test]
async fn environment_and_arguments_are_empty() {
    add_test_skill("hostile");
    let tenant = tenant("env");
    let agent_id = agent_with(&tenant, &[]);
    // The runtime itself runs with RUNPROOF_HOME and more in its environment.
    let r = run_plan(&agent_id, &tenant, &plan("env", ""));
    assert_eq!(r.code, 0, "{r:?}");
    let out = &r.json()["steps"][0]["output"];
    assert_eq!(
        out["vars"],
        json!([]),
        "no host environment variable reaches a skill"
    );
    assert_eq!(out["args"], json!([]), "no arguments");
    // The guest libc's own default, not the runtime's working directory.
    assert_eq!(out["cwd"], "/");
}

/// 20 runs at once, half hostile: the benign ones succeed with verified proofs, each hostile
/// one fails with its own reason, and every trace holds only its own run's steps.
#[tokio::test]
async fn twenty_concurrent_runs_half_hostile() {
    add_test_skill("hostile");
    let tenant = tenant("concurrent");
    let agent_id = agent_with(&tenant, &["--timeout", "2s", "--max-memory", "32MiB"]);
    // A benign run alone first, for the order of magnitude of its duration.
    let solo = run_plan(&agent_id, &tenant, &plan("log", "alone"))
        .ok()
        .json()["duration_ms"]
        .as_u64()
        .unwrap();
    let cases: Vec<(String, &str, String)> = (0..20)
        .map(|i| match i % 4 {
            0 => (format!("benign-{i}"), "log", format!("hello from run {i}")),
            1 => (format!("loop-{i}"), "loop", String::new()),
            2 => (format!("benign-{i}"), "log", format!("hello from run {i}")),
            _ => (format!("alloc-{i}"), "alloc", String::new()),
        })
        .collect();
    let children: Vec<_> = cases
        .iter()
        .map(|(_, action, arg)| {
            let file = tempfile(&plan(action, arg).to_string());
            runtime_cmd()
                .args([
                    "--json",
                    "-q",
                    "run",
                    "--agent-id",
                    &agent_id,
                    "--goal",
                    "e2e",
                    "--tenant-id",
                    &tenant,
                ])
                .args([
                    "--origin-system-id",
                    "e2e-tests",
                    "--plan",
                    file.to_str().unwrap(),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("runtime starts")
        })
        .collect();
    let results: Vec<Run> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().into())
        .collect();

    for ((label, action, arg), r) in cases.iter().zip(&results) {
        let report = r.json();
        let run_id = report["run_id"].as_str().unwrap();
        let (code, p) = proof(run_id, &tenant);
        assert_eq!(code, 0, "{label}: {p}");
        assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{label}");
        let steps = step_bodies(run_id).await;
        // The trace is this run's: its start names it, its skill.start carries its input.
        assert_eq!(steps[0].2["run_id"], run_id, "{label}");
        let start = steps.iter().find(|(k, _, _)| k == "skill.start").unwrap();
        assert_eq!(
            start.2["input"],
            json!({"action": action, "arg": arg}),
            "{label}"
        );
        match *action {
            "log" => {
                assert_eq!(r.code, 0, "{label}: {r:?}");
                let took = report["duration_ms"].as_u64().unwrap();
                eprintln!("{label}: {took} ms (alone: {solo} ms)");
                // Same order of magnitude as alone, with a generous bound on purpose (20
                // processes on a shared machine): not a performance target.
                assert!(
                    took < (20 * solo).max(5_000),
                    "{label}: {took} ms, alone {solo} ms"
                );
                let logs: Vec<_> = steps.iter().filter(|(k, _, _)| k == "host.log").collect();
                assert_eq!(logs.len(), 1, "{label}: exactly its own log line");
                assert_eq!(logs[0].2["message"], arg.as_str());
            }
            "loop" => {
                assert_eq!(r.code, 3, "{label}: {r:?}");
                assert!(
                    report["error_message"]
                        .as_str()
                        .unwrap()
                        .contains("deadline of 2000 ms exceeded"),
                    "{label}"
                );
            }
            _ => {
                assert_eq!(r.code, 3, "{label}: {r:?}");
                assert!(
                    report["error_message"]
                        .as_str()
                        .unwrap()
                        .contains("memory limit of 32 MiB exceeded"),
                    "{label}"
                );
            }
        }
    }
}
