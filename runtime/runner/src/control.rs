//! Stopping a run from outside: a cancel (asked through the queue, seen at a lease renewal)
//! or a worker's shutdown whose grace period ran out. The run does not just vanish: the
//! step in flight is aborted (its invocation is dropped, as a deadline would), later steps
//! are skipped, and the run ends `failed` with the reason, sealed and signed like any
//! other, so its proof says exactly what happened.

use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;

/// A handle to stop one run; clones share it.
#[derive(Clone, Default)]
pub struct RunControl {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    reason: OnceLock<String>,
    notify: Notify,
}

impl RunControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop with `reason` (the first reason given wins).
    pub fn abort(&self, reason: impl Into<String>) {
        if self.inner.reason.set(reason.into()).is_ok() {
            self.inner.notify.notify_waiters();
        }
    }

    /// Why the run was asked to stop, if it was.
    pub fn aborted(&self) -> Option<&str> {
        self.inner.reason.get().map(String::as_str)
    }

    /// Resolves once the run is asked to stop, with the reason.
    pub async fn wait(&self) -> String {
        loop {
            let notified = self.inner.notify.notified();
            if let Some(r) = self.aborted() {
                return r.to_string();
            }
            notified.await;
        }
    }
}

impl std::fmt::Debug for RunControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunControl")
            .field("aborted", &self.aborted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins_and_wakes_waiters() {
        let c = RunControl::new();
        assert_eq!(c.aborted(), None);
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.wait().await }
        });
        tokio::task::yield_now().await;
        c.abort("cancelled");
        c.abort("later");
        assert_eq!(waiter.await.unwrap(), "cancelled");
        assert_eq!(c.aborted(), Some("cancelled"));
        // Asked after the fact, it answers at once.
        assert_eq!(c.wait().await, "cancelled");
    }
}
