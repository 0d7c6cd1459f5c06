//! The plan JSON, as the original system spelled it:
//! `{"planner": "...", "steps": [{"step_id", "skill", "params", "on_error", "retry_count",
//! "output_key", "depends_on"}]}`.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use thiserror::Error;

/// Most retries one step may ask for; back-off doubles each time, so more would stall a run
/// for minutes.
pub const MAX_RETRIES: u32 = 5;

#[derive(Debug, Error)]
pub enum PlanError {
    #[error("bad plan: {0}")]
    Invalid(String),
    #[error(
        "cannot plan the goal {goal:?}: it names no http(s) URL; name one in the goal, or pass a plan with --plan FILE"
    )]
    Unplannable { goal: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// A failed step fails the run; later steps are skipped.
    #[default]
    Abort,
    /// A failed step is recorded and the run goes on; steps depending on it are skipped.
    Continue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    pub step_id: String,
    pub skill: String,
    #[serde(default = "empty_object")]
    pub params: serde_json::Value,
    #[serde(default)]
    pub on_error: OnError,
    #[serde(default)]
    pub retry_count: u32,
    /// Name under which later steps find this step's output (`{{ key.field }}`); defaults
    /// to the step_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_key: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
}

impl PlanStep {
    pub fn output_name(&self) -> &str {
        self.output_key.as_deref().unwrap_or(&self.step_id)
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub planner: String,
    pub steps: Vec<PlanStep>,
    /// Attempts the run may have in all. 1 (the default): a run lost with its worker is
    /// failed and never executed again (its steps may have had effects). More: the plan
    /// says a new attempt is safe; a lost run is then followed by a new run, with its own
    /// trace, until this many attempts were made.
    #[serde(default = "one_attempt", skip_serializing_if = "is_one_attempt")]
    pub max_attempts: u32,
}

fn one_attempt() -> u32 {
    1
}

fn is_one_attempt(n: &u32) -> bool {
    *n == 1
}

impl Plan {
    /// Parses and validates plan JSON.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan =
            serde_json::from_str(text).map_err(|e| PlanError::Invalid(e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Structural checks that need no skill registry.
    pub fn validate(&self) -> Result<(), PlanError> {
        let bad = |m: String| Err(PlanError::Invalid(m));
        if self.steps.is_empty() {
            return bad("it has no steps".into());
        }
        let mut ids = HashSet::new();
        let mut outputs = HashSet::new();
        for (n, step) in self.steps.iter().enumerate() {
            if step.step_id.trim().is_empty() {
                return bad(format!("step {n} has an empty step_id"));
            }
            if step.skill.trim().is_empty() {
                return bad(format!("step {:?} names no skill", step.step_id));
            }
            if !step.params.is_object() {
                return bad(format!(
                    "step {:?}: params must be a JSON object",
                    step.step_id
                ));
            }
            if step.retry_count > MAX_RETRIES {
                return bad(format!(
                    "step {:?}: retry_count {} is over the maximum of {MAX_RETRIES}",
                    step.step_id, step.retry_count
                ));
            }
            for dep in &step.depends_on {
                if !ids.contains(dep.as_str()) {
                    return bad(format!(
                        "step {:?} depends on {dep:?}, which is not an earlier step",
                        step.step_id
                    ));
                }
            }
            if !ids.insert(step.step_id.as_str()) {
                return bad(format!("step_id {:?} is used twice", step.step_id));
            }
            if !outputs.insert(step.output_name()) {
                return bad(format!("output_key {:?} is used twice", step.output_name()));
            }
        }
        Ok(())
    }

    /// The plan as stored in `runs.plan_json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plan always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_original_shape_with_defaults() {
        let p = Plan::from_json(
            r#"{"planner":"manual","steps":[
                {"step_id":"a","skill":"http_call","params":{"url":"http://x"}},
                {"step_id":"b","skill":"http_call","params":{},"on_error":"continue","retry_count":2,
                 "output_key":"second","depends_on":["a"]}]}"#,
        )
        .unwrap();
        assert_eq!(p.steps[0].on_error, OnError::Abort);
        assert_eq!(p.steps[1].output_name(), "second");
    }

    #[test]
    fn rejects_what_cannot_run() {
        for (text, needle) in [
            (r#"{"planner":"m","steps":[]}"#, "no steps"),
            (
                r#"{"planner":"m","steps":[{"step_id":"a","skill":"s","depends_on":["b"]}]}"#,
                "not an earlier step",
            ),
            (
                r#"{"planner":"m","steps":[{"step_id":"a","skill":"s"},{"step_id":"a","skill":"s"}]}"#,
                "used twice",
            ),
            (
                r#"{"planner":"m","steps":[{"step_id":"a","skill":"s","on_error":"explode"}]}"#,
                "unknown variant",
            ),
            (
                r#"{"planner":"m","steps":[{"step_id":"a","skill":"s","retry_count":99}]}"#,
                "maximum",
            ),
            (
                r#"{"planner":"m","steps":[{"step_id":"a","skill":"s","parms":{}}]}"#,
                "unknown field",
            ),
            (
                r#"{"planner":"m","steps":[{"step_id":"a","skill":"s","params":[1]}]}"#,
                "JSON object",
            ),
            ("not json", "expected"),
        ] {
            let err = Plan::from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
