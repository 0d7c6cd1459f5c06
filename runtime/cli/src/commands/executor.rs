//! What `runtime worker` and `runtime serve --workers N` share: a runner holding a
//! `worker/…` lease, the worker configuration, a stop signal, progress lines.

use crate::args_service::ExecutorArgs;
use crate::output::Out;
use anyhow::Result;
use runproof_host::SkillHost;
use runproof_runner::Runner;
use runproof_store::Store;
use runproof_worker::{WakeMode, WakeSource, WorkerConfig, WorkerEvent, WorkerObserver};
use std::sync::Arc;

pub fn runner(
    store: &Store,
    home: Option<&std::path::PathBuf>,
    key: runproof_proof::SigningKey,
    args: &ExecutorArgs,
) -> Result<Runner> {
    let host = Arc::new(SkillHost::new(crate::database::host_config(home))?);
    Ok(Runner::new(store.clone(), host)
        .with_lease(runproof_runner::lease::process_holder(
            "worker",
            args.lease_ttl,
        ))
        .with_signer(key)
        .with_secrets_home(crate::database::home_dir(home)))
}

pub fn config(concurrency: usize, args: &ExecutorArgs) -> WorkerConfig {
    let mut c = WorkerConfig::new(concurrency, args.lease_ttl);
    c.grace = args.grace;
    c.poll_interval = args.poll_interval;
    c.wake = match args.listen_url.as_deref().map(str::trim) {
        None | Some("") => WakeSource::Auto,
        Some(off) if off.eq_ignore_ascii_case("off") => WakeSource::Off,
        Some(url) => WakeSource::Url(url.to_string()),
    };
    c
}

/// Resolves on SIGTERM or Ctrl-C, naming it.
pub async fn stop_signal() -> String {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C".to_string(),
        _ = term => "SIGTERM".to_string(),
    }
}

/// Worker events as progress lines on stderr.
pub struct Progress {
    pub quiet: bool,
}

impl Progress {
    pub fn new(out: &Out) -> Arc<Progress> {
        Arc::new(Progress { quiet: out.quiet })
    }
}

impl WorkerObserver for Progress {
    fn event(&self, e: &WorkerEvent<'_>) {
        let line = match e {
            WorkerEvent::Started { owner, concurrency } => {
                format!("worker {owner}: executing up to {concurrency} run(s) at a time")
            }
            WorkerEvent::Wake(WakeMode::Listening) => {
                "wake-ups: LISTEN runproof_runs_queued (polling as a safety net)".to_string()
            }
            WorkerEvent::Wake(WakeMode::Polling { why }) => format!("wake-ups: polling ({why})"),
            WorkerEvent::Claimed {
                run_id,
                tenant_id,
                attempt,
            } => format!("run {run_id} (tenant {tenant_id}): claimed, attempt {attempt}"),
            WorkerEvent::Finished {
                run_id,
                status,
                error,
                duration_ms,
            } => match error {
                Some(e) => format!("run {run_id}: {status} in {duration_ms} ms: {e}"),
                None => format!("run {run_id}: {status} in {duration_ms} ms"),
            },
            WorkerEvent::Errored { run_id, error } => format!("run {run_id}: error: {error}"),
            WorkerEvent::Recovered(r) => {
                // Always shown: an operator must see a lost run even with -q.
                eprintln!(
                    "run {} (tenant {}): {}",
                    r.run_id, r.tenant_id, r.error_message
                );
                return;
            }
            WorkerEvent::Draining { in_flight, grace } => format!(
                "stopping: no new runs; {in_flight} in flight get {:.0} s to finish",
                grace.as_secs_f64()
            ),
            WorkerEvent::Interrupting { in_flight } => format!(
                "grace period over: stopping {in_flight} run(s); each ends failed (interrupted), sealed"
            ),
            WorkerEvent::Trouble(line) => {
                eprintln!("warning: {line}");
                return;
            }
        };
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}
