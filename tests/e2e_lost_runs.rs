//! No run stays `running`: a runner that is terminated marks its run failed, and one that
//! is killed outright loses its lease, after which any command marks the run failed. In
//! every case the trace stays unsealed and its proof is not VERIFIED.

mod support;

use support::http::Server;
use support::*;

#[test]
fn sigterm_fails_the_run_like_ctrl_c() {
    let server = Server::start();
    let tenant = tenant("sigterm");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = signalled_run(&server, &tenant, &agent_id, libc::SIGTERM, &[]);
    assert_eq!(r.code, 143, "128 + SIGTERM: {r:?}");
    let run = only_run_of(&tenant);
    assert_eq!(run["status"], "failed");
    let error = run["error_message"].as_str().unwrap();
    assert!(error.contains("SIGTERM"), "{error}");
    assert_not_verified(run["run_id"].as_str().unwrap(), &tenant, "not sealed");
}

#[test]
fn a_killed_runner_loses_its_lease_and_the_next_command_fails_the_run() {
    let server = Server::start();
    let tenant = tenant("sigkill");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = signalled_run(
        &server,
        &tenant,
        &agent_id,
        libc::SIGKILL,
        &[("RUNPROOF_LEASE_TTL", "1s")],
    );
    assert_eq!(r.code, -1, "killed, no exit code: {r:?}");
    // Still held until the lease runs out (nothing renews it any more).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let run = only_run_of(&tenant);
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error_message"].as_str().unwrap();
    assert!(error.starts_with("runner lost (runner/"), "{error}");
    assert!(error.contains("last heartbeat at 20"), "{error}");
    assert!(run["completed_at"].is_string(), "{run}");
    assert_not_verified(run["run_id"].as_str().unwrap(), &tenant, "not sealed");
}

#[test]
fn runs_recover_reports_what_it_failed() {
    let server = Server::start();
    let tenant = tenant("recover");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    signalled_run(
        &server,
        &tenant,
        &agent_id,
        libc::SIGKILL,
        &[("RUNPROOF_LEASE_TTL", "1s")],
    );
    // Other tests' commands may recover it first; wait for the lease, then ask.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let run_id = only_run_of(&tenant)["run_id"].as_str().unwrap().to_string();
    let recovered = runtime(&["--json", "runs", "recover"]).ok().json();
    let listed = recovered["recovered"].as_array().unwrap();
    // Either this command recovered it, or an earlier one did: it is failed either way,
    // and it is never recovered twice.
    assert!(
        listed
            .iter()
            .filter(|r| r["run_id"] == run_id.as_str())
            .count()
            <= 1
    );
    assert_eq!(only_run_of(&tenant)["status"], "failed");
    let again = runtime(&["--json", "runs", "recover"]).ok().json();
    assert!(
        !again["recovered"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["run_id"] == run_id.as_str()),
        "{again}"
    );
}

#[test]
fn a_live_runner_keeps_its_run() {
    // A run longer than its lease (the /slow request takes 5 s, the lease 1 s) is renewed
    // all along: recovery in between must not touch it, and it ends VERIFIED.
    let server = Server::start();
    let tenant = tenant("renewed");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
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
        .args(["--origin-system-id", "e2e", "--goal"])
        .arg(format!("wait for {}", server.url("/slow")))
        .env("RUNPROOF_LEASE_TTL", "1s")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runtime starts");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    runtime(&["runs", "recover"]).ok();
    let r: Run = child.wait_with_output().unwrap().into();
    let r = r.ok();
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(
        (code, &p["integrity"]["verification_status"]),
        (0, &"VERIFIED".into()),
        "{p}"
    );
}
