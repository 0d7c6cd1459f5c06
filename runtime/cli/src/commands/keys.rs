//! `runtime keys`: the signing key on disk and the public keys listed in the database.
//!
//! Trust: a key id is always computed from the key bytes, never read from a column or a
//! file name; a public key is handed to a reviewer only from the key files this runtime
//! holds (current and `keys/retired/`), never from the database, which only *lists* keys
//! (an attacker who can write it could list their own).

use crate::args::KeysCommand;
use crate::database::Database;
use crate::output::{Out, short};
use crate::signing::{KeyLocation, generate_at, held_keys, retired_dir};
use anyhow::{Context, Result, bail};
use runproof_proof::seal::{key_id, key_id_of_pem, verifying_key_to_pem};
use std::os::unix::fs::DirBuilderExt;

pub async fn run(cmd: &KeysCommand, db: &Database, local: &KeyLocation, out: &Out) -> Result<()> {
    match cmd {
        KeysCommand::Generate { out: path, rotate } => generate(path.as_ref(), *rotate, local, out),
        KeysCommand::List => list(db, local, out).await,
        KeysCommand::ExportPublic {
            key_id,
            all,
            out: path,
        } => match all {
            true => export_keyring(path.as_ref(), local, out),
            false => export_public(key_id.as_deref(), path.as_ref(), db, local, out).await,
        },
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
        let dir = retired_dir(&target);
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
        outln!("key_id: {id}");
        outln!(
            "private_key: {} (mode 0600; never leaves this machine)",
            target.display()
        );
        if let Some((old, p)) = &retired {
            outln!("retired: {old} (moved to {})", p.display());
        }
        if retired.is_some() {
            outln!(
                "next: runtime keys export-public --all -o runproof-keyring.pub   # give reviewers every key, old and new"
            );
        } else {
            outln!(
                "next: runtime keys export-public -o runproof-signing.pub   # give this to reviewers"
            );
        }
    });
    Ok(())
}

