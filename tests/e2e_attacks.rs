//! The attack suite against stored traces: someone with superuser rights on Postgres (but
//! not the runtime's signing key) edits a real, finished, signed trace. Every case must end
//! `FAILED` (or not found), never `VERIFIED`. Runs come from `runtime run`; only the attack
//! itself is SQL. (`e2e_tamper.rs` holds the first few cases; `e2e_offline.rs` attacks bundles.)

mod support;

use runproof_proof::seal::signing_key_from_seed;
use runproof_proof::{ChainBuilder, TraceHeadClaims, sign_head};
use sqlx::{PgPool, Row};
use support::http::Server;
use support::*;

fn verified_run(name: &str) -> (String, String) {
    verified_http_run(name, "HASH_CHAIN")
}

fn hex_lit(bytes: &[u8]) -> String {
    format!("'\\x{}'::bytea", hex::encode(bytes))
}

struct TraceIds {
    tenant: String,
    run: String,
    trace: String,
}

async fn trace_of(db: &PgPool, run_id: &str) -> TraceIds {
    let row = sqlx::query("SELECT tenant_id, trace_id FROM aos_traces WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(db)
        .await
        .unwrap();
    TraceIds {
        tenant: row.get(0),
        run: run_id.to_string(),
        trace: row.get(1),
    }
}

/// (row id, step_index, payload) in index order.
async fn steps_of(db: &PgPool, run_id: &str) -> Vec<(i64, i64, Vec<u8>)> {
    sqlx::query(
        "SELECT id, step_index, payload FROM aos_trace_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// What an attacker with write access but no key can do best: re-hash every stored step
/// from its payload, renumber, and fix the trace row (length, both roots) to match.
async fn rebuild_chain(db: &PgPool, run_id: &str) -> ChainBuilder {
    let ids = trace_of(db, run_id).await;
    let mut chain = ChainBuilder::new(&ids.tenant, &ids.run, &ids.trace);
    let mut sql = String::new();
    for (id, _, payload) in steps_of(db, run_id).await {
        let a = chain.append(&payload);
        sql.push_str(&format!(
            "UPDATE aos_trace_steps SET step_index = {}, prev_hash = {}, hash = {} WHERE id = {id};\n",
            a.step_index + 1_000_000,
            hex_lit(&a.prev_hash),
            hex_lit(&a.hash)
        ));
    }
    sql.push_str(&format!(
        "UPDATE aos_trace_steps SET step_index = step_index - 1000000 WHERE run_id = '{run_id}';\n"
    ));
    sql.push_str(&format!(
        "UPDATE aos_traces SET chain_length = {}, root_hash = {}, merkle_root = {} WHERE run_id = '{run_id}';",
        chain.len(),
        hex_lit(&chain.head()),
        hex_lit(&chain.merkle_root())
    ));
    tamper(db, &sql).await;
    chain
}

async fn step_index_of(db: &PgPool, run_id: &str, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT step_index FROM aos_trace_steps WHERE run_id = $1 AND kind = $2 ORDER BY step_index LIMIT 1")
        .bind(run_id)
        .bind(kind)
        .fetch_one(db)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// One byte of each field of a step.

#[tokio::test]
async fn attack_stored_hash_byte_changed() {
    let (tenant, run_id) = verified_run("a-hash");
    let db = superuser().await;
    tamper(&db, &format!("UPDATE aos_trace_steps SET hash = set_byte(hash, 5, get_byte(hash, 5) # 1) WHERE run_id = '{run_id}' AND step_index = 2")).await;
    assert_not_verified(&run_id, &tenant, "step_index 2");
}

#[tokio::test]
async fn attack_prev_hash_byte_changed() {
    let (tenant, run_id) = verified_run("a-prev");
    let db = superuser().await;
    tamper(&db, &format!("UPDATE aos_trace_steps SET prev_hash = set_byte(prev_hash, 0, get_byte(prev_hash, 0) # 128) WHERE run_id = '{run_id}' AND step_index = 3")).await;
    assert_not_verified(&run_id, &tenant, "step_index 3");
}

#[tokio::test]
async fn attack_step_index_value_changed() {
    let (tenant, run_id) = verified_run("a-index");
    let db = superuser().await;
    tamper(&db, &format!("UPDATE aos_trace_steps SET step_index = 42 WHERE run_id = '{run_id}' AND step_index = 2")).await;
    assert_not_verified(&run_id, &tenant, "step_index 2 is missing");
}

#[tokio::test]
async fn attack_skill_digest_byte_changed() {
    // The digest of the component that ran sits in the hashed skill.start payload (and in
    // run.start, and in the signed head): change one hex digit of it in skill.start.
    let (tenant, run_id) = verified_run("a-digest");
    let db = superuser().await;
    let index = step_index_of(&db, &run_id, "skill.start").await;
    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM aos_trace_steps WHERE run_id = $1 AND step_index = $2",
    )
    .bind(&run_id)
    .bind(index)
    .fetch_one(&db)
    .await
    .unwrap();
    let text = String::from_utf8(payload).unwrap();
    let at = text.find("\"digest\":\"").unwrap() + 10;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    tamper(&db, &format!("UPDATE aos_trace_steps SET payload = {} WHERE run_id = '{run_id}' AND step_index = {index}", hex_lit(&bytes))).await;
    assert_not_verified(&run_id, &tenant, &format!("step_index {index}"));
}

#[tokio::test]
async fn attack_skill_digest_changed_and_chain_rebuilt() {
    // Swap in another component's digest everywhere the database holds it, rebuild the
    // chain: the signed head still names the component that really ran.
    let (tenant, run_id) = verified_run("a-digest2");
    let db = superuser().await;
    let digest: String = sqlx::query_scalar(
        "SELECT digest FROM skills WHERE name = 'http_call' AND builtin LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let fake = "0".repeat(64);
    tamper(&db, &format!(
        "UPDATE aos_trace_steps SET payload = convert_to(replace(convert_from(payload, 'UTF8'), '{digest}', '{fake}'), 'UTF8') WHERE run_id = '{run_id}'"
    )).await;
    rebuild_chain(&db, &run_id).await;
    assert_not_verified(&run_id, &tenant, "signed");
}

#[tokio::test]
async fn attack_payload_changed_and_its_hash_recomputed() {
    let (tenant, run_id) = verified_run("a-rehash");
    let db = superuser().await;
    let ids = trace_of(&db, &run_id).await;
    let steps = steps_of(&db, &run_id).await;
    let index = step_index_of(&db, &run_id, "host.http").await as usize;
    let forged = String::from_utf8(steps[index].2.clone())
        .unwrap()
        .replace("\"status\":200", "\"status\":201")
        .into_bytes();
    // Recompute this one step's hash from the true previous hash.
    let mut chain = ChainBuilder::new(&ids.tenant, &ids.run, &ids.trace);
    for (_, _, p) in &steps[..index] {
        chain.append(p);
    }
    let a = chain.append(&forged);
    tamper(&db, &format!(
        "UPDATE aos_trace_steps SET payload = {}, hash = {} WHERE run_id = '{run_id}' AND step_index = {index}",
        hex_lit(&forged),
        hex_lit(&a.hash)
    )).await;
    assert_not_verified(&run_id, &tenant, &format!("step_index {}", index + 1));
}

#[tokio::test]
async fn attack_whole_chain_rebuilt_without_the_signing_key() {
    let (tenant, run_id) = verified_run("a-rebuild");
    let db = superuser().await;
    tamper(&db, &format!(
        "UPDATE aos_trace_steps SET payload = convert_to(replace(convert_from(payload, 'UTF8'), '\"status\":200', '\"status\":299'), 'UTF8') WHERE run_id = '{run_id}'"
    )).await;
    rebuild_chain(&db, &run_id).await;
    assert_not_verified(&run_id, &tenant, "signed chain head differs");
}

// ---------------------------------------------------------------------------------------
// Steps deleted, cut, duplicated, forged, swapped.

#[tokio::test]
async fn attack_first_step_deleted() {
    let (tenant, run_id) = verified_run("a-del0");
    let db = superuser().await;
    tamper(
        &db,
        &format!("DELETE FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index = 0"),
    )
    .await;
    assert_not_verified(&run_id, &tenant, "step_index 0 is missing");
}

#[tokio::test]
async fn attack_middle_step_deleted() {
    let (tenant, run_id) = verified_run("a-delmid");
    let db = superuser().await;
    tamper(
        &db,
        &format!("DELETE FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index = 3"),
    )
    .await;
    assert_not_verified(&run_id, &tenant, "step_index 3 is missing");
}

#[tokio::test]
async fn attack_middle_step_deleted_and_chain_rebuilt() {
    let (tenant, run_id) = verified_run("a-delmid2");
    let db = superuser().await;
    let index = step_index_of(&db, &run_id, "host.http").await;
    tamper(
        &db,
        &format!("DELETE FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index = {index}"),
    )
    .await;
    rebuild_chain(&db, &run_id).await;
    assert_not_verified(&run_id, &tenant, "signed chain_length");
}

#[tokio::test]
async fn attack_tail_cut_and_trace_row_updated_to_match() {
    let (tenant, run_id) = verified_run("a-tail");
    let db = superuser().await;
    let last: i64 =
        sqlx::query_scalar("SELECT max(step_index) FROM aos_trace_steps WHERE run_id = $1")
            .bind(&run_id)
            .fetch_one(&db)
            .await
            .unwrap();
    tamper(
        &db,
        &format!(
            "DELETE FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index >= {}",
            last - 1
        ),
    )
    .await;
    rebuild_chain(&db, &run_id).await;
    assert_not_verified(&run_id, &tenant, "cut short");
}

#[tokio::test]
async fn attack_step_duplicated() {
    let (tenant, run_id) = verified_run("a-dup");
    let db = superuser().await;
    let last: i64 =
        sqlx::query_scalar("SELECT max(step_index) FROM aos_trace_steps WHERE run_id = $1")
            .bind(&run_id)
            .fetch_one(&db)
            .await
            .unwrap();
    tamper(&db, &format!(
        "INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, cost_cents, payload, prev_hash, hash)
         SELECT trace_id, run_id, tenant_id, {}, kind, skill_name, status, duration_ms, cost_cents, payload, prev_hash, hash
         FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index = 2",
        last + 1
    )).await;
    assert_not_verified(&run_id, &tenant, &format!("step_index {}", last + 1));
}

#[tokio::test]
async fn attack_forged_steps_inserted_with_a_valid_chain() {
    // Replace run.end by a forged host call and a forged run.end, every hash chained
    // properly and the row updated: only the signature is left to say no.
    let (tenant, run_id) = verified_run("a-forge");
    let db = superuser().await;
    let steps = steps_of(&db, &run_id).await;
    let (_, last_index, run_end) = steps.last().unwrap().clone();
    let row =
        sqlx::query("SELECT trace_id, tenant_id FROM aos_trace_steps WHERE run_id = $1 LIMIT 1")
            .bind(&run_id)
            .fetch_one(&db)
            .await
            .unwrap();
    let (trace_id, tenant_id): (String, String) = (row.get(0), row.get(1));
    let forged_call = br#"{"v":1,"kind":"host.log","skill":"http_call","status":"success","at":"2026-11-23T00:00:00Z","body":{"level":"info","message":"all good"}}"#.to_vec();
    tamper(
        &db,
        &format!(
            "DELETE FROM aos_trace_steps WHERE run_id = '{run_id}' AND step_index = {last_index}"
        ),
    )
    .await;
    let mut sql = String::new();
    for (offset, (kind, skill, payload)) in [
        ("host.log", "'http_call'", forged_call),
        ("run.end", "NULL", run_end),
    ]
    .into_iter()
    .enumerate()
    {
        let status = if kind == "run.end" {
            serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        } else {
            "success".into()
        };
        let duration =
            serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["duration_ms"]
                .as_i64()
                .map(|d| d.to_string())
                .unwrap_or("NULL".into());
        sql.push_str(&format!(
            "INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, payload, prev_hash, hash)
             VALUES ('{trace_id}', '{run_id}', '{tenant_id}', {}, '{kind}', {skill}, '{status}', {duration}, {}, ''::bytea, ''::bytea);\n",
            last_index + offset as i64,
            hex_lit(&payload)
        ));
    }
    tamper(&db, &sql).await;
    rebuild_chain(&db, &run_id).await;
    assert_not_verified(&run_id, &tenant, "signed chain_length");
}

#[tokio::test]
async fn attack_two_rows_swapped() {
    let (tenant, run_id) = verified_run("a-swaprows");
    let db = superuser().await;
    // Swap everything but the index between steps 2 and 3.
    tamper(&db, &format!(
        "UPDATE aos_trace_steps a SET kind = b.kind, skill_name = b.skill_name, status = b.status, duration_ms = b.duration_ms,
                payload = b.payload, prev_hash = b.prev_hash, hash = b.hash
         FROM aos_trace_steps b
         WHERE a.run_id = '{run_id}' AND b.run_id = '{run_id}' AND a.step_index + b.step_index = 5 AND a.step_index IN (2, 3)"
    )).await;
    assert_not_verified(&run_id, &tenant, "step_index 2");
}

#[tokio::test]
async fn attack_two_index_values_swapped() {
    let (tenant, run_id) = verified_run("a-swapidx");
    let db = superuser().await;
    tamper(
        &db,
        &format!(
        "UPDATE aos_trace_steps SET step_index = 1000 WHERE run_id = '{run_id}' AND step_index = 2;
         UPDATE aos_trace_steps SET step_index = 2 WHERE run_id = '{run_id}' AND step_index = 3;
         UPDATE aos_trace_steps SET step_index = 3 WHERE run_id = '{run_id}' AND step_index = 1000;"
    ),
    )
    .await;
    assert_not_verified(&run_id, &tenant, "step_index 2");
}

// ---------------------------------------------------------------------------------------
// Moved from another run or tenant.

async fn move_step(db: &PgPool, from_run: &str, to_run: &str, index: i64, relabel: bool) {
    let target = trace_of(db, to_run).await;
    // Relabelled: the row claims the target's ids. Not relabelled: it sits in the target
    // trace but still names its own run and tenant.
    let ids = if relabel {
        format!("'{}', '{}', '{}'", target.trace, target.run, target.tenant)
    } else {
        format!("'{}', s.run_id, s.tenant_id", target.trace)
    };
    tamper(db, &format!(
        "DELETE FROM aos_trace_steps WHERE run_id = '{to_run}' AND step_index = {index};
         INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, cost_cents, payload, prev_hash, hash)
         SELECT {ids}, step_index, kind, skill_name, status, duration_ms, cost_cents, payload, prev_hash, hash
         FROM aos_trace_steps s WHERE s.run_id = '{from_run}' AND s.step_index = {index};"
    )).await;
}

#[tokio::test]
async fn attack_step_moved_from_another_run() {
    let (tenant, run_id) = verified_run("a-moverun");
    let db = superuser().await;
    // Another run of the same tenant, same agent shape, same plan.
    let server = Server::start();
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let other = runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch {}", server.url("/ok")),
    ])
    .ok()
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    move_step(&db, &other, &run_id, 3, true).await;
    assert_not_verified(&run_id, &tenant, "step_index 3");
}

#[tokio::test]
async fn attack_step_moved_from_another_tenant() {
    let (tenant, run_id) = verified_run("a-movetenant");
    let (_, other) = verified_run("a-movetenant-other");
    let db = superuser().await;
    move_step(&db, &other, &run_id, 2, false).await;
    assert_not_verified(&run_id, &tenant, "step_index 2");
}

#[tokio::test]
async fn attack_signed_head_moved_from_another_run() {
    let (tenant, run_id) = verified_run("a-headrun");
    let server = Server::start();
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let other = runtime(&[
        "--json",
        "-q",
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch {}", server.url("/ok")),
    ])
    .ok()
    .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let db = superuser().await;
    tamper(&db, &format!("UPDATE aos_traces SET signed_head = (SELECT signed_head FROM aos_traces WHERE run_id = '{other}') WHERE run_id = '{run_id}'")).await;
    assert_not_verified(&run_id, &tenant, "another trace");
}

#[tokio::test]
async fn attack_signed_head_moved_from_another_tenant() {
    let (tenant, run_id) = verified_run("a-headtenant");
    let (_, other) = verified_run("a-headtenant-other");
    let db = superuser().await;
    // The whole sealed head: row fields and signature.
    tamper(&db, &format!(
        "UPDATE aos_traces t SET signed_head = o.signed_head, chain_length = o.chain_length, root_hash = o.root_hash, merkle_root = o.merkle_root
         FROM aos_traces o WHERE t.run_id = '{run_id}' AND o.run_id = '{other}'"
    )).await;
    assert_not_verified(&run_id, &tenant, "");
}

// ---------------------------------------------------------------------------------------
// The signature and the sealed row.

#[tokio::test]
async fn attack_signature_stripped() {
    let (tenant, run_id) = verified_run("a-strip");
    let db = superuser().await;
    tamper(&db, &format!("UPDATE aos_traces SET signed_head = NULL, signing_key_id = NULL WHERE run_id = '{run_id}'")).await;
    assert_not_verified(&run_id, &tenant, "not signed");
}

#[tokio::test]
async fn attack_signed_with_an_unpinned_key() {
    // Rebuild the chain after an edit and sign a perfect head with the attacker's own key.
    let (tenant, run_id) = verified_run("a-unpinned");
    let db = superuser().await;
    tamper(&db, &format!(
        "UPDATE aos_trace_steps SET payload = convert_to(replace(convert_from(payload, 'UTF8'), '\"status\":200', '\"status\":204'), 'UTF8') WHERE run_id = '{run_id}'"
    )).await;
    let chain = rebuild_chain(&db, &run_id).await;
    let ids = trace_of(&db, &run_id).await;
    let genuine: String =
        sqlx::query_scalar("SELECT signed_head FROM aos_traces WHERE run_id = $1")
            .bind(&run_id)
            .fetch_one(&db)
            .await
            .unwrap();
    let mut claims = decode_claims(&genuine);
    claims.root_hash = hex::encode(chain.head());
    claims.merkle_root = hex::encode(chain.merkle_root());
    claims.chain_length = chain.len();
    assert_eq!(claims.trace_id, ids.trace);
    let attacker = signing_key_from_seed([0x42; 32]);
    let forged = sign_head(&claims, &attacker);
    tamper(
        &db,
        &format!("UPDATE aos_traces SET signed_head = '{forged}' WHERE run_id = '{run_id}'"),
    )
    .await;
    assert_not_verified(&run_id, &tenant, "not trusted");
}

#[tokio::test]
async fn attack_genuine_run_checked_against_another_pinned_key() {
    let (tenant, run_id) = verified_run("a-otherpin");
    let pem = runproof_proof::seal::verifying_key_to_pem(
        &signing_key_from_seed([0x43; 32]).verifying_key(),
    )
    .unwrap();
    let key = tempfile(&pem);
    let r = runtime(&[
        "--json",
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--trusted-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 4);
    assert_eq!(r.json()["integrity"]["verification_status"], "FAILED");
    assert!(
        r.json()["integrity"]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("not trusted")
    );
}

#[tokio::test]
async fn attack_integrity_model_downgraded() {
    let (tenant, run_id) = verified_http_run("a-downgrade", "MERKLE_TREE");
    let db = superuser().await;
    let ids = trace_of(&db, &run_id).await;
    let mut chain = ChainBuilder::new(&ids.tenant, &ids.run, &ids.trace);
    for (_, _, p) in steps_of(&db, &run_id).await {
        chain.append(&p);
    }
    // The row now claims HASH_CHAIN with a correct chain head: consistent on its own.
    tamper(&db, &format!(
        "UPDATE aos_traces SET integrity_model = 'HASH_CHAIN', root_hash = {} WHERE run_id = '{run_id}'",
        hex_lit(&chain.head())
    )).await;
    assert_not_verified(&run_id, &tenant, "downgrade");
}

#[tokio::test]
async fn attack_chain_length_plus_one() {
    let (tenant, run_id) = verified_run("a-lenplus");
    let db = superuser().await;
    tamper(
        &db,
        &format!("UPDATE aos_traces SET chain_length = chain_length + 1 WHERE run_id = '{run_id}'"),
    )
    .await;
    assert_not_verified(&run_id, &tenant, "missing");
}

#[tokio::test]
async fn attack_chain_length_minus_one() {
    let (tenant, run_id) = verified_run("a-lenminus");
    let db = superuser().await;
    tamper(
        &db,
        &format!("UPDATE aos_traces SET chain_length = chain_length - 1 WHERE run_id = '{run_id}'"),
    )
    .await;
    assert_not_verified(&run_id, &tenant, "beyond the sealed chain_length");
}

#[tokio::test]
async fn attack_crashed_unsealed_trace_marked_completed() {
    // A real interrupted run (Ctrl-C mid-request) leaves an unsealed trace. Seal it by hand
    // with a correct chain head and a forged run.end: without the key it stays unverified.
    let server = Server::start();
    let tenant = tenant("a-crash");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = interrupted_run(&server, &tenant, &agent_id);
    assert_eq!(r.code, 130, "{r:?}");
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let db = superuser().await;
    let ids = trace_of(&db, &run_id).await;
    let steps = steps_of(&db, &run_id).await;
    let mut chain = ChainBuilder::new(&ids.tenant, &ids.run, &ids.trace);
    for (_, _, p) in &steps {
        chain.append(p);
    }
    let mut sql = String::new();
    // Whatever was durable when the process died (the writer may not have flushed yet),
    // complete it into a well-formed chain: run.start if missing, then run.end.
    if steps.is_empty() {
        let run_start = br#"{"v":1,"kind":"run.start","status":"success","at":"2026-11-23T00:00:00Z","body":{"skills":{}}}"#;
        let a = chain.append(run_start);
        sql.push_str(&format!(
            "INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, status, payload, prev_hash, hash)
             VALUES ('{}', '{run_id}', '{}', 0, 'run.start', 'success', {}, {}, {});",
            ids.trace, ids.tenant, hex_lit(run_start), hex_lit(&a.prev_hash), hex_lit(&a.hash)
        ));
    }
    let run_end = br#"{"v":1,"kind":"run.end","status":"success","duration_ms":5,"run_status":"succeeded","at":"2026-11-23T00:00:00Z","body":{"status":"succeeded","error":null}}"#;
    let a = chain.append(run_end);
    tamper(&db, &format!(
        "{sql}
         INSERT INTO aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, status, duration_ms, payload, prev_hash, hash)
         VALUES ('{}', '{run_id}', '{}', {}, 'run.end', 'success', 5, {}, {}, {});
         UPDATE aos_traces SET status = 'succeeded', completed_at = now(), chain_length = {}, root_hash = {}, sealed_at = now() WHERE run_id = '{run_id}';
         UPDATE runs SET status = 'succeeded', error_message = NULL WHERE id = '{run_id}';",
        ids.trace, ids.tenant, a.step_index, hex_lit(run_end), hex_lit(&a.prev_hash), hex_lit(&a.hash),
        chain.len(), hex_lit(&chain.head())
    )).await;
    assert_not_verified(&run_id, &tenant, "not signed");
}

fn decode_claims(envelope: &str) -> TraceHeadClaims {
    use base64::Engine as _;
    let v: serde_json::Value = serde_json::from_str(envelope).unwrap();
    let body = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&body).unwrap();
    serde_json::from_value(statement["predicate"].clone()).unwrap()
}
