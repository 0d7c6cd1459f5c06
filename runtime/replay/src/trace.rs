//! A recorded trace read back as what replay needs: the run's effective limits per skill
//! (from `run.start`) and its invocations, each `skill.start`, the host steps it made and
//! its `skill.end`. The layout is the runner's; this reads it, it does not trust it to be
//! well formed (a verified trace is authentic, not necessarily one this version wrote).

use runproof_host::limits as ceiling;
use runproof_host::{InvocationLimits, RecordedStep};
use runproof_proof::StepKind;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// One stored step: its index and its exact bytes.
#[derive(Debug, Clone)]
pub struct TraceStep {
    pub index: u64,
    pub payload: Vec<u8>,
}

/// A verified stored step as replay reads it (a negative index, which a verified trace
/// never has, reads as 0 and cannot match its place).
impl From<runproof_proof::StoredStep> for TraceStep {
    fn from(s: runproof_proof::StoredStep) -> Self {
        TraceStep {
            index: s.step_index.max(0) as u64,
            payload: s.payload,
        }
    }
}

/// What `run.start` says that replay needs.
#[derive(Debug, Clone)]
pub(crate) struct RunStart {
    pub run_id: String,
    /// The effective limits each skill ran with.
    pub limits: BTreeMap<String, InvocationLimits>,
}

/// One `skill.start` … `skill.end`.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub skill: String,
    pub step_id: String,
    pub attempt: u64,
    /// The component digest `skill.start` recorded.
    pub digest: String,
    /// The input the skill was invoked with; `None`: its params did not resolve, so the
    /// runner never invoked it.
    pub input: Option<Value>,
    pub start_index: u64,
    pub host: Vec<RecordedStep>,
    pub end: RecordedStep,
}

/// Reads every step; an error names the first step that is not laid out as a runner lays
/// out a trace.
pub(crate) fn parse(steps: &[TraceStep]) -> Result<(RunStart, Vec<Invocation>), String> {
    let mut read = steps
        .iter()
        .map(|s| RecordedStep::parse(s.index, &s.payload));
    let first = read.next().ok_or("the trace has no steps")??;
    if first.kind != StepKind::RunStart {
        return Err(format!(
            "step {} is {}, not run.start",
            first.index,
            first.kind.as_str()
        ));
    }
    let run = run_start(&first)?;
    let mut invocations = Vec::new();
    let mut open: Option<(RecordedStep, Vec<RecordedStep>)> = None;
    for step in read {
        let step = step?;
        match (step.kind, open.take()) {
            (StepKind::SkillStart, None) => open = Some((step, Vec::new())),
            (StepKind::SkillEnd, Some((start, host))) => {
                invocations.push(invocation(start, host, step)?);
            }
            (StepKind::SkillSkipped | StepKind::RunEnd, None) => {}
            (kind, Some((start, mut host))) if is_host_step(kind) => {
                host.push(step);
                open = Some((start, host));
            }
            (kind, open_now) => {
                let inside = match open_now {
                    Some((start, _)) => {
                        format!(" inside the invocation started at step {}", start.index)
                    }
                    None => " outside any invocation".into(),
                };
                return Err(format!(
                    "step {} is {}{inside}: not a trace layout replay knows",
                    step.index,
                    kind.as_str()
                ));
            }
        }
    }
    if let Some((start, _)) = open {
        return Err(format!(
            "the invocation started at step {} has no skill.end",
            start.index
        ));
    }
    Ok((run, invocations))
}

/// Anything a skill's invocation records between its start and end: every host step kind,
/// including kinds this version does not know the name of.
fn is_host_step(kind: StepKind) -> bool {
    !matches!(
        kind,
        StepKind::RunStart
            | StepKind::RunEnd
            | StepKind::SkillStart
            | StepKind::SkillEnd
            | StepKind::SkillSkipped
    )
}

fn run_start(step: &RecordedStep) -> Result<RunStart, String> {
    let body = &step.body;
    let effective = body["policy"]["limits"]["effective"]
        .as_object()
        .ok_or("run.start does not record the effective limits (policy.limits.effective)")?;
    let mut limits = BTreeMap::new();
    for (skill, l) in effective {
        limits.insert(skill.clone(), invocation_limits(skill, l)?);
    }
    Ok(RunStart {
        run_id: body["run_id"].as_str().unwrap_or_default().to_string(),
        limits,
    })
}

