//! The lease a runner holds on the run it executes, renewed in the background.
//!
//! A process that dies (kill -9, power loss) stops renewing; once the lease expires, any
//! command that opens the store marks the run failed (`Store::recover_lost_runs`). The
//! heartbeat runs on its own task so a skill that keeps its invocation busy cannot starve
//! it; renewing is one indexed UPDATE every `ttl / 3`.

use runproof_store::{LeaseHolder, LeaseState, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a run's lease holds without a renewal, unless configured otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// A lease holder for this process: `runner/<host>/<pid>/<nonce>`.
pub fn process_holder(kind: &str, ttl: Duration) -> LeaseHolder {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let nonce = &crate::new_id()[..8];
    LeaseHolder {
        owner: format!("{kind}/{host}/{}/{nonce}", std::process::id()),
        ttl,
    }
}

/// Renews a run's lease until dropped. `lost()` turns true once a renewal finds the lease
/// gone (the run was recovered by someone else): the run must not be sealed then.
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

/// What a run whose lease was lost records as its error (it will not be sealed).
pub const LEASE_LOST: &str = "the run's lease was lost; it was recovered as failed";

/// What a run stopped by a cancel records as its error.
pub const CANCELLED: &str = "cancelled (asked through the queue while it was running)";

impl Heartbeat {
    pub fn start(store: Store, run_id: String, holder: LeaseHolder) -> Heartbeat {
        Heartbeat::start_controlled(store, run_id, holder, crate::RunControl::new())
    }

    /// As `start`; a renewal that finds a cancel asked for, or the lease lost, stops the
    /// run through `control`.
    pub fn start_controlled(
        store: Store,
        run_id: String,
        holder: LeaseHolder,
        control: crate::RunControl,
    ) -> Heartbeat {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(holder.renew_every());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate; start_run just took the lease
            loop {
                tick.tick().await;
                match store.renew_lease_state(&run_id, &holder).await {
                    Ok(LeaseState::Held) => {}
                    Ok(LeaseState::CancelRequested) => control.abort(CANCELLED),
                    Ok(LeaseState::Lost) => {
                        tracing::error!(
                            "run {run_id}: its lease was lost (recovered by another process); it will not be sealed"
                        );
                        flag.store(true, Ordering::Relaxed);
                        control.abort(LEASE_LOST);
                        return;
                    }
                    // A renewal that fails is retried at the next tick; the lease has room
                    // for two misses. Past that, recovery fails the run, which is right: a
                    // runner cut off from its database cannot make the trace durable.
                    Err(e) => tracing::warn!("run {run_id}: lease renewal failed: {e}"),
                }
            }
        });
        Heartbeat { task, lost }
    }

    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
