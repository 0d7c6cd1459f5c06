//! Replaying one recorded invocation: the same component, the same input and limits, in a
//! fresh sandbox, with every host call answered from the trace instead of the world, and
//! every call the code makes checked against the recorded one.
//!
//! The [`Tape`] is both sides of the host's seam at once: the [`World`] that answers
//! (HTTP responses and errors, clock readings, random bytes, in recorded order) and the
//! [`TraceRecorder`] that receives every event the host reports and compares it with the
//! next recorded step (by what the guest asked, `recorded.rs`). The host code in between is
//! the code that ran: policy, limits and the shape of every event are not re-implemented
//! here. The tape has no HTTP client, no secrets and no scratch directory of its own:
//! nothing a replayed skill does leaves the host.
//!
//! Two ends are not reproducible bit for bit and are handled as recorded:
//! - **the deadline** is wall-clock. If the original was stopped by its deadline, the code
//!   must make exactly the recorded calls; asking for more is where the deadline struck, and
//!   the replayed invocation ends there with the same reason;
//! - **calls past the host-call cap** were never recorded (the cap refuses them); the same
//!   cap, from the same limits, refuses them in the replay.

use crate::engine::{InvocationOutcome, LoadedSkill, SkillHost};
use crate::http::{OutboundError, OutboundRequest};
use crate::limits::{InvocationLimits, LimitHit};
use crate::policy::OutboundPolicy;
use crate::recorded::{self, Answer, RecordedStep};
use crate::recorder::{HostEvent, TraceRecorder};
use crate::world::{HttpAnswer, HttpVia, World};
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the trace holds for one invocation (one `skill.start` … `skill.end`).
#[derive(Debug, Clone)]
pub struct InvocationTrace {
    /// The host steps between `skill.start` and `skill.end`, in order.
    pub steps: Vec<RecordedStep>,
    /// The index of the `skill.end` step.
    pub end_index: u64,
    /// The recorded invocation was stopped by its deadline.
    pub stopped_by_deadline: bool,
}

/// One side of a divergence: a call, or the end of the invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// A step kind (`host.http`, ...) or `skill.end`.
    pub kind: String,
    /// One line for people.
    pub summary: String,
    /// What was compared (the guest's side of the call), when there is one.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// Where the code and the trace first disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    pub step_index: u64,
    /// What the trace recorded at that step.
    pub expected: Observed,
    /// What the replayed code did instead.
    pub actual: Observed,
}

impl Observed {
    pub fn step(step: &RecordedStep) -> Self {
        Observed {
            kind: step.kind.as_str().into(),
            summary: recorded::summary(step.kind, &step.body),
            detail: recorded::asked(step.kind, &step.body),
        }
    }

    fn event(e: &HostEvent) -> Self {
        Observed {
            kind: e.kind.as_str().into(),
            summary: recorded::summary(e.kind, &e.body),
            detail: recorded::asked(e.kind, &e.body),
        }
    }
}

/// How a replayed invocation went, before its outcome is compared with `skill.end`.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub outcome: InvocationOutcome,
    /// The first call that differs from the trace; `None`: every recorded call was made,
    /// in order, with the recorded arguments, and no other.
    pub divergence: Option<Divergence>,
    /// Recorded host steps the code reproduced.
    pub matched_steps: usize,
    /// The original was stopped by its deadline, and the code asked for more exactly where
    /// the trace ends: the outcome is that deadline, as recorded.
    pub stopped_as_recorded: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Unreadable(String),
}

impl SkillHost {
    /// Replays one invocation of `skill` against `trace` (see the module docs). `scratch`:
    /// a scratch directory of the replay's own (a temporary one), when the run had one.
    pub async fn replay(
        &self,
        skill: &LoadedSkill,
        input: &str,
        trace: InvocationTrace,
        limits: InvocationLimits,
        scratch: Option<&Path>,
    ) -> Result<Replayed, ReplayError> {
        let tape = Arc::new(Tape::new(trace, limits)?);
        let outcome = self
            .invoke_in(
                skill,
                input,
                tape.clone(),
                tape.clone(),
                // Never consulted (the tape answers), and it would deny everything anyway.
                OutboundPolicy::deny_all(),
                Arc::default(),
                limits,
                scratch,
            )
            .await;
        Ok(tape.finish(outcome))
    }
}

/// The recorded answers and the comparison of one invocation.
struct Tape {
    state: Mutex<TapeState>,
    /// Set once the code has left the trace; the epoch callback then stops it.
    halted: AtomicBool,
    end_index: u64,
    stopped_by_deadline: bool,
    timeout: Duration,
}

struct TapeState {
    steps: Vec<RecordedStep>,
    answers: VecDeque<Answer>,
    /// The next recorded step the next event must match.
    next: usize,
    divergence: Option<Divergence>,
    /// The code asked for more than a deadline-stopped trace holds.
    overran: bool,
    last_monotonic: u64,
}

