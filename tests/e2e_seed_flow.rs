//! The seed plans' flow, verbatim where they give SQL: create an agent, run a goal from the
//! CLI, find the trace with the seeds' queries, get HASH_CHAIN + VERIFIED.

mod support;

use sqlx::Row;
use support::http::Server;
use support::*;

#[tokio::test]
async fn seed_flow_run_trace_sql_and_verified_proof() {
    let server = Server::start();
    let tenant = tenant("seed");
    let created = runtime(&[
        "--json",
        "agent",
        "create",
        "--name",
        "run-proof-v2-agent",
        "--allow-host",
        "http://127.0.0.1:*",
    ])
    .ok()
    .json();
    let agent_id = created["agent_id"].as_str().unwrap().to_string();
    let listed = runtime(&["--json", "agent", "list"]).ok().json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent_id"] == agent_id.as_str() && a["name"] == "run-proof-v2-agent")
    );

    let goal = format!("Run proof v2 validation run against {}", server.url("/ok"));
    let run = runtime(&[
        "--json",
        "run",
        "--agent-id",
        &agent_id,
        "--goal",
        &goal,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "run-proof-v2",
    ])
    .ok()
    .json();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    assert_eq!(run["status"], "succeeded");
    assert_eq!(server.hits(), 1, "the skill's GET reached the server once");

    // The seeds' SQL, verbatim.
    let db = superuser().await;
    let traces = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT trace_id, run_id, status FROM aos_traces WHERE run_id = '{run_id}';"
    )))
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(traces.len(), 1);
    let trace_id: String = traces[0].get("trace_id");
    let by_trace: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM aos_trace_steps WHERE trace_id = '{trace_id}';"
    )))
    .fetch_one(&db)
    .await
    .unwrap();
    let by_run: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS step_count FROM aos_trace_steps WHERE run_id = '{run_id}';"
    )))
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(by_trace >= 1);
    assert_eq!(by_trace, by_run);
    let seed_v2: (String, String, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT run_id, tenant_id, status FROM aos_traces WHERE run_id = '{run_id}';"
    )))
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        seed_v2,
        (run_id.clone(), tenant.clone(), "succeeded".to_string())
    );

    // The coordinator, through the CLI: the fields the seed's script prints.
    let (code, p) = proof(&run_id, &tenant);
    assert_eq!(code, 0);
    assert_eq!(p["integrity"]["model"], "HASH_CHAIN");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED");
    assert_eq!(p["integrity"]["chain_length"], by_run);
    assert_eq!(p["aos_traces"].as_array().unwrap().len(), 1);
    assert_eq!(
        p["aos_trace_steps"].as_array().unwrap().len() as i64,
        by_run
    );
    let root: Vec<u8> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT root_hash FROM aos_traces WHERE run_id = '{run_id}'"
    )))
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(p["integrity"]["root_hash"], hex_of(&root));

    // The human form prints the seed script's field names.
    let text = runtime(&["proof", "--run-id", &run_id, "--tenant-id", &tenant])
        .ok()
        .stdout;
    for field in [
        "integrity_model: HASH_CHAIN",
        "verification_status: VERIFIED",
        "chain_length:",
        "root_hash:",
        "trace_count: 1",
        "step_count:",
    ] {
        assert!(text.contains(field), "missing {field:?} in:\n{text}");
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn fix_a_origin_system_id_is_required_and_not_legacy() {
    let tenant = tenant("fixa");
    let agent_id = agent(&tenant, &[]);
    let db = superuser().await;

    let missing = sqlx::query(
        "INSERT INTO runs (id, agent_id, tenant_id, goal) VALUES ('fixa-1', $1, $2, 'g')",
    )
    .bind(&agent_id)
    .bind(&tenant)
    .execute(&db)
    .await
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("null value in column \"origin_system_id\""),
        "{missing}"
    );

    let legacy = sqlx::query("INSERT INTO runs (id, agent_id, tenant_id, origin_system_id, goal) VALUES ('fixa-2', $1, $2, 'legacy-migration', 'g')")
        .bind(&agent_id)
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap_err()
        .to_string();
    assert!(legacy.contains("legacy-migration"), "{legacy}");

    let no_flag = runtime(&[
        "run",
        "--agent-id",
        &agent_id,
        "--goal",
        "http://127.0.0.1:1/",
        "--tenant-id",
        &tenant,
    ]);
    assert_eq!(no_flag.code, 2, "{no_flag:?}");
    assert!(
        no_flag.stderr.contains("--origin-system-id"),
        "{}",
        no_flag.stderr
    );

    let legacy_flag = runtime(&[
        "run",
        "--agent-id",
        &agent_id,
        "--goal",
        "http://127.0.0.1:1/",
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "legacy-migration",
    ]);
    assert_eq!(legacy_flag.code, 1);
    assert!(
        legacy_flag.stderr.contains("reserved"),
        "{}",
        legacy_flag.stderr
    );

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no run row may be written by a rejected request");
}

