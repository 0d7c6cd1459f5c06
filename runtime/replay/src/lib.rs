//! Replay: re-runs every skill invocation of a recorded trace against the trace, so a
//! reviewer sees whether the trace and the code agree.
//!
//! For each `skill.start` … `skill.end` of the trace, the component the step recorded (by
//! digest) is invoked again with the recorded input and the recorded limits, in a fresh
//! sandbox whose host calls are answered from the recorded steps
//! ([`runproof_host::replay`]); the calls it makes must be the recorded ones, in order, with
//! the recorded arguments, and its outcome the recorded output or error. The verdict is
//! [`Verdict::Replayed`] when every invocation matched, else [`Verdict::Diverged`] at the
//! first step where the code and the trace part.
//!
//! Replay says nothing about whether a trace is authentic: that is the proof's job, and the
//! caller must have verified the trace first (`runtime replay` refuses an unverified one).
//! What it adds is that the recorded outputs are what the recorded component does with the
//! recorded inputs and answers. It cannot say whether the remote servers answered truly:
//! their answers are what it serves.

mod outcome;
mod trace;

pub use trace::TraceStep;

use runproof_host::{
    Divergence, InvocationLimits, InvocationTrace, LimitHit, ScratchDir, SkillHost,
    component_digest,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the trace cannot be replayed: {0}")]
    Layout(String),
    #[error(
        "component {digest} (skill {skill:?}, step {step_index}) is not available; give it with --component {digest}=FILE"
    )]
    ComponentUnavailable {
        digest: String,
        skill: String,
        step_index: u64,
    },
    #[error("the component given for {digest} has sha256 {actual}: it is not that component")]
    ComponentMismatch { digest: String, actual: String },
    #[error("component {digest} (skill {skill:?}) cannot be loaded: {reason}")]
    InvalidComponent {
        digest: String,
        skill: String,
        reason: String,
    },
    #[error("cannot create the replay's scratch directory: {0}")]
    Scratch(String),
    /// A step the code would be served is not in the trace whole (or not readable): the
    /// replay refuses the trace rather than serve something else.
    #[error("the trace cannot be replayed faithfully: {0}")]
    NotServable(String),
}

/// `REPLAYED` or `DIVERGED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "REPLAYED")]
    Replayed,
    #[serde(rename = "DIVERGED")]
    Diverged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Replayed => "REPLAYED",
            Verdict::Diverged => "DIVERGED",
        }
    }
}

/// What to replay.
pub struct ReplayRequest<'a> {
    /// Every step of a verified trace, in `step_index` order.
    pub steps: &'a [TraceStep],
    /// Component bytes by digest (every digest [`needed_components`] lists, except those of
    /// substituted skills).
    pub components: &'a BTreeMap<String, Vec<u8>>,
    /// Skill name → other component bytes to replay in its place (a new build checked
    /// against an old trace). Such a replay says how that component behaves on this trace,
    /// not which component ran.
    pub substitutes: &'a BTreeMap<String, Vec<u8>>,
}

/// The components a trace's invocations recorded: digest → skill name.
pub fn needed_components(steps: &[TraceStep]) -> Result<BTreeMap<String, String>, ReplayError> {
    let (_, invocations) = trace::parse(steps).map_err(ReplayError::Layout)?;
    Ok(invocations
        .into_iter()
        .map(|i| (i.digest, i.skill))
        .collect())
}

/// How one invocation replayed.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationReport {
    pub step_id: String,
    pub attempt: u64,
    pub skill: String,
    /// The digest `skill.start` recorded.
    pub digest: String,
    /// The digest that was replayed (the recorded one unless substituted).
    pub replayed_digest: String,
    pub start_step: u64,
    pub end_step: u64,
    /// Recorded host steps of this invocation.
    pub host_steps: usize,
    /// `matched`, `diverged`, or `not-invoked` (its params did not resolve: nothing ran).
    pub result: &'static str,
    /// The original was cut off where the trace ends (by its deadline, or from outside: a
    /// cancel, a worker's shutdown); the code made every recorded call and was stopped there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped_as_recorded: bool,
    pub replay_ms: f64,
}

/// A skill replayed with another component than the one it recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Substitution {
    pub skill: String,
    pub recorded_digests: Vec<String>,
    pub replayed_digest: String,
}

