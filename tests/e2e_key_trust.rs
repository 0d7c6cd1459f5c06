//! The trust root is the key files, never the database. An attacker with superuser SQL
//! replaces a retired key's `signing_keys` row with their own key, rebuilds a failed run's
//! chain as `succeeded` and signs it with that key. A reviewer who follows the README
//! (`keys export-public` on the runtime's host, then `runtime proof` / `runtime verify`)
//! pins the genuine key and gets FAILED.

mod support;

use base64::Engine as _;
use runproof_proof::seal::{key_id, signing_key_from_seed, verifying_key_to_pem};
use runproof_proof::{ChainBuilder, TraceHeadClaims, sign_head};
use serde_json::Value;
use sqlx::Row;
use std::path::{Path, PathBuf};
use support::http::closed_port;
use support::*;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("e2e-keys")
        .join(format!("{name}-{}", tenant("d")));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hex_lit(bytes: &[u8]) -> String {
    format!("'\\x{}'::bytea", hex::encode(bytes))
}

fn claims_of(envelope: &str) -> TraceHeadClaims {
    let v: Value = serde_json::from_str(envelope).unwrap();
    let body = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&body).unwrap();
    serde_json::from_value(statement["predicate"].clone()).unwrap()
}

/// Rewrites the failed run's `run.end` as a success, re-links every step, and fixes the
/// trace and run rows to match: a chain consistent in every byte, needing only a signature.
async fn forge_success(db: &sqlx::PgPool, run_id: &str) -> ChainBuilder {
    let ids = sqlx::query("SELECT tenant_id, trace_id FROM aos_traces WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(db)
        .await
        .unwrap();
    let (tenant_id, trace_id): (String, String) = (ids.get(0), ids.get(1));
    let rows = sqlx::query(
        "SELECT id, kind, payload FROM aos_trace_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(db)
    .await
    .unwrap();
    let mut chain = ChainBuilder::new(&tenant_id, run_id, &trace_id);
    let mut sql = String::new();
    for row in rows {
        let (id, kind, mut payload): (i64, String, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
        let mut status = None;
        if kind == "run.end" {
            let mut v: Value = serde_json::from_slice(&payload).unwrap();
            v["status"] = "success".into();
            v["run_status"] = "succeeded".into();
            v["body"] = serde_json::json!({"status": "succeeded", "error": null});
            payload = serde_json::to_vec(&v).unwrap();
            status = Some("success");
        }
        let a = chain.append(&payload);
        sql.push_str(&format!(
            "UPDATE aos_trace_steps SET payload = {}, prev_hash = {}, hash = {}{} WHERE id = {id};\n",
            hex_lit(&payload),
            hex_lit(&a.prev_hash),
            hex_lit(&a.hash),
            status.map(|s| format!(", status = '{s}'")).unwrap_or_default()
        ));
    }
    sql.push_str(&format!(
        "UPDATE aos_traces SET status = 'succeeded', chain_length = {}, root_hash = {}, merkle_root = {} WHERE run_id = '{run_id}';
         UPDATE runs SET status = 'succeeded', error_message = NULL WHERE id = '{run_id}';",
        chain.len(),
        hex_lit(&chain.head()),
        hex_lit(&chain.merkle_root())
    ));
    tamper(db, &sql).await;
    chain
}

#[tokio::test]
async fn a_swapped_key_row_and_a_forged_resigned_chain_fail_for_a_reviewer_who_follows_the_readme()
{
    let dir = scratch("swap");
    let key_path = dir.join("signing.pem");
    let key = key_path.to_str().unwrap();
    let first = runtime(&["--json", "keys", "generate", "--out", key])
        .ok()
        .json();
    let genuine_id = first["key_id"].as_str().unwrap().to_string();

    // A real failed run, signed with the first key; then the key is rotated (retired).
    let tenant = tenant("k-swap");
    let agent_id = agent(&tenant, &["http://127.0.0.1:*"]);
    let r = runtime(&[
        "--json",
        "-q",
        "--signing-key",
        key,
        "run",
        "--agent-id",
        &agent_id,
        "--tenant-id",
        &tenant,
        "--origin-system-id",
        "e2e",
        "--goal",
        &format!("fetch http://127.0.0.1:{}/", closed_port()),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    runtime(&["keys", "generate", "--out", key, "--rotate"]).ok();

    // The attack. First: the row cannot be swapped by an ordinary UPDATE (append-only).
    let attacker = signing_key_from_seed([0x66; 32]);
    let attacker_pem = verifying_key_to_pem(&attacker.verifying_key()).unwrap();
    let db = superuser().await;
    let plain = sqlx::query("UPDATE signing_keys SET public_key_pem = $1 WHERE key_id = $2")
        .bind(&attacker_pem)
        .bind(&genuine_id)
        .execute(&db)
        .await;
    assert!(
        plain
            .unwrap_err()
            .to_string()
            .contains("signing_keys is append-only"),
        "the trigger refuses it"
    );
    // As a superuser with triggers off, it can: the retired key's row now holds theirs.
    tamper(
        &db,
        &format!(
            "UPDATE signing_keys SET public_key_pem = '{attacker_pem}' WHERE key_id = '{genuine_id}'"
        ),
    )
    .await;
    let chain = forge_success(&db, &run_id).await;
    let genuine: String =
        sqlx::query_scalar("SELECT signed_head FROM aos_traces WHERE run_id = $1")
            .bind(&run_id)
            .fetch_one(&db)
            .await
            .unwrap();
    let mut claims = claims_of(&genuine);
    claims.status = "succeeded".into();
    claims.chain_length = chain.len();
    claims.root_hash = hex::encode(chain.head());
    claims.merkle_root = hex::encode(chain.merkle_root());
    claims.run.as_mut().unwrap().error_message = None;
    let forged = sign_head(&claims, &attacker);
    // The trace still names the retired key: a reviewer looks that id up.
    tamper(
        &db,
        &format!("UPDATE aos_traces SET signed_head = '{forged}', signing_key_id = '{genuine_id}' WHERE run_id = '{run_id}'"),
    )
    .await;
    db.close().await;

    // The forgery is perfect but for the key: pinned, the attacker's key verifies it.
    let attacker_pub = dir.join("attacker.pub");
    std::fs::write(&attacker_pub, &attacker_pem).unwrap();
    let with_attacker = runtime(&[
        "--json",
        "proof",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "--trusted-key",
        attacker_pub.to_str().unwrap(),
    ]);
    assert_eq!(
        with_attacker.json()["integrity"]["verification_status"],
        "FAILED",
        "even then the signer column names another key: {}",
        with_attacker.stdout
    );
    assert!(
        with_attacker.json()["integrity"]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("aos_traces.signing_key_id"),
        "{}",
        with_attacker.stdout
    );

    // The reviewer's flow (README): the runtime's host exports the keys it holds.
    let listed = runtime(&["--json", "--signing-key", key, "keys", "list"])
        .ok()
        .json();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["row_key_id"] == genuine_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        row["consistent"], false,
        "keys list flags the swapped row: {row}"
    );
    assert_eq!(row["key_id"], key_id(&attacker.verifying_key()));
    let text = runtime(&["--signing-key", key, "keys", "list"]).ok().stdout;
    assert!(text.contains("TAMPERED"), "{text}");

    let old_pub = dir.join("old.pub");
    runtime(&[
        "--signing-key",
        key,
        "keys",
        "export-public",
        "--key-id",
        &genuine_id,
        "-o",
        old_pub.to_str().unwrap(),
    ])
    .ok();
    assert_ne!(
        std::fs::read_to_string(&old_pub).unwrap(),
        attacker_pem,
        "the genuine key comes from the retired key file, not the row"
    );
    let keyring = dir.join("keyring.pub");
    runtime(&[
        "--signing-key",
        key,
        "keys",
        "export-public",
        "--all",
        "-o",
        keyring.to_str().unwrap(),
    ])
    .ok();
    for pinned in [&old_pub, &keyring] {
        let r = runtime(&[
            "--json",
            "proof",
            "--run-id",
            &run_id,
            "--tenant-id",
            &tenant,
            "--trusted-key",
            pinned.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 4, "{r:?}");
        let p = r.json();
        assert_eq!(p["integrity"]["verification_status"], "FAILED");
        assert!(
            p["run_status"].is_null(),
            "no 'succeeded' beside the verdict: {p}"
        );
        assert!(
            p["integrity"]["failure_reason"]
                .as_str()
                .unwrap()
                .contains("not trusted"),
            "{p}"
        );
    }
    // Offline, with the bundle: the same.
    let bundle = dir.join("run.bundle.json");
    runtime(&[
        "proof",
        "export",
        "--run-id",
        &run_id,
        "--tenant-id",
        &tenant,
        "-o",
        bundle.to_str().unwrap(),
    ])
    .ok();
    let r = runtime(&[
        "verify",
        bundle.to_str().unwrap(),
        "--trusted-key",
        keyring.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stdout.contains("verification_status: FAILED"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("succeeded"), "{}", r.stdout);
}

#[tokio::test]
async fn no_key_material_is_exported_from_the_database_alone() {
    let dir = scratch("dbonly");
    let key = dir.join("signing.pem");
    // A runtime that holds no key file for the ids below.
    let elsewhere = dir.join("elsewhere.pem");
    runtime(&["keys", "generate", "--out", key.to_str().unwrap()]).ok();
    let attacker = signing_key_from_seed([0x67; 32]);
    let attacker_pem = verifying_key_to_pem(&attacker.verifying_key()).unwrap();
    let attacker_id = key_id(&attacker.verifying_key());
    let victim_id = "cd".repeat(32);
    let db = superuser().await;
    // One row whose key hashes to its id (the attacker's own), one that does not.
    tamper(
        &db,
        &format!(
            "INSERT INTO signing_keys (key_id, public_key_pem) VALUES ('{attacker_id}', '{attacker_pem}'), ('{victim_id}', '{attacker_pem}') ON CONFLICT DO NOTHING"
        ),
    )
    .await;
    db.close().await;
    let export = |id: &str| {
        runtime(&[
            "--signing-key",
            elsewhere.to_str().unwrap(),
            "keys",
            "export-public",
            "--key-id",
            id,
        ])
    };
    let r = export(&attacker_id);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "no key printed: {}", r.stdout);
    assert!(
        r.stderr.contains("never exported from the database alone"),
        "{}",
        r.stderr
    );
    let r = export(&victim_id);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains(&format!("hashes to {attacker_id}")) && r.stderr.contains("tampered"),
        "{}",
        r.stderr
    );
}
