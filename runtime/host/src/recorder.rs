//! The seam between the sandbox and the trace: the host reports, the recorder hashes and
//! persists. Small on purpose so the host can be tested without a database.
//!
//! Two ways to record:
//! - [`TraceRecorder::record`]: the step is chained at once and written in a batch soon
//!   after (steps without side effects: logs, clock and random reads, results).
//! - **Write-ahead** ([`WriteAhead`]): for a side effect that leaves the host (an outbound
//!   request), an intent step is recorded and made *durable* before the effect starts, so a
//!   crash in the middle (of this process, or of the database) leaves the intent on disk.
//!   The outbound path calls it once, right before the first byte of a request is sent;
//!   every interface routed through that path gets it without doing anything.

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

/// Why a step could not be made durable. The side effect it announced must not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the trace could not be made durable: {0}")]
pub struct NotDurable(pub String);

/// A boxed future, as the recorder's async methods return them (the trait stays object-safe).
pub type RecorderFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Receives every host call a skill makes, in the order it makes them.
pub trait TraceRecorder: Send + Sync {
    /// Records one event of `skill`. Runs on the calling task (it may be inside a clock or
    /// random read), so it must not block on I/O: serialize, hash, enqueue.
    fn record(&self, skill: &str, event: HostEvent);

    /// Records one event and resolves once it, and every step recorded before it, is
    /// durable: it survives a crash of this process and of the database. The event takes
    /// its place in the trace when this is *called* (like `record`); only the wait is in
    /// the future. A recorder that keeps nothing (tests, `describe`) has nothing to wait
    /// for. A recorder that wraps another must forward this, never fall back to `record`
    /// (the default), or the write-ahead silently stops waiting.
    fn record_durable(
        &self,
        skill: &str,
        event: HostEvent,
    ) -> RecorderFuture<'_, Result<(), NotDurable>> {
        self.record(skill, event);
        Box::pin(std::future::ready(Ok(())))
    }

    /// Awaited by async host calls after recording, so a recorder whose writer falls behind
    /// can slow the skill down instead of buffering without bound.
    fn backpressure(&self) -> RecorderFuture<'_, ()> {
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

/// The write-ahead of one outbound call: which recorder, as which skill, through which
/// interface. Handed to the outbound path (`http::send`), which calls [`WriteAhead::commit`]
/// once, just before the request leaves the host; a call denied before that records no
/// intent (nothing left).
pub struct WriteAhead<'a> {
    recorder: &'a dyn TraceRecorder,
    skill: &'a str,
    /// The interface the skill called, e.g. `runproof:skill/http`.
    interface: &'static str,
    committed: bool,
}

impl<'a> WriteAhead<'a> {
    pub fn new(recorder: &'a dyn TraceRecorder, skill: &'a str, interface: &'static str) -> Self {
        WriteAhead {
            recorder,
            skill,
            interface,
            committed: false,
        }
    }

    /// Records the intent step (kind `host.intent`, body `{"interface", "request"}`, the
    /// request as the skill wrote it: placeholders, never secret values) and waits until it
    /// is durable. Only the first call records; later ones (redirect hops of the same call)
    /// return at once. On error nothing may be sent.
    pub async fn commit(&mut self, request: serde_json::Value) -> Result<(), NotDurable> {
        if self.committed {
            return Ok(());
        }
        self.committed = true;
        self.recorder
            .record_durable(
                self.skill,
                HostEvent {
                    kind: StepKind::HostIntent,
                    status: StepStatus::Success,
                    duration_ms: None,
                    body: serde_json::json!({"interface": self.interface, "request": request}),
                },
            )
            .await
    }

    /// Whether the intent was recorded (the result step then answers it).
    pub fn committed(&self) -> bool {
        self.committed
    }
}
