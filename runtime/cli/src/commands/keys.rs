//! `runtime keys`: the signing key on disk and the public keys listed in the database.

use crate::args::KeysCommand;
use crate::database::Database;
use crate::output::{Out, short};
use crate::signing::{KeyLocation, generate_at};
use anyhow::{Context, Result, bail};
use runproof_proof::seal::{key_id, verifying_key_to_pem};
use std::os::unix::fs::DirBuilderExt;

pub async fn run(cmd: &KeysCommand, db: &Database, local: &KeyLocation, out: &Out) -> Result<()> {
    match cmd {
        KeysCommand::Generate { out: path, rotate } => generate(path.as_ref(), *rotate, local, out),
        KeysCommand::List => list(db, local, out).await,
        KeysCommand::ExportPublic { key_id, out: path } => {
            export_public(key_id.as_deref(), path.as_ref(), db, local, out).await
        }
    }
}

fn generate(
    path: Option<&std::path::PathBuf>,
    rotate: bool,
    local: &KeyLocation,
    out: &Out,
) -> Result<()> {
    let target = path.cloned().unwrap_or_else(|| local.path.clone());
    let mut retired = None;
    if target.exists() {
        if !rotate {
            bail!(
                "a signing key already exists at {}; pass --rotate to retire it and create a new one",
                target.display()
            );
        }
        // Keep the old private key (0600, beside the new one) rather than destroy it: the
        // operator decides when it is gone. Its public half stays in the database.
        let old = KeyLocation {
            path: target.clone(),
            explicit: true,
        }
        .load()?
        .context("the existing key file is empty")?;
        let id = key_id(&old.verifying_key());
        let dir = target
            .parent()
            .map(|p| p.join("retired"))
            .unwrap_or_else(|| "retired".into());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let dest = dir.join(format!("{id}.pem"));
        std::fs::rename(&target, &dest)
            .with_context(|| format!("moving the old key to {}", dest.display()))?;
        retired = Some((id, dest));
    }
    let key = generate_at(&target)?;
    let id = key_id(&key.verifying_key());
    let result = serde_json::json!({
        "key_id": id,
        "private_key": target,
        "retired": retired.as_ref().map(|(id, p)| serde_json::json!({"key_id": id, "moved_to": p})),
    });
    out.emit(&result, || {
        println!("key_id: {id}");
        println!(
            "private_key: {} (mode 0600; never leaves this machine)",
            target.display()
        );
        if let Some((old, p)) = &retired {
            println!("retired: {old} (moved to {})", p.display());
        }
        println!(
            "next: runtime keys export-public -o runproof-signing.pub   # give this to reviewers"
        );
    });
    Ok(())
}

async fn list(db: &Database, local: &KeyLocation, out: &Out) -> Result<()> {
    let store = db.ready_store().await?;
    let keys = store.list_signing_keys().await?;
    let local_id = local
        .load()
        .ok()
        .flatten()
        .map(|k| key_id(&k.verifying_key()));
    let rows: Vec<_> = keys
        .iter()
        .map(|k| {
            serde_json::json!({
                "key_id": k.key_id,
                "algorithm": k.algorithm,
                "created_at": k.created_at,
                "traces_signed": k.traces_signed,
                "local_signing_key": Some(&k.key_id) == local_id.as_ref(),
            })
        })
        .collect();
    out.emit(&rows, || {
        if keys.is_empty() {
            println!("no signing keys yet: the first `runtime run` creates and registers one");
        }
        for k in &keys {
            let mark = if Some(&k.key_id) == local_id.as_ref() {
                "  (local signing key)"
            } else {
                ""
            };
            println!(
                "{}  {}  {} trace(s) signed  created {}{mark}",
                short(&k.key_id),
                k.algorithm,
                k.traces_signed,
                k.created_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
    });
    store.close().await;
    Ok(())
}

async fn export_public(
    wanted: Option<&str>,
    path: Option<&std::path::PathBuf>,
    db: &Database,
    local: &KeyLocation,
    out: &Out,
) -> Result<()> {
    let (id, pem) = match wanted {
        // The local key needs no database: a reviewer's copy can be made offline.
        None => {
            let key = local.load()?.with_context(|| {
                format!(
                    "no signing key at {}; create one with `runtime keys generate`",
                    local.path.display()
                )
            })?;
            (
                key_id(&key.verifying_key()),
                verifying_key_to_pem(&key.verifying_key())?,
            )
        }
        Some(id) => {
            let store = db.ready_store().await?;
            let row = store.signing_key(id).await?.with_context(|| {
                format!("no signing key {id} in this database; `runtime keys list` shows them")
            })?;
            store.close().await;
            (row.key_id, row.public_key_pem)
        }
    };
    match path {
        Some(p) => {
            std::fs::write(p, &pem).with_context(|| format!("writing {}", p.display()))?;
            out.emit(&serde_json::json!({"key_id": id, "public_key": p}), || {
                println!("key_id: {id}");
                println!("public_key: {}", p.display());
            });
        }
        None if out.json => println!(
            "{}",
            serde_json::json!({"key_id": id, "public_key_pem": pem})
        ),
        None => print!("{pem}"),
    }
    Ok(())
}
