//! Shared by the end-to-end tests: the real `runtime` binary, the real built-in Postgres
//! (one cluster shared by all tests, each test in its own tenant), real skill components
//! built from `tests/skills/`, and a real HTTP server on loopback.
#![allow(dead_code)]

pub mod http;
pub mod verifiers;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A component under `examples/` (`path` relative to it), built once per test process by
/// `scripts/build-examples` with the commands the examples' READMEs give.
pub fn example_component(path: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/build-examples"))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("scripts/build-examples runs");
        assert!(
            status.success(),
            "scripts/build-examples failed (scripts/setup installs the example toolchains)"
        );
    });
    let p = repo_root().join("examples").join(path);
    assert!(p.is_file(), "{} was not built", p.display());
    p
}

/// RUNPROOF_HOME for the tests. Under the target dir when the `postgres` user can reach it
/// (it must, when tests run as root), else under /tmp.
pub fn home() -> PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        if let Ok(h) = std::env::var("RUNPROOF_TEST_HOME") {
            return PathBuf::from(h);
        }
        let preferred = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-home");
        if world_traversable(&preferred) {
            preferred
        } else {
            std::env::temp_dir().join("runproof-e2e-home")
        }
    })
    .clone()
}

fn world_traversable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().skip(1).filter(|p| p.exists()).all(|p| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

/// The result of one `runtime` invocation.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "runtime failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// `runtime` with the test home and no DATABASE_URL: the built-in database.
pub fn runtime_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runtime"));
    c.env("RUNPROOF_HOME", home())
        .env_remove("DATABASE_URL")
        .env_remove("RUNPROOF_LOG");
    c
}

pub fn runtime(args: &[&str]) -> Run {
    runtime_cmd()
        .args(args)
        .output()
        .expect("runtime starts")
        .into()
}

/// A tenant id no other test uses, in this run or an earlier one on the same database.
pub fn tenant(name: &str) -> String {
    format!("t-{name}-{}", &uuid_like()[20..])
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // Low bits: nanoseconds (distinct between calls) mixed with the pid and a counter
    // (distinct between threads and processes calling in the same nanosecond).
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128;
    let salt = (u128::from(std::process::id()) << 20) ^ (call << 40);
    format!("{:032x}", n ^ salt)
}

/// Creates an agent for `tenant` granted `hosts`; returns its id.
pub fn agent(tenant: &str, hosts: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "agent",
        "create",
        "--name",
        "e2e-agent",
        "--tenant-id",
        tenant,
    ];
    for h in hosts {
        args.extend(["--allow-host", h]);
    }
    runtime(&args).ok().json()["agent_id"]
        .as_str()
        .expect("agent_id")
        .to_string()
}

/// `runtime run` with a plan file; returns the invocation (exit 0 or 3 both print JSON).
pub fn run_plan(agent_id: &str, tenant: &str, plan: &Value) -> Run {
    let file = tempfile(&plan.to_string());
    runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        agent_id,
        "--goal",
        "e2e",
        "--tenant-id",
        tenant,
        "--origin-system-id",
        "e2e-tests",
        "--plan",
        file.to_str().unwrap(),
    ])
}

/// `runtime proof` as JSON, with its exit code. The run's offline forms (bundle, inclusion
/// proof) are exported too and checked by both verifiers, which must agree
/// ([`verifiers::check_exports`]): every run a suite proves, genuine or forged, is also a
/// conformance case for the second verifier.
#[track_caller]
pub fn proof(run_id: &str, tenant: &str) -> (i32, Value) {
    let r = runtime(&["--json", "proof", "--run-id", run_id, "--tenant-id", tenant]);
    let code = r.code;
    let v = r.json();
    verifiers::check_exports(run_id, tenant, code == 0);
    (code, v)
}

pub fn tempfile(contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", uuid_like()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Builds every test component in `tests/skills/` (once per test process) and returns the
/// directory holding `<name>.wasm`. They build through the guest workspace into its one
/// target dir, `guest/target`, as runtime/builtin-skills/build.rs builds `skills/`: the
/// dependencies the two share compile once, and cargo's lock on that dir queues concurrent
/// builds (this process holds no other cargo lock, so nothing waits in a cycle). Each build
/// names its crates with `-p`, so none rewrites another's components.
pub fn test_skills_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = repo_root();
            let target = root.join("guest/target");
            let fixtures = root.join("tests/skills");
            let mut names: Vec<String> = std::fs::read_dir(&fixtures)
                .unwrap_or_else(|e| panic!("reading {}: {e}", fixtures.display()))
                .filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect();
            names.sort();
            assert!(
                !names.is_empty(),
                "no fixture crate in {}",
                fixtures.display()
            );
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(root.join("guest/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target);
            for name in &names {
                cmd.args(["-p", name]);
            }
            let status = cmd
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .status()
                .expect("cargo runs");
            assert!(
                status.success(),
                "building tests/skills through guest/Cargo.toml failed (is the wasm32-wasip2 \
                 target installed? is every tests/skills/<name> a member there?)"
            );
            target.join("wasm32-wasip2/release")
        })
        .clone()
}