impl Tape {
    fn new(trace: InvocationTrace, limits: InvocationLimits) -> Result<Self, ReplayError> {
        let mut answers = VecDeque::new();
        for step in &trace.steps {
            answers.extend(recorded::answered(step).map_err(ReplayError::Unreadable)?);
        }
        Ok(Tape {
            state: Mutex::new(TapeState {
                steps: trace.steps,
                answers,
                next: 0,
                divergence: None,
                overran: false,
                last_monotonic: 0,
            }),
            halted: AtomicBool::new(false),
            end_index: trace.end_index,
            stopped_by_deadline: trace.stopped_by_deadline,
            timeout: limits.timeout,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TapeState> {
        // Every update below is a single assignment or push: a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next answer if `fits` it. Otherwise the code asked for something the trace
    /// does not have next: the event it is about to report will not match and is where the
    /// divergence is named (or, past the host-call cap, it is refused as it was originally).
    fn take(&self, fits: impl FnOnce(&Answer) -> bool) -> Option<Answer> {
        let mut s = self.lock();
        match s.answers.front() {
            Some(a) if fits(a) => s.answers.pop_front(),
            Some(_) => None,
            None => {
                self.overrun(&mut s);
                None
            }
        }
    }

    /// The code asks for more than the trace holds. Where the deadline stopped the original,
    /// this is where it struck.
    fn overrun(&self, s: &mut TapeState) {
        if self.stopped_by_deadline && s.divergence.is_none() {
            s.overran = true;
            self.halted.store(true, Ordering::Relaxed);
        }
    }

    fn diverge(&self, s: &mut TapeState, d: Divergence) {
        s.divergence.get_or_insert(d);
        self.halted.store(true, Ordering::Relaxed);
    }

    fn finish(&self, outcome: InvocationOutcome) -> Replayed {
        let mut s = self.lock();
        let matched_steps = s.next;
        if s.overran {
            return Replayed {
                outcome: InvocationOutcome::Aborted {
                    reason: LimitHit::Deadline {
                        limit: self.timeout,
                    }
                    .to_string(),
                },
                divergence: None,
                matched_steps,
                stopped_as_recorded: true,
            };
        }
        if s.divergence.is_none()
            && let Some(step) = s.steps.get(s.next)
        {
            let d = Divergence {
                step_index: step.index,
                expected: Observed::step(step),
                actual: Observed {
                    kind: "skill.end".into(),
                    summary: format!(
                        "no further host call: the invocation ended ({})",
                        outcome_summary(&outcome)
                    ),
                    detail: Value::Null,
                },
            };
            self.diverge(&mut s, d);
        }
        Replayed {
            outcome,
            divergence: s.divergence.clone(),
            matched_steps,
            stopped_as_recorded: false,
        }
    }
}

/// One line for an invocation's outcome.
pub fn outcome_summary(o: &InvocationOutcome) -> String {
    match o {
        InvocationOutcome::Output(text) => {
            let mut shown: String = text.chars().take(120).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("output {shown}")
        }
        InvocationOutcome::SkillError { code, message } => format!("skill error {code}: {message}"),
        InvocationOutcome::Aborted { reason } => format!("aborted: {reason}"),
    }
}

impl TraceRecorder for Tape {
    fn record(&self, _skill: &str, event: HostEvent) {
        let mut s = self.lock();
        if s.divergence.is_some() || s.overran {
            return;
        }
        let Some(step) = s.steps.get(s.next) else {
            if self.stopped_by_deadline {
                // Recorded synchronously in the original too: a call made is a call recorded,
                // so this one came after the deadline struck.
                self.overrun(&mut s);
            } else {
                let d = Divergence {
                    step_index: self.end_index,
                    expected: Observed {
                        kind: "skill.end".into(),
                        summary: "the invocation ends here".into(),
                        detail: Value::Null,
                    },
                    actual: Observed::event(&event),
                };
                self.diverge(&mut s, d);
            }
            return;
        };
        let same = step.kind == event.kind
            && recorded::asked(step.kind, &step.body) == recorded::asked(event.kind, &event.body);
        if same {
            s.next += 1;
        } else {
            let d = Divergence {
                step_index: step.index,
                expected: Observed::step(step),
                actual: Observed::event(&event),
            };
            self.diverge(&mut s, d);
        }
    }
}

impl World for Tape {
    fn http<'a>(
        &'a self,
        _req: &'a OutboundRequest,
        _via: HttpVia<'a>,
    ) -> Pin<Box<dyn Future<Output = HttpAnswer> + Send + 'a>> {
        let answer = match self.take(|a| matches!(a, Answer::Http(_))) {
            Some(Answer::Http(answer)) => answer,
            // Never sent anywhere: the replay has no client. The event this produces is
            // where the divergence is named.
            _ => Err(OutboundError::Other(
                "replay: the trace has no exchange here".into(),
            )),
        };
        Box::pin(std::future::ready(answer))
    }

    fn wall_clock(&self) -> Duration {
        match self.take(|a| matches!(a, Answer::Wall(_))) {
            Some(Answer::Wall(d)) => d,
            _ => Duration::ZERO,
        }
    }

    fn monotonic_clock(&self) -> u64 {
        match self.take(|a| matches!(a, Answer::Monotonic(_))) {
            Some(Answer::Monotonic(ns)) => {
                self.lock().last_monotonic = ns;
                ns
            }
            // Never going backwards, even off the trace.
            _ => self.lock().last_monotonic,
        }
    }

    fn random(&self, source: &'static str, dst: &mut [u8]) {
        let len = dst.len();
        let fits = |a: &Answer| matches!(a, Answer::Random { source: s, bytes } if s == source && bytes.len() == len);
        match self.take(fits) {
            Some(Answer::Random { bytes, .. }) => dst.copy_from_slice(&bytes),
            _ => dst.fill(0),
        }
    }

    fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }
}
