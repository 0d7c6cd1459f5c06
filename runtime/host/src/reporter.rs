//! Who a host call reports to, and as which skill: the [`Reporter`] every interface of one
//! invocation holds (the store's `log` and `http`, the WASI clocks and randomness, the
//! recorded denials). Its own module so the store (`state.rs`) and the WASI linking
//! (`wasi.rs`) both use it without using each other.

use crate::compact::{Compactor, Read};
use crate::meter::CallMeter;
use crate::recorder::{HostEvent, TraceRecorder};
use runproof_proof::{StepKind, StepStatus};
use std::sync::Arc;

/// The step kind of a denied WASI attempt: its own kind, so a reviewer can list every
/// refusal of a run with one filter, and no skill can produce it (a skill's own calls are
/// `host.log`, `host.http`, ...).
pub(crate) const DENIED_KIND: StepKind = StepKind::HostDenied;

/// Who to report to, and as which skill. `recorder` is the invocation's [`Compactor`] in
/// front of the trace's recorder: every event of the invocation goes through it.
#[derive(Clone)]
pub(crate) struct Reporter {
    pub recorder: Arc<Compactor>,
    pub skill: Arc<str>,
    pub meter: Arc<CallMeter>,
}

impl Reporter {
    pub fn new(recorder: Arc<dyn TraceRecorder>, skill: &str, max_host_calls: u64) -> Self {
        let meter = Arc::new(CallMeter::new(max_host_calls));
        Reporter {
            recorder: Arc::new(Compactor::new(recorder, meter.clone())),
            skill: Arc::from(skill),
            meter,
        }
    }

    /// Records a read of a clock or random source (compacted with its neighbours).
    pub fn read(&self, read: Read) {
        self.recorder.read(&self.skill, read);
    }

    /// Records a denied attempt (counted like any host call).
    pub fn denied(&self, interface: &str, call: &str, reason: &str) {
        tracing::debug!(skill = %self.skill, interface, call, "denied: {reason}");
        if self.meter.count() {
            self.recorder.record(
                &self.skill,
                HostEvent {
                    kind: DENIED_KIND,
                    status: StepStatus::Failure,
                    duration_ms: None,
                    body: serde_json::json!({"denied": {"interface": interface, "call": call, "reason": reason}}),
                },
            );
        }
    }
}
