//! The seam between the sandbox and the trace: the host reports, the recorder hashes and
//! persists. Small on purpose so the host can be tested without a database.

use runproof_proof::{StepKind, StepStatus};
use std::future::Future;
use std::pin::Pin;

/// One host call as the host saw it.
#[derive(Debug, Clone)]
pub struct HostEvent {
    pub kind: StepKind,
    pub status: StepStatus,
    pub duration_ms: Option<u64>,
    /// Kind-specific detail: the request and response, the log line, the clock value, ...
    pub body: serde_json::Value,
}

/// Receives every host call a skill makes, in the order it makes them.
pub trait TraceRecorder: Send + Sync {
    /// Records one event of `skill`. Runs on the calling task (it may be inside a clock or
    /// random read), so it must not block on I/O: serialize, hash, enqueue.
    fn record(&self, skill: &str, event: HostEvent);

    /// Awaited by async host calls after recording, so a recorder whose writer falls behind
    /// can slow the skill down instead of buffering without bound.
    fn backpressure(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// Drops everything. Used only to call `describe` when loading a component, which is not
/// part of any run.
#[derive(Debug, Default)]
pub struct NullRecorder;

impl TraceRecorder for NullRecorder {
    fn record(&self, _skill: &str, _event: HostEvent) {}
}
