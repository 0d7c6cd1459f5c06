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
//!   the replayed invocation ends there with the same reason (as it does if it is still
//!   running when the trace is exhausted). A replay gets more time than the original (it
//!   may run slower), which the code cannot observe: its clocks are the recorded ones;
//! - **calls past the host-call cap** were never recorded (the cap refuses them); the same
//!   cap, from the same limits, refuses them in the replay.
//!
//! The write-ahead `host.intent` of an exchange is the host's, not the guest's: the original
//! recorded it only once the request had passed every check and was about to leave. The
//! tape commits it for a request exactly when the trace has an intent for that exchange
//! (the host code then reports it, and it is compared like any call), so a request refused
//! before leaving replays without one, as it ran.
//!
//! A trace whose answers were capped to a digest (`trace_caps.rs`: a response body over
//! 64 KiB, a step over 1 MiB) is refused before anything runs ([`ReplayError::DigestOnly`]):
//! serving anything else would be replaying another run.
//!
//! Long (one file): the replaying recorder is one state machine (the cursor over recorded
//! steps, open intents, the deadline and the outcome), and its matching rules read that
//! state; split apart they would share it through a wider interface than they need.

use crate::engine::{InvocationOutcome, LoadedSkill, SkillHost};
use crate::http::{HttpError, OutboundError, OutboundRequest};
use crate::limits::{InvocationLimits, LimitHit};
use crate::policy::OutboundPolicy;
use crate::recorded::{self, Answer, Interaction, ReadError, RecordedStep};
use crate::recorder::{HostEvent, TraceRecorder};
use crate::world::{HttpAnswer, HttpVia, World};
use runproof_proof::StepKind;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `skill.end` field (`true`) the runner records when a run was stopped from outside
/// (a cancel, a worker's shutdown) in the middle of the invocation.
pub const STOPPED_FROM_OUTSIDE: &str = "stopped_from_outside";

/// What the trace holds for one invocation (one `skill.start` … `skill.end`).
#[derive(Debug, Clone)]
pub struct InvocationTrace {
    /// The host steps between `skill.start` and `skill.end`, in order.
    pub steps: Vec<RecordedStep>,
    /// The index of the `skill.end` step.
    pub end_index: u64,
    /// The recorded invocation was stopped by its deadline.
    pub stopped_by_deadline: bool,
    /// The recorded invocation was stopped from outside ([`STOPPED_FROM_OUTSIDE`]), with
    /// this reason: somewhere after its last recorded call, at a moment the code cannot have
    /// seen. Once the code has made every recorded call, nothing it does after can be checked
    /// against the trace; it is stopped there, and ends as recorded.
    pub stopped_from_outside: Option<String>,
}

impl InvocationTrace {
    /// Whether every recorded step can be read back and every answer served (none was
    /// capped to a digest), without running anything: so a replay can refuse a trace before
    /// it replays any of it.
    pub fn check(&self) -> Result<(), ReplayError> {
        Tape::new(self, InvocationLimits::default()).map(|_| ())
    }
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
    /// A whole recorded step.
    pub fn step(step: &RecordedStep) -> Self {
        Observed {
            kind: step.kind.as_str().into(),
            summary: recorded::summary(step.kind, &step.body),
            detail: step.body.clone(),
        }
    }

