//! `runtime secret set | list | rm`: tenant secrets. Values come in on stdin only (never a
//! flag: flags end up in shell history and `ps`), are encrypted before they reach the
//! database, and are never printed.

use crate::args::SecretCommand;
use crate::database::{Database, home_dir};
use crate::output::Out;
use anyhow::{Context, Result, bail};
use runproof_host::{HostPattern, valid_secret_name};
use runproof_runner::SecretKeyring;
use std::io::Read;
use std::path::PathBuf;

/// Largest value accepted: a secret is a token or a password, not a document.
const MAX_VALUE_BYTES: usize = 64 * 1024;

pub async fn run(
    cmd: &SecretCommand,
    db: &Database,
    home: Option<&PathBuf>,
    out: &Out,
) -> Result<()> {
    match cmd {
        SecretCommand::Set {
            name,
            tenant_id,
            allow_hosts,
        } => {
            check_name(name)?;
            if tenant_id.trim().is_empty() {
                bail!("--tenant-id must not be empty");
            }
            for p in allow_hosts {
                HostPattern::parse(p)?;
            }
            let value = read_value()?;
            let keyring = SecretKeyring::open_or_create(&home_dir(home))?;
            let (ciphertext, nonce) = keyring.seal(tenant_id, name, &value)?;
            let store = db.ready_store().await?;
            let info = store
                .put_secret(tenant_id, name, &ciphertext, &nonce, allow_hosts)
                .await?;
            out.emit(&info, || {
                outln!(
                    "secret {} set for tenant {} (allowed hosts: {})",
                    info.name,
                    info.tenant_id,
                    info.allowed_hosts.join(", ")
                )
            });
            Ok(())
        }
        SecretCommand::List { tenant_id } => {
            let store = db.ready_store().await?;
            let secrets = store.list_secrets(tenant_id).await?;
            out.emit(&secrets, || {
                if secrets.is_empty() {
                    outln!("no secrets for tenant {tenant_id}: add one with `runtime secret set NAME --tenant-id {tenant_id} --allow-host PATTERN < value`");
                }
                for s in &secrets {
                    outln!("{}  allow-host=[{}]  created {}  updated {}", s.name, s.allowed_hosts.join(", "), s.created_at.to_rfc3339(), s.updated_at.to_rfc3339());
                }
            });
            Ok(())
        }
        SecretCommand::Rm { name, tenant_id } => {
            check_name(name)?;
            let store = db.ready_store().await?;
            if !store.delete_secret(tenant_id, name).await? {
                bail!(
                    "secret {name} of tenant {tenant_id} not found; `runtime secret list --tenant-id {tenant_id}` shows the secrets"
                );
            }
            out.emit(
                &serde_json::json!({"deleted": name, "tenant_id": tenant_id}),
                || outln!("secret {name} of tenant {tenant_id} deleted"),
            );
            Ok(())
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    if !valid_secret_name(name) {
        bail!("secret name {name:?}: use 1 to 64 of letters, digits, _ - .");
    }
    Ok(())
}

/// The value from stdin, minus one trailing newline (`echo`, here-strings and editors add
/// one). Must be non-empty UTF-8: it goes into headers and URLs, and an empty value could
/// not be redacted.
fn read_value() -> Result<String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX_VALUE_BYTES as u64 + 2)
        .read_to_end(&mut buf)
        .context("reading the secret value from stdin")?;
    if buf.ends_with(b"\r\n") {
        buf.truncate(buf.len() - 2);
    } else if buf.ends_with(b"\n") {
        buf.truncate(buf.len() - 1);
    }
    if buf.len() > MAX_VALUE_BYTES {
        bail!("the secret value is over {MAX_VALUE_BYTES} bytes");
    }
    if buf.is_empty() {
        bail!(
            "the secret value on stdin is empty (pipe it in: `printf %s \"$TOKEN\" | runtime secret set ...`)"
        );
    }
    String::from_utf8(buf).context("the secret value must be UTF-8 text")
}