#[tokio::test]
async fn bad_input_is_one_line_nonzero_and_writes_nothing() {
    let tenant = tenant("badinput");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let db = superuser().await;
    let base = ["run", "--tenant-id", &tenant, "--origin-system-id", "e2e"];

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--agent-id".into(),
                agent_id.clone(),
                "--goal".into(),
                "do something useful".into(),
            ],
            "names no http(s) URL",
        ),
        (
            vec![
                "--agent-id".into(),
                "no-such-agent".into(),
                "--goal".into(),
                "http://127.0.0.1:1/".into(),
            ],
            "agent no-such-agent",
        ),
        (
            vec![
                "--agent-id".into(),
                agent_id.clone(),
                "--goal".into(),
                "g".into(),
                "--plan".into(),
                tempfile("{not json").to_string_lossy().into(),
            ],
            "bad plan",
        ),
        (
            vec![
                "--agent-id".into(),
                agent_id.clone(),
                "--goal".into(),
                "g".into(),
                "--plan".into(),
                tempfile(r#"{"planner":"m","steps":[{"step_id":"a","skill":"no_such_skill"}]}"#)
                    .to_string_lossy()
                    .into(),
            ],
            "unknown skill",
        ),
    ];
    for (extra, needle) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter().map(String::as_str));
        let r = runtime(&args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(needle),
            "{args:?}: stderr should mention {needle:?}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // Another tenant's agent is not usable, and looks the same as a missing one.
    let other = support::tenant("other");
    let r = runtime(&[
        "run",
        "--agent-id",
        &agent_id,
        "--goal",
        "http://127.0.0.1:1/",
        "--tenant-id",
        &other,
        "--origin-system-id",
        "e2e",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);

    // A bad policy pattern is refused at agent creation, not discovered at run time.
    let r = runtime(&[
        "agent",
        "create",
        "--name",
        "x",
        "--allow-host",
        "127.0.0.1",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("scheme://"), "{}", r.stderr);

    // Malformed wasm is refused by `skill add`, and nothing is stored.
    let junk = tempfile("definitely not wasm");
    let r = runtime(&["skill", "add", junk.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not WebAssembly"), "{}", r.stderr);
}

#[test]
fn database_url_selects_an_existing_database() {
    // The built-in database, addressed as an external one: DATABASE_URL wins over the
    // private cluster, and its (already migrated) schema is accepted.
    let url = runtime(&["db", "url"]).ok().stdout.trim().to_string();
    let status: Run = runtime_cmd()
        .env("DATABASE_URL", &url)
        .args(["--json", "db", "status"])
        .output()
        .unwrap()
        .into();
    let status = status.ok().json();
    assert_eq!(status["server"]["kind"], "external");
    assert_eq!(status["schema"]["pending"], 0);
    let listed: Run = runtime_cmd()
        .env("DATABASE_URL", &url)
        .args(["--json", "agent", "list"])
        .output()
        .unwrap()
        .into();
    assert!(listed.ok().json().is_array());
}

#[test]
fn unreachable_database_is_a_clear_error() {
    let r: Run = runtime_cmd()
        .env(
            "DATABASE_URL",
            format!(
                "postgres://nobody@127.0.0.1:{}/nothing",
                support::http::closed_port()
            ),
        )
        .args(["agent", "list"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: cannot reach the database at 127.0.0.1:"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    let json: Run = runtime_cmd()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
        .args(["--json", "agent", "list"])
        .output()
        .unwrap()
        .into();
    assert!(
        json.json()["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach")
    );
}