    fn call(call: &Interaction) -> Self {
        Observed {
            kind: call.kind.as_str().into(),
            summary: call.summary(),
            detail: call.asked.clone(),
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
    /// An answer the code would be served was recorded only as a digest.
    #[error("step {step_index} ({kind}): {reason}; it cannot be replayed")]
    DigestOnly {
        step_index: u64,
        kind: String,
        reason: String,
    },
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
        scratch: Option<&crate::ScratchDir>,
    ) -> Result<Replayed, ReplayError> {
        let tape = Arc::new(Tape::new(&trace, limits)?);
        // The tape holds what it needs; the parsed steps need not live through the replay.
        drop(trace);
        let limits = InvocationLimits {
            timeout: tape.replay_timeout,
            ..limits
        };
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
///
/// Calls are compared in two orders, both the recorded one: `ordered` holds every call but
/// concurrent exchanges (standard `wasi:http`, made on a task of their own), so the guest's
/// clock and random reads must sit exactly where they were among its own calls; `events`
/// holds every call but the reads, so exchanges must sit exactly where they were among the
/// other calls. Only where a concurrent exchange lands among reads is left free: that was a
/// race in the original too.
struct Tape {
    state: Mutex<TapeState>,
    /// Set once the code has left the trace; the epoch callback then stops it.
    halted: AtomicBool,
    end_index: u64,
    stopped_by_deadline: bool,
    stopped_from_outside: Option<String>,
    /// The recorded deadline.
    timeout: Duration,
    /// The replay's own deadline. Every answer comes from the trace, so the code cannot
    /// tell how long it runs; the deadline only bounds a replay that may be slower than the
    /// original (a loaded machine, a debug build): it gets twice the time, and at least a
    /// second more. Reached once the trace is exhausted, it is the recorded deadline.
    replay_timeout: Duration,
}

/// A recorded call still to be made.
struct Expected {
    step_index: u64,
    call: Interaction,
}

/// A recorded exchange, answered to the first request that takes it.
struct Exchange {
    method: Value,
    url: Value,
    /// The original recorded its write-ahead intent (it passed every check and left).
    intent: bool,
    /// `None`: the intent has no result (the deadline struck while it was in flight).
    answer: Option<HttpAnswer>,
    taken: bool,
}

struct TapeState {
    steps: Vec<u64>,
    ordered: VecDeque<Expected>,
    events: VecDeque<Expected>,
    /// The answers of the reads, in order.
    reads: VecDeque<Answer>,
    exchanges: Vec<Exchange>,
    divergence: Option<Divergence>,
    /// The code asked for more than a deadline-stopped trace holds.
    overran: bool,
    last_monotonic: u64,
}

impl Tape {
    fn new(trace: &InvocationTrace, limits: InvocationLimits) -> Result<Self, ReplayError> {
        let mut state = TapeState {
            steps: trace.steps.iter().map(|s| s.index).collect(),
            ordered: VecDeque::new(),
            events: VecDeque::new(),
            reads: VecDeque::new(),
            exchanges: Vec::new(),
            divergence: None,
            overran: false,
            last_monotonic: 0,
        };
        // Intents not yet answered by their exchange's result step: (interface, request).
        let mut open_intents: Vec<(Value, Value)> = Vec::new();
        for step in &trace.steps {
            let calls = recorded::interactions(step.kind, &step.body).map_err(|e| match e {
                ReadError::DigestOnly(_) => ReplayError::DigestOnly {
                    step_index: step.index,
                    kind: step.kind.as_str().into(),
                    reason: e.to_string(),
                },
                ReadError::Malformed(_) => ReplayError::Unreadable(format!(
                    "step {} ({}): {e}",
                    step.index,
                    step.kind.as_str()
                )),
            })?;
            let call_of = |b: &Value| (b["interface"].clone(), b["request"].clone());
            if step.kind == StepKind::HostIntent {
                open_intents.push(call_of(&step.body));
            }
            for call in calls {
                match &call.answer {
                    Some(Answer::Http(answer)) => {
                        // The intent of this exchange, if it had one: the earliest open one of
                        // the same call (concurrent exchanges may finish out of order).
                        let this = call_of(&step.body);
                        let intent = open_intents.iter().position(|i| *i == this);
                        if let Some(i) = intent {
                            open_intents.remove(i);
                        }
                        state.exchanges.push(Exchange {
                            method: step.body["request"]["method"].clone(),
                            url: step.body["request"]["url"].clone(),
                            intent: intent.is_some(),
                            answer: Some(answer.clone()),
                            taken: false,
                        })
                    }
                    Some(read) => state.reads.push_back(read.clone()),
                    None => {}
                }
                let expected = |call: &Interaction| Expected {
                    step_index: step.index,
                    call: call.clone(),
                };
                if !call.is_read() {
                    state.events.push_back(expected(&call));
                }
                if !call.concurrent {
                    state.ordered.push_back(expected(&call));
                }
            }
        }
        // An intent without a result: the request was in flight when the deadline stopped
        // the original. The replayed request commits it, then finds the trace's end.
        for (_, request) in open_intents {
            state.exchanges.push(Exchange {
                method: request["method"].clone(),
                url: request["url"].clone(),
                intent: true,
                answer: None,
                taken: false,
            });
        }
        let tape = Tape {
            state: Mutex::new(state),
            halted: AtomicBool::new(false),
            end_index: trace.end_index,
            stopped_by_deadline: trace.stopped_by_deadline,
            stopped_from_outside: trace.stopped_from_outside.clone(),
            timeout: limits.timeout,
            replay_timeout: limits.timeout + limits.timeout.max(Duration::from_secs(1)),
        };
        // Stopped before its first call: nothing to check at all.
        tape.halt_at_a_stop(&tape.lock());
        Ok(tape)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TapeState> {
        // Every update below is a single assignment, push or pop: a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next read's answer if it `fits` the read the code makes. Otherwise the code asked
    /// for something the trace does not have next: the call it is about to report will not
    /// match and is where the divergence is named (or, past the host-call cap, the cap
    /// refuses it as it did originally).
    fn take_read(&self, fits: impl FnOnce(&Answer) -> bool) -> Option<Answer> {
        let mut s = self.lock();
        match s.reads.front() {
            Some(a) if fits(a) => s.reads.pop_front(),
            Some(_) => None,
            None => {
                self.overrun(&mut s);
                None
            }
        }
    }

    /// The original was cut off where its trace ends (its deadline, or a stop from outside),
    /// not ended there by the code.
    fn stopped_early(&self) -> bool {
        self.stopped_by_deadline || self.stopped_from_outside.is_some()
    }

    /// The code asks for more than the trace holds. Where the original was cut off, this is
    /// where that struck.
    fn overrun(&self, s: &mut TapeState) {
        if self.stopped_early() && s.divergence.is_none() {
            s.overran = true;
            self.halted.store(true, Ordering::Relaxed);
        }
    }

    fn diverge(&self, s: &mut TapeState, d: Divergence) {
        s.divergence.get_or_insert(d);
        self.halted.store(true, Ordering::Relaxed);
    }

    /// Checks one call the code made against the next one(s) the trace holds.
    fn check(&self, s: &mut TapeState, call: Interaction) {
        // Sync calls are in both orders, reads only in `ordered`, concurrent exchanges only
        // in `events`.
        let in_ordered = !call.concurrent;
        let in_events = !call.is_read();
        let fronts = [
            in_ordered.then(|| s.ordered.front()).flatten(),
            in_events.then(|| s.events.front()).flatten(),
        ];
        let wanted = [in_ordered, in_events];
        for (front, wanted) in fronts.iter().zip(wanted) {
            if !wanted {
                continue;
            }
            match front {
                Some(e)
                    if e.call.kind == call.kind
                        && recorded::same_asked(&e.call.asked, &call.asked) => {}
                Some(e) => {
                    let d = Divergence {
                        step_index: e.step_index,
                        expected: Observed::call(&e.call),
                        actual: Observed::call(&call),
                    };
                    return self.diverge(s, d);
                }
                None if self.stopped_early() => {
                    // A call made is a call recorded (synchronously, in the original too): this
                    // one came after the deadline or the stop struck.
                    return self.overrun(s);
                }
                None => {
                    let d = Divergence {
                        step_index: self.end_index,
                        expected: Observed {
                            kind: "skill.end".into(),
                            summary: "the invocation ends here".into(),
                            detail: Value::Null,
                        },
                        actual: Observed::call(&call),
                    };
                    return self.diverge(s, d);
                }
            }
        }
        if in_ordered {
            s.ordered.pop_front();
        }
        if in_events {
            s.events.pop_front();
        }
        self.halt_at_a_stop(s);
    }

    /// A stop from outside came somewhere after the last recorded call; once the code has
    /// made them all, there is nothing left to check, so it is stopped at its next epoch tick
    /// instead of running on. (A code parked in a host call, a sleep, is not woken: it waits
    /// for the replay's deadline, then ends as recorded too.)
    fn halt_at_a_stop(&self, s: &TapeState) {
        if self.stopped_from_outside.is_some() && s.ordered.is_empty() && s.events.is_empty() {
            self.halted.store(true, Ordering::Relaxed);
        }
    }

    fn finish(&self, outcome: InvocationOutcome) -> Replayed {
        let mut s = self.lock();
        let exhausted = s.ordered.is_empty() && s.events.is_empty();
        let own_deadline = LimitHit::Deadline {
            limit: self.replay_timeout,
        }
        .to_string();
        let hit_own_deadline =
            matches!(&outcome, InvocationOutcome::Aborted { reason } if *reason == own_deadline);
        // Stopped from outside: every recorded call made is all the trace can check, however
        // the code went on (a stop at another moment would have cut it there).
        let stopped_outside =
            self.stopped_from_outside.is_some() && exhausted && s.divergence.is_none();
        if s.overran
            || stopped_outside
            || (self.stopped_by_deadline && exhausted && hit_own_deadline)
        {
            let matched_steps = s.steps.len();
            let reason = match &self.stopped_from_outside {
                Some(reason) => reason.clone(),
                None => LimitHit::Deadline {
                    limit: self.timeout,
                }
                .to_string(),
            };
            return Replayed {
                outcome: InvocationOutcome::Aborted { reason },
                divergence: None,
                matched_steps,
                stopped_as_recorded: s.overran || stopped_outside,
            };
        }
        let first_missing = [s.ordered.front(), s.events.front()]
            .into_iter()
            .flatten()
            .min_by_key(|e| e.step_index)
            .map(|e| Divergence {
                step_index: e.step_index,
                expected: Observed::call(&e.call),
                actual: Observed {
                    kind: "skill.end".into(),
                    summary: format!(
                        "no further host call: the invocation ended ({})",
                        outcome_summary(&outcome)
                    ),
                    detail: Value::Null,
                },
            });
        if s.divergence.is_none()
            && let Some(d) = first_missing
        {
            self.diverge(&mut s, d);
        }
        let matched_steps = match &s.divergence {
            Some(d) => s.steps.iter().filter(|i| **i < d.step_index).count(),
            None => s.steps.len(),
        };
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
        // The replayed code's step, cut into calls as the recorded ones are. (Its answers
        // came from the trace, so it reads back; if not, it is compared whole.)
        let calls = recorded::interactions(event.kind, &event.body).unwrap_or_else(|_| {
            vec![Interaction {
                kind: event.kind,
                asked: event.body.clone(),
                answer: None,
                concurrent: false,
            }]
        });
        for call in calls {
            if s.divergence.is_some() || s.overran {
                return;
            }
            self.check(&mut s, call);
        }
    }
}

impl World for Tape {
    fn http<'a>(
        &'a self,
        req: &'a OutboundRequest,
        via: HttpVia<'a>,
    ) -> Pin<Box<dyn Future<Output = HttpAnswer> + Send + 'a>> {
        Box::pin(async move {
            // Concurrent exchanges may ask in any order: each request takes the first
            // recorded exchange of the same method and URL; whether it was the right call at
            // the right place is checked when its steps are reported.
            let (intent, answer) = {
                let mut s = self.lock();
                let same =
                    |e: &Exchange| e.method == req.method.as_str() && e.url == req.url.as_str();
                let pick = s
                    .exchanges
                    .iter()
                    .position(|e| !e.taken && same(e))
                    .or_else(|| s.exchanges.iter().position(|e| !e.taken));
                match pick {
                    Some(i) => {
                        let e = &mut s.exchanges[i];
                        e.taken = true;
                        (e.intent, e.answer.take())
                    }
                    None => (false, None),
                }
            };
            // Where the original's request left the host, its intent is recorded, through
            // the same write-ahead (the lock is released: reporting it takes it again).
            if intent && let Err(e) = via.ahead.commit(req.to_json(via.caps)).await {
                return Err(HttpError::Other(format!("replay: {e}")).into());
            }
            match answer {
                Some(answer) => answer,
                None => {
                    self.overrun(&mut self.lock());
                    // Never sent anywhere: the replay has no client. The step this produces
                    // is where the divergence is named.
                    Err(OutboundError::from(HttpError::Other(
                        "replay: the trace has no answer to this request".into(),
                    )))
                }
            }
        })
    }

    fn wall_clock(&self) -> Duration {
        match self.take_read(|a| matches!(a, Answer::Wall(_))) {
            Some(Answer::Wall(d)) => d,
            _ => Duration::ZERO,
        }
    }

    fn monotonic_clock(&self) -> u64 {
        match self.take_read(|a| matches!(a, Answer::Monotonic(_))) {
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
        match self.take_read(fits) {
            Some(Answer::Random { bytes, .. }) => dst.copy_from_slice(&bytes),
            _ => dst.fill(0),
        }
    }

    fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }
}