/// The built component `tests/skills/<name>`, not added to the database.
pub fn test_skill_path(name: &str) -> PathBuf {
    test_skills_dir().join(format!("{name}.wasm"))
}

/// Builds the test skill components and adds `name` to the test database. Returns the
/// component path.
pub fn add_test_skill(name: &str) -> PathBuf {
    let path = test_skill_path(name);
    // --replace: a developer's test database may hold an older build of the fixture.
    runtime(&["skill", "add", "--replace", path.to_str().unwrap()]).ok();
    path
}

/// Creates an agent for `tenant` with extra `agent create` flags (limits, --scratch-dir).
pub fn agent_with(tenant: &str, flags: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "agent",
        "create",
        "--name",
        "e2e-agent",
        "--tenant-id",
        tenant,
    ];
    args.extend(flags);
    runtime(&args).ok().json()["agent_id"]
        .as_str()
        .expect("agent_id")
        .to_string()
}

/// Every step of `run_id` as (kind, status, payload body), in chain order, read from the
/// stored bytes.
pub async fn step_bodies(run_id: &str) -> Vec<(String, String, Value)> {
    let db = superuser().await;
    let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT kind, status, payload FROM aos_trace_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(&db)
    .await
    .unwrap();
    db.close().await;
    rows.into_iter()
        .map(|(kind, status, payload)| {
            let v: Value = serde_json::from_slice(&payload).unwrap();
            (kind, status, v["body"].clone())
        })
        .collect()
}

/// A superuser connection to the test database, for the checks the seed plans do by SQL
/// and for the attacks a database administrator could make.
pub async fn superuser() -> sqlx::PgPool {
    let url = runtime(&["db", "url"]).ok().stdout.trim().to_string();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect as superuser")
}

/// Runs `sql` with triggers disabled for this session, as an attacker with superuser
/// rights would (the append-only and seal-once triggers would otherwise refuse).
pub async fn tamper(db: &sqlx::PgPool, sql: &str) {
    let mut conn = db.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SET session_replication_role = DEFAULT")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// A fresh one-step `http_call` run for a new tenant, checked `VERIFIED`; returns
/// (tenant, run_id). `model` is the `--integrity-model`.
pub fn verified_http_run(name: &str, model: &str) -> (String, String) {
    let server = http::Server::start();
    let tenant = tenant(name);
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--integrity-model",
        model,
        "--goal",
        &format!("fetch {}", server.url("/ok")),
    ])
    .ok();
    let run_id = r.json()["run_id"].as_str().expect("run_id").to_string();
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(
        (code, p["integrity"]["verification_status"].as_str()),
        (0, Some("VERIFIED")),
        "{p}"
    );
    (tenant, run_id)
}

/// `runtime proof` must say FAILED (exit 4) with a reason that mentions `reason_contains`
/// (and its exported bundle and inclusion proof go through both verifiers, see [`proof`]).
#[track_caller]
pub fn assert_not_verified(run_id: &str, tenant: &str, reason_contains: &str) {
    let (code, p) = proof(run_id, tenant);
    assert_eq!(code, 4, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "FAILED", "{p}");
    let reason = p["integrity"]["failure_reason"]
        .as_str()
        .expect("failure_reason");
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should mention {reason_contains:?}"
    );
}

/// Starts a run whose skill waits on `server`'s `/slow`, and interrupts it with SIGINT (as a
/// terminal's Ctrl-C would) once the request is in flight. Returns the finished invocation.
pub fn interrupted_run(server: &http::Server, tenant: &str, agent_id: &str) -> Run {
    signalled_run(server, tenant, agent_id, libc::SIGINT, &[])
}

/// Starts a run whose skill waits on `server`'s `/slow` (with `env` set for the `runtime`
/// process), sends it `signal` once the request is in flight, and returns how it ended.
pub fn signalled_run(
    server: &http::Server,
    tenant: &str,
    agent_id: &str,
    signal: i32,
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = runtime_cmd();
    cmd.args([
        "--json",
        "-q",
        "run",
        "--agent-id",
        agent_id,
        "--tenant-id",
        tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
    ])
    .arg(format!("wait for {}", server.url("/slow")))
    .stdout(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("runtime starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.hits() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending a signal to our own child process by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    child.wait_with_output().expect("runtime exits").into()
}

/// The one run of `tenant` (for runs whose `runtime run` died before printing its id).
pub fn only_run_of(tenant: &str) -> Value {
    let runs = runtime(&["--json", "runs", "list", "--tenant-id", tenant])
        .ok()
        .json();
    let runs = runs.as_array().expect("a list of runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// Every stored payload of `run_id`, the exact bytes, in `step_index` order.
pub async fn stored_payloads(run_id: &str) -> Vec<Vec<u8>> {
    let db = superuser().await;
    let rows = sqlx::query_scalar(
        "SELECT payload FROM aos_trace_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(&db)
    .await
    .expect("read the stored payloads");
    db.close().await;
    rows
}