/// The verdict and how it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub verdict: Verdict,
    /// The first step where the code and the trace part (`DIVERGED` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<DivergenceReport>,
    pub invocations: Vec<InvocationReport>,
    /// Invocations the trace holds (all of them are in `invocations` unless one diverged:
    /// replay stops at the first divergence).
    pub invocation_count: usize,
    /// Host steps the replayed code reproduced.
    pub replayed_steps: u64,
    pub trace_steps: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub substituted: Vec<Substitution>,
    /// Time spent replaying the invocations (compiling components excluded).
    pub replay_ms: f64,
}

/// A divergence, with the invocation it is in.
#[derive(Debug, Clone, Serialize)]
pub struct DivergenceReport {
    #[serde(flatten)]
    pub at: Divergence,
    pub skill: String,
    pub step_id: String,
    pub attempt: u64,
}

/// Replays every invocation of `req.steps` on `host`, stopping at the first divergence.
pub async fn replay_trace(
    host: &SkillHost,
    req: &ReplayRequest<'_>,
) -> Result<ReplayReport, ReplayError> {
    let (run, mut invocations) = trace::parse(req.steps).map_err(ReplayError::Layout)?;
    // Loading checks every component before anything is replayed: a missing one is an
    // error, not a divergence halfway through.
    let mut loaded = BTreeMap::new();
    for inv in &invocations {
        let key = (inv.skill.clone(), inv.digest.clone());
        if loaded.contains_key(&key) {
            continue;
        }
        let (bytes, substituted) = match req.substitutes.get(&inv.skill) {
            Some(b) => (b, true),
            None => (
                req.components.get(&inv.digest).ok_or_else(|| {
                    ReplayError::ComponentUnavailable {
                        digest: inv.digest.clone(),
                        skill: inv.skill.clone(),
                        step_index: inv.start_index,
                    }
                })?,
                false,
            ),
        };
        let actual = component_digest(bytes);
        if !substituted && actual != inv.digest {
            return Err(ReplayError::ComponentMismatch {
                digest: inv.digest.clone(),
                actual,
            });
        }
        let invalid = |reason: String| ReplayError::InvalidComponent {
            digest: actual.clone(),
            skill: inv.skill.clone(),
            reason,
        };
        let skill = host.load(bytes).await.map_err(|e| invalid(e.to_string()))?;
        if skill.info.name != inv.skill {
            return Err(invalid(format!(
                "it describes itself as {:?}",
                skill.info.name
            )));
        }
        loaded.insert(key, skill);
    }
    let substituted = substitutions(&invocations, req.substitutes);
    // Every invocation's tape is read before any is replayed: a trace with an answer the
    // replay cannot serve (capped to a digest) is refused whole, not half replayed.
    // The host steps move into the tapes (not copied: a long trace is held once).
    let mut tapes = Vec::with_capacity(invocations.len());
    let host_steps: Vec<usize> = invocations.iter().map(|i| i.host.len()).collect();
    for inv in &mut invocations {
        capped_ends(inv)?;
        let tape = match &inv.input {
            Some(_) => {
                let limits = effective(&run, inv)?;
                let tape = InvocationTrace {
                    steps: std::mem::take(&mut inv.host),
                    end_index: inv.end.index,
                    stopped_by_deadline: outcome::stopped_by(&inv.end, &deadline_reason(&limits)),
                    stopped_from_outside: outcome::stopped_from_outside(&inv.end),
                };
                tape.check()
                    .map_err(|e| ReplayError::NotServable(e.to_string()))?;
                Some((tape, limits))
            }
            None => None,
        };
        tapes.push(tape);
    }

    // One scratch directory for the whole replay, as the run had one for all its steps;
    // a temporary one, removed when the replay ends.
    let scratch = match run.limits.values().any(|l| l.scratch_dir) {
        true => Some(
            ScratchDir::create(
                &std::env::temp_dir().join("runproof-replay"),
                &unique_name(&run.run_id),
            )
            .map_err(|e| ReplayError::Scratch(e.to_string()))?,
        ),
        false => None,
    };

    let started = Instant::now();
    let mut reports = Vec::with_capacity(invocations.len());
    let mut replayed_steps = 0u64;
    let mut divergence = None;
    for ((inv, tape), host_steps) in invocations.iter().zip(tapes).zip(host_steps) {
        let skill = &loaded[&(inv.skill.clone(), inv.digest.clone())];
        let mut report = InvocationReport {
            step_id: inv.step_id.clone(),
            attempt: inv.attempt,
            skill: inv.skill.clone(),
            digest: inv.digest.clone(),
            replayed_digest: skill.digest.clone(),
            start_step: inv.start_index,
            end_step: inv.end.index,
            host_steps,
            result: "matched",
            stopped_as_recorded: false,
            replay_ms: 0.0,
        };
        let (Some(input), Some((tape, limits))) = (&inv.input, tape) else {
            // The runner never invoked it: there must be nothing but its end.
            report.result = "not-invoked";
            if let Some(first) = inv.host.first() {
                report.result = "diverged";
                divergence = Some(DivergenceReport {
                    at: Divergence {
                        step_index: first.index,
                        expected: runproof_host::Observed {
                            kind: "skill.end".into(),
                            summary: "a step whose params did not resolve makes no host call"
                                .into(),
                            detail: serde_json::Value::Null,
                        },
                        actual: runproof_host::Observed::step(first),
                    },
                    skill: inv.skill.clone(),
                    step_id: inv.step_id.clone(),
                    attempt: inv.attempt,
                });
            }
            reports.push(report);
            if divergence.is_some() {
                break;
            }
            continue;
        };
        let t = Instant::now();
        let replayed = host
            .replay(skill, &input.to_string(), tape, limits, scratch.as_ref())
            .await
            .map_err(|e| ReplayError::NotServable(e.to_string()))?;
        report.replay_ms = t.elapsed().as_secs_f64() * 1e3;
        report.stopped_as_recorded = replayed.stopped_as_recorded;
        replayed_steps += replayed.matched_steps as u64;
        let diverged = replayed
            .divergence
            .or_else(|| outcome::compare(&replayed.outcome, &inv.end));
        if let Some(at) = diverged {
            report.result = "diverged";
            divergence = Some(DivergenceReport {
                at,
                skill: inv.skill.clone(),
                step_id: inv.step_id.clone(),
                attempt: inv.attempt,
            });
            reports.push(report);
            break;
        }
        reports.push(report);
    }
    Ok(ReplayReport {
        verdict: if divergence.is_some() {
            Verdict::Diverged
        } else {
            Verdict::Replayed
        },
        divergence,
        invocation_count: invocations.len(),
        invocations: reports,
        replayed_steps,
        trace_steps: req.steps.len() as u64,
        substituted,
        replay_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// Refuses an invocation whose recorded input, or whole end, the trace's bounds capped to a
/// digest: the skill cannot be invoked with bytes the trace does not hold, and an end with
/// nothing left of it cannot be compared.
fn capped_ends(inv: &trace::Invocation) -> Result<(), ReplayError> {
    let capped = |index: u64, kind: &str, what: &str| {
        ReplayError::NotServable(format!(
            "step {index} ({kind}): {what} was recorded only as its size, SHA-256 and prefix (the trace's bounds): a replay can neither invoke nor compare with it; it cannot be replayed"
        ))
    };
    if inv.input.as_ref().is_some_and(runproof_host::holds_digest) {
        return Err(capped(inv.start_index, "skill.start", "the input"));
    }
    if runproof_host::is_bounded(&inv.end.body) {
        return Err(capped(inv.end.index, "skill.end", "the whole step body"));
    }
    Ok(())
}

/// The limits `run.start` recorded for the skill of `inv`.
fn effective(
    run: &trace::RunStart,
    inv: &trace::Invocation,
) -> Result<InvocationLimits, ReplayError> {
    run.limits.get(&inv.skill).copied().ok_or_else(|| {
        ReplayError::Layout(format!(
            "run.start records no effective limits for skill {:?}",
            inv.skill
        ))
    })
}

/// The reason the host gives when `limits`' deadline stops a skill.
fn deadline_reason(limits: &InvocationLimits) -> String {
    LimitHit::Deadline {
        limit: limits.timeout,
    }
    .to_string()
}

fn substitutions(
    invocations: &[trace::Invocation],
    substitutes: &BTreeMap<String, Vec<u8>>,
) -> Vec<Substitution> {
    substitutes
        .iter()
        .filter_map(|(skill, bytes)| {
            let mut recorded: Vec<String> = invocations
                .iter()
                .filter(|i| &i.skill == skill)
                .map(|i| i.digest.clone())
                .collect();
            recorded.dedup();
            (!recorded.is_empty()).then(|| Substitution {
                skill: skill.clone(),
                recorded_digests: recorded,
                replayed_digest: component_digest(bytes),
            })
        })
        .collect()
}

/// A directory name no other replay uses at the same time.
fn unique_name(run_id: &str) -> String {
    let safe: String = run_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{safe}-{}-{nanos}", std::process::id())
}
