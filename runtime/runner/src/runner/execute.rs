//! The second phase of a run: the plan's steps, in order, each recorded as it runs. Once the
//! run has an error (a skill that could not load, a lost lease, a stop from outside, a failed
//! step whose `on_error` is `abort`) the steps left are recorded as skipped, so the trace
//! accounts for the whole plan.

use super::prepare::Prepared;
use super::{RunEvent, RunObserver, Runner, StepOutcome};
use crate::control::RunControl;
use crate::outputs::{self, Outputs};
use crate::plan::{OnError, PlanStep};
use crate::writer::TraceWriter;
use runproof_host::{
    HostPattern, InvocationLimits, InvocationOutcome, LoadedSkill, ScratchDir, SecretSet,
};
use runproof_proof::{StepKind, StepStatus};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the steps went: what `seal` states.
pub(super) struct Executed {
    pub(super) outcomes: Vec<StepOutcome>,
    /// The run's error; `None` when it succeeded.
    pub(super) run_error: Option<String>,
}

/// One step as it is run: the plan step, its skill, its params with earlier outputs filled
/// in, and the grant it runs under.
pub(super) struct StepInputs<'a> {
    pub(super) step: &'a PlanStep,
    pub(super) skill: &'a LoadedSkill,
    /// Its place in the plan and the plan's length, for the observer.
    pub(super) index: usize,
    pub(super) total: usize,
    /// Resolved once: earlier outputs do not change while this step retries.
    pub(super) params: Result<serde_json::Value, String>,
    pub(super) granted: &'a [HostPattern],
    pub(super) limits: InvocationLimits,
    pub(super) scratch: Option<&'a ScratchDir>,
    pub(super) secrets: Arc<SecretSet>,
}

impl Runner {
    pub(super) async fn execute(
        &self,
        p: &Prepared<'_>,
        observer: &dyn RunObserver,
        control: &RunControl,
    ) -> Executed {
        let writer = &p.writer;
        let mut outputs = Outputs::new();
        let mut finished: HashMap<&str, &'static str> = HashMap::new();
        let mut outcomes = Vec::with_capacity(p.plan.steps.len());
        let mut run_error: Option<String> = None;
        // A skill that could not be loaded fails the run before any step runs; its stopped
        // `describe` is recorded as a step pair of its own.
        for u in &p.unloadable {
            writer.append(
                StepKind::SkillStart,
                Some(&u.name),
                StepStatus::Success,
                None,
                None,
                serde_json::json!({"phase": "describe", "digest": u.digest}),
            );
            writer.append(
                StepKind::SkillEnd,
                Some(&u.name),
                StepStatus::Failure,
                None,
                None,
                serde_json::json!({"phase": "describe", "outcome": "aborted", "error": u.reason}),
            );
            run_error.get_or_insert_with(|| {
                format!(
                    "skill {:?} could not be loaded: describe was stopped: {}",
                    u.name, u.reason
                )
            });
        }
        let total = p.plan.steps.len();
        for (index, step) in p.plan.steps.iter().enumerate() {
            // A run recovered as lost by another process is failed for good: run no more of
            // its steps (each may have side effects); the seal will be refused too.
            if p.heartbeat.lost() && run_error.is_none() {
                run_error = Some(crate::lease::LEASE_LOST.into());
            }
            // Stopped from outside (a cancel, a worker's shutdown): the rest is skipped.
            if let Some(reason) = control.aborted()
                && run_error.is_none()
            {
                run_error = Some(reason.to_string());
            }
            let skip_reason = if let Some(err) = &run_error {
                Some(format!("run aborted: {err}"))
            } else {
                step.depends_on
                    .iter()
                    .find(|d| finished.get(d.as_str()) != Some(&"succeeded"))
                    .map(|d| format!("dependency {d:?} did not succeed"))
            };
            let outcome = match skip_reason {
                Some(reason) => {
                    writer.append(
                        StepKind::SkillSkipped,
                        Some(&step.skill),
                        StepStatus::Skipped,
                        None,
                        None,
                        serde_json::json!({"step_id": step.step_id, "reason": reason}),
                    );
                    StepOutcome {
                        step_id: step.step_id.clone(),
                        skill: step.skill.clone(),
                        status: "skipped",
                        attempts: 0,
                        duration_ms: 0,
                        error: Some(reason),
                        output: None,
                    }
                }
                None => {
                    let inputs = StepInputs {
                        step,
                        skill: &p.skills[&step.skill].skill,
                        index,
                        total,
                        params: outputs::resolve(&step.params, &outputs),
                        granted: &p.granted,
                        limits: p.limits[&step.skill],
                        scratch: p.scratch.as_ref(),
                        secrets: p.secret_sets.get(&step.skill).cloned().unwrap_or_default(),
                    };
                    self.run_step(inputs, writer, observer, control).await
                }
            };
            observer.event(&RunEvent::StepFinished {
                index,
                total,
                outcome: &outcome,
            });
            // A step cut short from outside fails the run with the outside reason, not as a
            // step failure (whatever its on_error says).
            if let Some(reason) = control.aborted()
                && run_error.is_none()
            {
                run_error = Some(reason.to_string());
            }
            if outcome.status == "failed" && step.on_error == OnError::Abort && run_error.is_none()
            {
                // Capped: it is stored in `runs.error_message`, `run.end` and printed.
                run_error = Some(runproof_host::trace_caps::cap_message(&format!(
                    "step {:?} ({}) failed: {}",
                    step.step_id,
                    step.skill,
                    outcome.error.as_deref().unwrap_or("unknown error")
                )));
            }
            if let Some(out) = &outcome.output {
                outputs.insert(step.output_name().to_string(), out.clone());
            }
            finished.insert(step.step_id.as_str(), outcome.status);
            outcomes.push(outcome);
        }
        Executed {
            outcomes,
            run_error,
        }
    }

