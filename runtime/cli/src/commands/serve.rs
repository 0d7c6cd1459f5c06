//! `runtime serve`: the HTTP API, optionally with in-process workers.

use crate::args_service::ServeArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::{Context, Result};
use runproof_server::{AppState, ServeOptions};
use std::sync::Arc;

pub async fn run(
    args: &ServeArgs,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    key: &crate::signing::KeyLocation,
    out: &Out,
) -> Result<i32> {
    // Created first if missing, so that "ours" below is this key.
    let signing_key = key.load_or_create(out)?;
    // The proof endpoint trusts what `runtime proof` would: pinned keys, else ours.
    let (trusted, trust_note) = crate::signing::trusted_or_local(&args.trusted_keys, key)?;
    let store = db.ready_store().await?;
    let runner = Arc::new(super::executor::runner(
        &store,
        home,
        signing_key,
        &args.executor,
    )?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| {
            format!(
                "listening on {} (is the address in use? pass --addr)",
                args.addr
            )
        })?;
    let addr = listener.local_addr()?;
    let max_body = usize::try_from(args.max_body).unwrap_or(usize::MAX);
    out.progress(format!(
        "serving the RunProof API on http://{addr}/v1 (OpenAPI at /v1/openapi.json; proofs trust {trust_note}; bodies up to {} bytes)",
        max_body
    ));
    if args.workers == 0 {
        out.progress("no in-process workers: queued runs wait for `runtime worker`");
    }
    let workers =
        (args.workers > 0).then(|| super::executor::config(args.workers as usize, &args.executor));
    let summary = runproof_server::serve(
        listener,
        AppState::new(runner, trusted),
        ServeOptions {
            max_body,
            workers,
            worker_observer: super::executor::Progress::new(out),
        },
        super::executor::stop_signal(),
    )
    .await
    .context("the HTTP server failed")?;
    store.close().await;
    let value = serde_json::json!({"addr": addr.to_string(), "workers": summary});
    out.emit(&value, || {
        outln!("stopped serving on {addr}");
        if let Some(s) = &summary {
            outln!(
                "in-process workers: {} run(s) executed, {} succeeded, {} failed ({} interrupted)",
                s.executed,
                s.succeeded,
                s.failed,
                s.interrupted
            );
        }
    });
    Ok(0)
}