/// The limits as `InvocationLimits` serializes them (`timeout_ms` in milliseconds).
fn invocation_limits(skill: &str, l: &Value) -> Result<InvocationLimits, String> {
    let num = |field: &str| {
        l[field].as_u64().ok_or_else(|| {
            format!("run.start records no {field} in the effective limits of {skill:?}")
        })
    };
    let size = |field: &str| {
        num(field).and_then(|n| {
            usize::try_from(n).map_err(|_| format!("{field} of {skill:?} does not fit"))
        })
    };
    let quota = |field: &str, absent: u64| match l.get(field) {
        None => Ok(absent),
        Some(_) => num(field),
    };
    Ok(InvocationLimits {
        max_memory_bytes: size("max_memory_bytes")?,
        timeout: Duration::from_millis(num("timeout_ms")?),
        fuel: l["fuel"].as_u64(),
        max_host_calls: num("max_host_calls")?,
        max_output_bytes: size("max_output_bytes")?,
        scratch_dir: l["scratch_dir"].as_bool().unwrap_or(false),
        // The scratch quotas the run had. A trace from before quotas existed records none,
        // and its run had none: the ceilings are the nearest a replay can enforce.
        scratch_max_bytes: quota("scratch_max_bytes", ceiling::CEILING_SCRATCH_MAX_BYTES)?,
        scratch_max_files: quota("scratch_max_files", ceiling::CEILING_SCRATCH_MAX_FILES)?,
        scratch_max_open_files: quota("scratch_max_open_files", ceiling::CEILING_SCRATCH_MAX_OPEN)?,
    })
}

fn invocation(
    start: RecordedStep,
    host: Vec<RecordedStep>,
    end: RecordedStep,
) -> Result<Invocation, String> {
    let b = &start.body;
    let skill = start
        .skill
        .clone()
        .ok_or_else(|| format!("skill.start at step {} names no skill", start.index))?;
    if end.skill.as_deref() != Some(skill.as_str()) {
        return Err(format!(
            "skill.end at step {} is not {skill:?}'s, which started at step {}",
            end.index, start.index
        ));
    }
    let digest = b["digest"]
        .as_str()
        .ok_or_else(|| format!("skill.start at step {} records no digest", start.index))?
        .to_string();
    Ok(Invocation {
        skill,
        step_id: b["step_id"].as_str().unwrap_or_default().to_string(),
        attempt: b["attempt"].as_u64().unwrap_or(1),
        digest,
        input: b.get("input").cloned(),
        start_index: start.index,
        host,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(index: u64, kind: &str, skill: Option<&str>, body: Value) -> TraceStep {
        let mut env = json!({"v": 1, "kind": kind, "status": "success", "at": "t", "body": body});
        if let Some(s) = skill {
            env["skill"] = s.into();
        }
        TraceStep {
            index,
            payload: serde_json::to_vec(&env).unwrap(),
        }
    }

    fn run_start() -> TraceStep {
        step(
            0,
            "run.start",
            None,
            json!({"run_id": "r", "policy": {"limits": {"effective": {"probe": {
                "max_memory_bytes": 1024, "timeout_ms": 2000, "fuel": null,
                "max_host_calls": 10, "max_output_bytes": 4096, "scratch_dir": false}}}}}),
        )
    }

    #[test]
    fn splits_invocations_and_reads_limits() {
        let steps = vec![
            run_start(),
            step(
                1,
                "skill.start",
                Some("probe"),
                json!({"step_id": "a", "attempt": 1, "digest": "d", "input": {"x": 1}}),
            ),
            step(
                2,
                "host.log",
                Some("probe"),
                json!({"level": "info", "message": "hi"}),
            ),
            step(
                3,
                "skill.end",
                Some("probe"),
                json!({"outcome": "output", "output": {}}),
            ),
            step(4, "skill.skipped", Some("probe"), json!({})),
            step(5, "run.end", None, json!({"status": "succeeded"})),
        ];
        let (run, invocations) = parse(&steps).unwrap();
        assert_eq!(run.limits["probe"].timeout, Duration::from_millis(2000));
        assert_eq!(run.limits["probe"].fuel, None);
        assert_eq!(invocations.len(), 1);
        let i = &invocations[0];
        assert_eq!((i.start_index, i.end.index, i.host.len()), (1, 3, 1));
        assert_eq!(i.input, Some(json!({"x": 1})));
    }

    #[test]
    fn refuses_a_layout_it_does_not_know() {
        let unterminated = vec![
            run_start(),
            step(
                1,
                "skill.start",
                Some("probe"),
                json!({"digest": "d", "input": {}}),
            ),
            step(2, "run.end", None, json!({})),
        ];
        let e = parse(&unterminated).unwrap_err();
        assert!(e.contains("step 2 is run.end inside"), "{e}");
        let stray = vec![run_start(), step(1, "host.log", Some("probe"), json!({}))];
        assert!(
            parse(&stray)
                .unwrap_err()
                .contains("outside any invocation")
        );
    }
}
