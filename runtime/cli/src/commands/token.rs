//! `runtime token`: API bearer tokens.

use crate::args_service::TokenCommand;
use crate::database::Database;
use crate::output::Out;
use anyhow::{Result, bail};

pub async fn run(cmd: &TokenCommand, db: &Database, out: &Out) -> Result<()> {
    let store = db.ready_store().await?;
    match cmd {
        TokenCommand::Create { tenant_id, name } => {
            if tenant_id.trim().is_empty() {
                bail!("--tenant-id must name the tenant the token acts for");
            }
            let t = store.create_token(tenant_id, name).await?;
            out.emit(&t, || {
                outln!("token_id: {}", t.info.token_id);
                outln!("tenant_id: {}", t.info.tenant_id);
                outln!("token: {}", t.token);
                outln!(
                    "note: shown once; only its SHA-256 is stored. Send it as `Authorization: Bearer <token>`."
                );
            });
        }
        TokenCommand::List { tenant_id } => {
            let tokens = store.list_tokens(tenant_id.as_deref()).await?;
            out.emit(&tokens, || {
                if tokens.is_empty() {
                    outln!("no tokens");
                }
                for t in &tokens {
                    let state = match t.revoked_at {
                        Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M:%S")),
                        None => "active".to_string(),
                    };
                    outln!(
                        "{}  {:<20}  {:<24}  {}",
                        t.token_id,
                        t.tenant_id,
                        state,
                        t.name
                    );
                }
            });
        }
        TokenCommand::Revoke { token_id } => {
            let Some(t) = store.revoke_token(token_id).await? else {
                bail!("token {token_id} not found; `runtime token list` shows them");
            };
            out.emit(&t, || {
                outln!(
                    "token {} (tenant {}) revoked; requests with it are refused",
                    t.token_id,
                    t.tenant_id
                )
            });
        }
    }
    store.close().await;
    Ok(())
}
