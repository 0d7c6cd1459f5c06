//! Through a real PgBouncer, in session and in transaction mode: the seed plan's flow, a
//! worker and `runtime serve`, all ending VERIFIED. The pooler gets a small server pool so
//! many client connections share each server connection (in transaction mode) (where named prepared statements
//! and session state would break).

#[path = "support/pgbouncer.rs"]
mod pgbouncer;
#[path = "support/service.rs"]
mod service;
mod support;

use pgbouncer::PgBouncer;
use serde_json::json;
use service::*;
use std::time::Duration;
use support::http::Server;
use support::*;

/// `runtime` with DATABASE_URL = `url`.
fn rt(url: &str, args: &[&str]) -> Run {
    runtime_cmd()
        .env("DATABASE_URL", url)
        .args(args)
        .output()
        .expect("runtime starts")
        .into()
}

fn through(mode: &str) {
    let _one = exclusive();
    // Session mode binds a server connection to each client connection for its whole life,
    // so the pool must cover every process's connections; transaction mode shares three.
    let pool = if mode == "session" { 40 } else { 3 };
    let bouncer = PgBouncer::start(mode, pool);
    let url = bouncer.url.clone();
    let target = Server::start();
    let tenant = tenant(&format!("pgb-{mode}"));

    // The seed flow: migrate (nothing pending), agent, run, the seed plan's SQL, proof.
    rt(&url, &["db", "migrate"]).ok();
    let status = rt(&url, &["--json", "db", "status"]).ok().json();
    assert_eq!(status["schema"]["pending"], 0, "{status}");
    let agent_id = rt(
        &url,
        &[
            "--json",
            "agent",
            "create",
            "--name",
            "run-proof-v2-agent",
            "--tenant-id",
            &tenant,
            "--allow-host",
            "http://127.0.0.1:*",
        ],
    )
    .ok()
    .json()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    rt(&url, &["agent", "list"]).ok();
    let goal = format!("Run proof v2 validation run on {}", target.url("/ok"));
    let run = rt(
        &url,
        &[
            "--json",
            "-q",
            "run",
            "--agent-id",
            &agent_id,
            "--goal",
            &goal,
            "--tenant-id",
            &tenant,
            "--origin-system-id",
            "run-proof-v2",
        ],
    )
    .ok()
    .json();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        // The seed plan's psql query, through the pooler (simple protocol, as psql sends it).
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(url.split('?').next().unwrap())
            .await
            .unwrap();
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SELECT trace_id, run_id, status FROM aos_traces WHERE run_id = '{run_id}'"
        )))
        .fetch_all(&mut c)
        .await
        .unwrap();
        rows.len()
    });
    assert_eq!(rows, 1);
    let p = rt(
        &url,
        &[
            "--json",
            "proof",
            "--run-id",
            &run_id,
            "--tenant-id",
            &tenant,
        ],
    );
    assert_eq!(p.code, 0, "{p:?}");
    assert_eq!(p.json()["integrity"]["verification_status"], "VERIFIED");
    rt(
        &url,
        &["runs", "show", "--run-id", &run_id, "--tenant-id", &tenant],
    )
    .ok();
    rt(&url, &["runs", "recover"]).ok();
    let bundle = tempfile("");
    rt(
        &url,
        &[
            "proof",
            "export",
            "--run-id",
            &run_id,
            "--tenant-id",
            &tenant,
            "-o",
            bundle.to_str().unwrap(),
        ],
    )
    .ok();

    // serve and a worker, both through the pooler; runs submitted at once, so their
    // connections interleave on the three server connections.
    let env = [("DATABASE_URL", url.as_str())];
    let (tok, _) = {
        let v = rt(&url, &["--json", "token", "create", "--tenant-id", &tenant])
            .ok()
            .json();
        (v["token"].as_str().unwrap().to_string(), ())
    };
    let api = serve(&[], &env);
    let w = worker(&["--concurrency", "6"], &env);
    let wake = w.stderr();
    match mode {
        "transaction" => assert!(wake.contains("wake-ups: polling"), "{wake}"),
        _ => assert!(wake.contains("wake-ups: LISTEN"), "{wake}"),
    }
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let (api, tok, agent_id, target) = (&api, &tok, &agent_id, &target);
                s.spawn(move || {
                    submit(api, tok, &json!({"agent_id": agent_id, "goal": format!("fetch {}", target.url("/ok")),
                        "origin_system_id": "e2e-pgbouncer", "idempotency_key": format!("k{i}")}))["run_id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for id in &ids {
        let run = wait_run(&api, &tok, id, Duration::from_secs(120));
        assert_eq!(run["status"], "succeeded", "{run}");
        let p = get(&api.url(&format!("/v1/runs/{id}/proof")), Some(&tok)).json();
        assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
    }
    assert_eq!(target.hits(), 25);
    w.signal(libc::SIGTERM);
    let (code, err) = w.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("prepared statement"), "{err}");
    assert!(
        !api.proc.stderr().contains("prepared statement"),
        "{}",
        api.proc.stderr()
    );
}

#[test]
fn everything_works_through_pgbouncer_in_session_mode() {
    through("session");
}

#[test]
fn everything_works_through_pgbouncer_in_transaction_mode() {
    through("transaction");
}

/// In transaction mode, LISTEN needs a direct connection: given one, the worker is woken
/// by notifications again.
#[test]
fn a_worker_behind_a_transaction_pooler_listens_on_a_direct_url() {
    let _one = exclusive();
    let bouncer = PgBouncer::start("transaction", 2);
    let env = [
        ("DATABASE_URL", bouncer.url.as_str()),
        ("RUNPROOF_LISTEN_URL", bouncer.direct.as_str()),
    ];
    let w = worker(&[], &env);
    assert!(w.stderr().contains("wake-ups: LISTEN"), "{}", w.stderr());
}

/// Migrations through a transaction-mode pooler (no session advisory lock, no named
/// statements) apply the schema to an empty database and record it exactly as sqlx does:
/// sqlx's own migrator, on a direct connection afterwards, finds nothing to do and no
/// checksum that differs.
#[test]
fn migrations_apply_through_a_transaction_pooler_as_sqlx_records_them() {
    let _one = exclusive();
    let bouncer = PgBouncer::start("transaction", 2);
    let name = format!("rp_pgb_{}", &tenant("m").replace('-', "_")[2..]);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = superuser().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
    });
    let swap = |url: &str| {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let (prefix, _) = base.rsplit_once('/').unwrap();
        match query {
            Some(q) => format!("{prefix}/{name}?{q}"),
            None => format!("{prefix}/{name}"),
        }
    };
    let pooled = swap(&bouncer.url);
    let direct = swap(&bouncer.direct);
    let behind = rt(&pooled, &["agent", "list"]);
    assert_eq!(behind.code, 1);
    assert!(behind.stderr.contains("runtime db migrate"), "{behind:?}");
    let applied = rt(&pooled, &["--json", "db", "migrate"]).ok().json();
    assert!(
        applied["applied"].as_array().unwrap().len() >= 8,
        "{applied}"
    );
    assert_eq!(applied["pending"], 0);
    // sqlx's migrator, direct: everything applied, every checksum the same.
    let again = rt(&direct, &["--json", "db", "migrate"]).ok().json();
    assert_eq!(again["applied"], json!([]), "{again}");
    rt(&pooled, &["agent", "list"]).ok();
}
