//! Someone with superuser rights on the database edits a finished trace. The proof must
//! never say VERIFIED afterwards. (The triggers stop ordinary writes; these attacks turn
//! them off first, as a database administrator could.)

mod support;

use support::*;

fn verified_run(name: &str) -> (String, String) {
    verified_http_run(name, "HASH_CHAIN")
}

#[tokio::test]
async fn ordinary_writes_to_steps_and_sealed_traces_are_refused() {
    let (_, run_id) = verified_run("appendonly");
    let db = superuser().await;
    let update = sqlx::query("UPDATE aos_trace_steps SET status = 'success' WHERE run_id = $1")
        .bind(&run_id)
        .execute(&db)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM aos_trace_steps WHERE run_id = $1")
        .bind(&run_id)
        .execute(&db)
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let reseal = sqlx::query("UPDATE aos_traces SET chain_length = 1 WHERE run_id = $1")
        .bind(&run_id)
        .execute(&db)
        .await;
    assert!(reseal.unwrap_err().to_string().contains("sealed"));
    // A step appended to a sealed trace (a copy of its own step 1 under a new index).
    let append = sqlx::query(
        "INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, payload, prev_hash, hash)
         SELECT trace_id, run_id, tenant_id, 1000, kind, skill_name, status, duration_ms, payload, prev_hash, hash
         FROM aos_trace_steps WHERE run_id = $1 AND step_index = 1",
    )
    .bind(&run_id)
    .execute(&db)
    .await;
    assert!(append.unwrap_err().to_string().contains("is sealed"));
    // TRUNCATE, inside a transaction that is rolled back whatever happens.
    let mut tx = db.begin().await.unwrap();
    let truncate = sqlx::query("TRUNCATE aos_trace_steps")
        .execute(&mut *tx)
        .await;
    tx.rollback().await.unwrap();
    assert!(truncate.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn one_payload_byte_changed() {
    let (tenant, run_id) = verified_run("payload");
    let db = superuser().await;
    // Flip the first byte of the http step's payload ('{' becomes 'z').
    tamper(&db, &format!(
        "UPDATE aos_trace_steps SET payload = set_byte(payload, 0, 122) WHERE run_id = '{run_id}' AND kind = 'host.http'"
    ))
    .await;
    let index: i64 = sqlx::query_scalar(
        "SELECT step_index FROM aos_trace_steps WHERE run_id = $1 AND kind = 'host.http'",
    )
    .bind(&run_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_not_verified(&run_id, &tenant, &format!("step_index {index}"));
}

#[tokio::test]
async fn last_step_deleted() {
    let (tenant, run_id) = verified_run("droplast");
    let db = superuser().await;
    tamper(&db, &format!(
        "DELETE FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index = (SELECT max(step_index) FROM aos_trace_steps WHERE run_id = '{run_id}')"
    ))
    .await;
    assert_not_verified(&run_id, &tenant, "missing");
}

#[tokio::test]
async fn failure_status_rewritten_as_success() {
    // The original system's own bug, attempted on purpose: the column says success, the
    // hashed bytes say otherwise.
    let (tenant, run_id) = verified_run("status");
    let db = superuser().await;
    tamper(&db, &format!("UPDATE aos_trace_steps SET status = 'failure' WHERE run_id = '{run_id}' AND kind = 'host.log'")).await;
    assert_not_verified(&run_id, &tenant, "status column");
}

#[tokio::test]
async fn another_tenant_gets_not_found() {
    let (_, run_id) = verified_run("tenant");
    let r = runtime(&[
        "--json",
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        "someone-else",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.json()["error"].as_str().unwrap().contains("not found"));
    let r = runtime(&[
        "runs",
        "show",
        "--run-id",
        &run_id,
        "--tenant-id",
        "someone-else",
    ]);
    assert_eq!(r.code, 1);
}

#[tokio::test]
async fn unsealed_trace_is_never_verified() {
    // A crash leaves the trace unsealed; simulate by clearing the seal.
    let (tenant, run_id) = verified_run("unsealed");
    let db = superuser().await;
    tamper(&db, &format!(
        "UPDATE aos_traces SET chain_length = NULL, root_hash = NULL, sealed_at = NULL, status = 'running',
                signed_head = NULL, signing_key_id = NULL, merkle_root = NULL WHERE run_id = '{run_id}'"
    ))
    .await;
    assert_not_verified(&run_id, &tenant, "not sealed");
}
