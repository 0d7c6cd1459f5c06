//! The host-call meter of one invocation: shared by the store's host calls, the clock and
//! random implementations and the compactor, so it sits below all of them (no module that
//! uses it is used by it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counts the host calls of one invocation, shared by the store's host calls and the
/// clock and random implementations (which have no access to the store). Every host call
/// is a trace step, so the cap bounds a skill's share of the trace, including a skill
/// that does nothing but read the clock.
#[derive(Debug)]
pub(crate) struct CallMeter {
    count: AtomicU64,
    max: u64,
    exceeded: AtomicBool,
}

impl CallMeter {
    pub fn new(max: u64) -> Self {
        CallMeter {
            count: AtomicU64::new(0),
            max,
            exceeded: AtomicBool::new(false),
        }
    }

    /// Counts one call; `false` once the cap is passed (the call must not be recorded).
    pub fn count(&self) -> bool {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.max {
            self.exceeded.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> u64 {
        self.max
    }
}
