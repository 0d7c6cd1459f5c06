//! Wall-clock bounds on every entry into a guest (`describe` when a component is loaded, at
//! `skill add`, `skill inspect` and run load; `invoke` in a run), enforced by the host.
//!
//! Two mechanisms, because neither is enough alone:
//! - the epoch deadline (`engine.rs`) interrupts wasm code, even a tight loop, but it is
//!   only checked while wasm runs: a guest parked in an async host call (a WASI
//!   `poll` on a `subscribe-duration`, i.e. `std::thread::sleep`) runs no wasm and is never
//!   interrupted by it;
//! - so the whole entry (instantiation and the call) also runs under a tokio timer. When it
//!   fires, the call's future is dropped: wasmtime then resumes the guest's fiber with an
//!   error, so it unwinds as a trap without running any more guest code. The store is not
//!   called into again afterwards: its data (which limit was hit, captured stdio) is read,
//!   and the store is dropped, which returns its instance slot to the pool.
//!
//! The timer gets a few epoch ticks of grace over the deadline, so a guest running wasm is
//! stopped by the epoch callback (which records the limit it hit) and the timer only cuts
//! what the epoch cannot.

use crate::limits::LimitHit;
use std::future::Future;
use std::time::Duration;

/// How long `describe` may take. It is a constant answer about the component, computed
/// outside any run: it has no reason to wait for anything.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the epoch advances; deadlines are enforced at this granularity.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Runs one guest entry (`fut`, which instantiates and calls) within `limit` of wall-clock
/// time. `Err` is the limit that was hit; the guest is then already stopped.
pub(crate) async fn bounded<T>(
    limit: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, LimitHit> {
    tokio::time::timeout(limit + EPOCH_TICK * 5, fut)
        .await
        .map_err(|_| LimitHit::Deadline { limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_parked_future_is_cut_at_the_limit_it_names() {
        let started = std::time::Instant::now();
        let r = bounded(Duration::from_millis(50), std::future::pending::<()>()).await;
        assert_eq!(
            r,
            Err(LimitHit::Deadline {
                limit: Duration::from_millis(50)
            })
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(bounded(Duration::from_secs(1), async { 7 }).await, Ok(7));
    }
}