async fn list(db: &Database, local: &KeyLocation, out: &Out) -> Result<()> {
    let store = db.ready_store().await?;
    let keys = store.list_signing_keys().await?;
    store.close().await;
    let held = held_keys(local)?;
    // Every id below is computed from the key bytes the row holds; a row whose `key_id`
    // column names another key was written by someone else than this runtime.
    let rows: Vec<KeyListing> = keys
        .iter()
        .map(|k| {
            let computed = key_id_of_pem(&k.public_key_pem).ok();
            let holder = computed
                .as_ref()
                .and_then(|id| held.iter().find(|h| &h.key_id == id));
            KeyListing {
                key_id: computed.clone(),
                row_key_id: k.key_id.clone(),
                consistent: computed.as_deref() == Some(k.key_id.as_str()),
                algorithm: k.algorithm.clone(),
                created_at: k.created_at,
                traces_signed: k.traces_signed,
                held: match holder {
                    Some(h) if h.retired => "retired",
                    Some(_) => "current",
                    None => "no",
                },
            }
        })
        .collect();
    out.emit(&rows, || {
        if rows.is_empty() {
            outln!("no signing keys yet: the first `runtime run` creates and registers one");
        }
        for k in &rows {
            let held = match k.held {
                "current" => "  (local signing key)",
                "retired" => "  (retired, held in keys/retired/)",
                _ => "  (not held here: cannot be exported)",
            };
            match (&k.key_id, k.consistent) {
                (Some(id), true) => outln!(
                    "{}  {}  {} trace(s) signed  created {}{held}",
                    short(id),
                    k.algorithm,
                    k.traces_signed,
                    k.created_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                (Some(id), false) => outln!(
                    "{}  TAMPERED: the row says key_id {}, but its key hashes to {id}",
                    short(&k.row_key_id),
                    k.row_key_id
                ),
                (None, _) => outln!(
                    "{}  TAMPERED: the row holds no readable Ed25519 public key",
                    short(&k.row_key_id)
                ),
            }
        }
    });
    Ok(())
}

/// One `signing_keys` row as `keys list` reports it.
#[derive(serde::Serialize)]
struct KeyListing {
    /// Computed from the row's public key; `null` if it holds none.
    key_id: Option<String>,
    /// The row's `key_id` column, as stored.
    row_key_id: String,
    /// Whether the column names the key the row holds.
    consistent: bool,
    algorithm: String,
    created_at: chrono::DateTime<chrono::Utc>,
    traces_signed: i64,
    /// `current`, `retired` (a key file this runtime holds) or `no`.
    held: &'static str,
}

async fn export_public(
    wanted: Option<&str>,
    path: Option<&std::path::PathBuf>,
    db: &Database,
    local: &KeyLocation,
    out: &Out,
) -> Result<()> {
    let held = held_keys(local)?;
    let key = match wanted {
        None => held.iter().find(|h| !h.retired).with_context(|| {
            format!(
                "no signing key at {}; create one with `runtime keys generate`",
                local.path.display()
            )
        })?,
        Some(id) => match held.iter().find(|h| h.key_id == id) {
            Some(h) => h,
            None => bail!("{}", not_held(id, db, local).await),
        },
    };
    let (id, pem) = (key.key_id.clone(), verifying_key_to_pem(&key.public)?);
    match path {
        Some(p) => {
            std::fs::write(p, &pem).with_context(|| format!("writing {}", p.display()))?;
            out.emit(
                &serde_json::json!({"key_id": id, "public_key": p, "from": key.path}),
                || {
                    outln!("key_id: {id}");
                    outln!("public_key: {}", p.display());
                    outln!(
                        "from: {} (a key file this runtime holds)",
                        key.path.display()
                    );
                },
            );
        }
        None if out.json => outln!(
            "{}",
            serde_json::json!({"key_id": id, "public_key_pem": pem})
        ),
        None => out!("{pem}"),
    }
    Ok(())
}

/// Why key `id` cannot be exported, from what the database says about it (read only to
/// explain: nothing it holds is ever exported).
async fn not_held(id: &str, db: &Database, local: &KeyLocation) -> String {
    let files = format!(
        "{} and {}",
        local.path.display(),
        retired_dir(&local.path).display()
    );
    let row = match db.ready_store().await {
        Ok(store) => {
            let row = store.signing_key(id).await.ok().flatten();
            store.close().await;
            row
        }
        Err(_) => None,
    };
    match row {
        Some(row) => match key_id_of_pem(&row.public_key_pem) {
            Ok(actual) if actual == id => format!(
                "key {id} is listed in the database, but this runtime holds no key file for it ({files}); a public key is never exported from the database alone: get it out of band from whoever held that key"
            ),
            Ok(actual) => format!(
                "the database row for key {id} holds a key that hashes to {actual}: it was tampered with; refusing to export it (this runtime holds no key file for {id}: {files})"
            ),
            Err(_) => format!(
                "the database row for key {id} holds no readable public key: it was tampered with; refusing to export it"
            ),
        },
        None => format!(
            "no key {id} here: this runtime holds no key file for it ({files}); `runtime keys list` shows the keys"
        ),
    }
}

/// Every key this runtime holds as one keyring: the file a reviewer pins once to check
/// runs signed before and after rotations.
fn export_keyring(path: Option<&std::path::PathBuf>, local: &KeyLocation, out: &Out) -> Result<()> {
    let held = held_keys(local)?;
    if held.is_empty() {
        bail!(
            "no signing key at {}; create one with `runtime keys generate`",
            local.path.display()
        );
    }
    let mut text = String::from(
        "# RunProof keyring: the public keys of one runtime, current and retired.\n\
         # Pin it with --trusted-key. Key ids are recomputed from the keys; these comments are not trusted.\n",
    );
    for h in &held {
        text.push_str(&format!(
            "# key_id {} ({})\n{}",
            h.key_id,
            if h.retired { "retired" } else { "current" },
            verifying_key_to_pem(&h.public)?
        ));
    }
    let ids: Vec<&str> = held.iter().map(|h| h.key_id.as_str()).collect();
    match path {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            out.emit(&serde_json::json!({"key_ids": ids, "keyring": p}), || {
                for id in &ids {
                    outln!("key_id: {id}");
                }
                outln!("keyring: {}", p.display());
            });
        }
        None if out.json => outln!("{}", serde_json::json!({"key_ids": ids, "keyring": text})),
        None => out!("{text}"),
    }
    Ok(())
}