    /// One step, with its retries: each attempt is a `skill.start` / `skill.end` pair.
    async fn run_step(
        &self,
        inputs: StepInputs<'_>,
        writer: &Arc<TraceWriter>,
        observer: &dyn RunObserver,
        control: &RunControl,
    ) -> StepOutcome {
        let StepInputs {
            step,
            skill,
            index,
            total,
            params,
            granted,
            limits,
            scratch,
            secrets,
        } = inputs;
        let started = Instant::now();
        let name = skill.info.name.as_str();
        let mut attempt = 0;
        loop {
            attempt += 1;
            observer.event(&RunEvent::StepStarted {
                index,
                total,
                step_id: &step.step_id,
                skill: name,
                attempt,
            });
            let mut start_body = serde_json::json!({"step_id": step.step_id, "attempt": attempt, "digest": skill.digest});
            match &params {
                Ok(v) => start_body["input"] = v.clone(),
                Err(e) => start_body["input_error"] = e.clone().into(),
            }
            writer.append(
                StepKind::SkillStart,
                Some(name),
                StepStatus::Success,
                None,
                None,
                start_body,
            );
            let call_started = Instant::now();
            let (result, end_body) = match &params {
                // Params that do not resolve fail without running the skill (and no retry
                // would change that).
                Err(e) => {
                    let end = serde_json::json!({"step_id": step.step_id, "attempt": attempt, "outcome": "bad-params", "error": e});
                    let duration = call_started.elapsed().as_millis() as u64;
                    writer.append(
                        StepKind::SkillEnd,
                        Some(name),
                        StepStatus::Failure,
                        Some(duration),
                        None,
                        end,
                    );
                    return StepOutcome::ended(
                        step,
                        name,
                        attempt,
                        started,
                        Err(format!("params: {e}")),
                    );
                }
                Ok(v) => {
                    let recorder: Arc<dyn runproof_host::TraceRecorder> = writer.clone();
                    let input = v.to_string();
                    let invocation = self.host.invoke_with_secrets(
                        skill,
                        &input,
                        recorder,
                        granted,
                        secrets.clone(),
                        limits,
                        scratch,
                    );
                    // A run stopped from outside drops the invocation, as a deadline would:
                    // the step ends `aborted` with the reason, recorded like any other end,
                    // and says it was stopped from outside (a replay then knows the code was
                    // cut off where the trace ends, not that it ended there).
                    let mut stopped = false;
                    let outcome = tokio::select! {
                        outcome = invocation => outcome,
                        reason = control.wait() => {
                            stopped = true;
                            InvocationOutcome::Aborted { reason }
                        }
                    };
                    let (result, mut end) = classify(&step.step_id, attempt, outcome);
                    if stopped {
                        end[runproof_host::replay::STOPPED_FROM_OUTSIDE] = true.into();
                    }
                    (result, end)
                }
            };
            let duration = call_started.elapsed().as_millis() as u64;
            let retry =
                result.is_err() && attempt <= step.retry_count && control.aborted().is_none();
            let status = match (&result, retry) {
                (Ok(_), _) => StepStatus::Success,
                (Err(_), true) => StepStatus::Retry,
                (Err(_), false) => StepStatus::Failure,
            };
            writer.append(
                StepKind::SkillEnd,
                Some(name),
                status,
                Some(duration),
                None,
                end_body,
            );
            match result {
                Ok(output) => return StepOutcome::ended(step, name, attempt, started, Ok(output)),
                Err(reason) if retry => {
                    // Back-off as in the original system: 0.5 s * 2^(n-1).
                    let after = Duration::from_millis(500) * 2u32.pow(attempt - 1);
                    observer.event(&RunEvent::Retrying {
                        step_id: &step.step_id,
                        attempt,
                        after,
                        reason: &reason,
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(after) => {}
                        _ = control.wait() => {}
                    }
                }
                Err(reason) => {
                    return StepOutcome::ended(step, name, attempt, started, Err(reason));
                }
            }
        }
    }
}

/// The step's result and the body of its `skill.end` step.
fn classify(
    step_id: &str,
    attempt: u32,
    outcome: InvocationOutcome,
) -> (Result<serde_json::Value, String>, serde_json::Value) {
    let base = |outcome: &str| serde_json::json!({"step_id": step_id, "attempt": attempt, "outcome": outcome});
    match outcome {
        InvocationOutcome::Output(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => {
                let mut b = base("output");
                b["output"] = v.clone();
                (Ok(v), b)
            }
            Err(e) => {
                let reason = format!("the skill returned output that is not JSON: {e}");
                let mut b = base("invalid-output");
                b["error"] = reason.clone().into();
                b["raw_output"] = runproof_host::trace_caps::text_field(&text);
                (Err(reason), b)
            }
        },
        InvocationOutcome::SkillError { code, message } => {
            let mut b = base("skill-error");
            b["error"] = serde_json::json!({"code": code, "message": message});
            (Err(format!("{code}: {message}")), b)
        }
        InvocationOutcome::Aborted { reason } => {
            let mut b = base("aborted");
            b["error"] = reason.clone().into();
            (Err(format!("aborted: {reason}")), b)
        }
    }
}
