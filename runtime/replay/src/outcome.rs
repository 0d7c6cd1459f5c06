//! The end of an invocation: does the replayed outcome say what the recorded `skill.end`
//! says? The recorded body is the runner's (`runner.rs`, `classify`): `outcome` is
//! `output` (with `output`, the JSON), `invalid-output` (`raw_output`), `skill-error`
//! (`error {code, message}`), `aborted` (`error`, the reason naming the limit or trap) or
//! `bad-params` (never invoked).

use runproof_host::replay::outcome_summary;
use runproof_host::{Divergence, InvocationOutcome, Observed, RecordedStep, same_asked};
use serde_json::{Value, json};

/// `None` when the replayed outcome is the recorded one. Where the trace's bounds capped a
/// recorded field to its digest (a raw output over 64 KiB, the largest strings of a step over
/// 1 MiB), the replayed field is compared with it by its bytes' SHA-256 (`same_asked`).
pub(crate) fn compare(outcome: &InvocationOutcome, end: &RecordedStep) -> Option<Divergence> {
    let recorded = &end.body;
    let actual = as_recorded(outcome);
    let field = |name: &str| same_asked(&recorded[name], &actual[name]);
    let same = match recorded["outcome"].as_str() {
        Some("output") => actual["outcome"] == "output" && field("output"),
        Some("invalid-output") => actual["outcome"] == "invalid-output" && field("raw_output"),
        Some("skill-error" | "aborted") => {
            actual["outcome"] == recorded["outcome"] && field("error")
        }
        _ => false,
    };
    if same {
        return None;
    }
    Some(Divergence {
        step_index: end.index,
        expected: Observed {
            kind: "skill.end".into(),
            summary: recorded_summary(recorded),
            detail: detail(recorded),
        },
        actual: Observed {
            kind: "skill.end".into(),
            summary: outcome_summary(outcome),
            detail: detail(&actual),
        },
    })
}

/// Whether the recorded end is the deadline stopping the skill (`reason` is the text the
/// host gives that limit).
pub(crate) fn stopped_by(end: &RecordedStep, reason: &str) -> bool {
    end.body["outcome"] == "aborted" && end.body["error"] == reason
}

/// The reason of a recorded end that a stop from outside (a cancel, a worker's shutdown)
/// made, when it was one (`runner.rs` marks it).
pub(crate) fn stopped_from_outside(end: &RecordedStep) -> Option<String> {
    let b = &end.body;
    (b["outcome"] == "aborted" && b[runproof_host::replay::STOPPED_FROM_OUTSIDE] == true)
        .then(|| b["error"].as_str().map(String::from))
        .flatten()
}

/// The outcome in the recorded body's terms.
fn as_recorded(outcome: &InvocationOutcome) -> Value {
    match outcome {
        InvocationOutcome::Output(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) => json!({"outcome": "output", "output": v}),
            Err(_) => json!({"outcome": "invalid-output", "raw_output": text}),
        },
        InvocationOutcome::SkillError { code, message } => {
            json!({"outcome": "skill-error", "error": {"code": code, "message": message}})
        }
        InvocationOutcome::Aborted { reason } => json!({"outcome": "aborted", "error": reason}),
    }
}

/// Only the fields that are compared (not the step id, attempt or anything else).
fn detail(body: &Value) -> Value {
    let mut d = serde_json::Map::new();
    for key in ["outcome", "output", "raw_output", "error"] {
        if let Some(v) = body.get(key) {
            d.insert(key.into(), v.clone());
        }
    }
    Value::Object(d)
}

fn recorded_summary(body: &Value) -> String {
    let outcome = match body["outcome"].as_str() {
        Some("output") => InvocationOutcome::Output(body["output"].to_string()),
        Some("invalid-output") => {
            InvocationOutcome::Output(body["raw_output"].as_str().unwrap_or_default().into())
        }
        Some("skill-error") => InvocationOutcome::SkillError {
            code: body["error"]["code"].as_str().unwrap_or_default().into(),
            message: body["error"]["message"].as_str().unwrap_or_default().into(),
        },
        Some("aborted") => InvocationOutcome::Aborted {
            reason: body["error"].as_str().unwrap_or_default().into(),
        },
        other => return format!("outcome {}", other.unwrap_or("(none)")),
    };
    outcome_summary(&outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runproof_proof::{StepKind, StepStatus};

    fn end(body: Value) -> RecordedStep {
        RecordedStep {
            index: 9,
            kind: StepKind::SkillEnd,
            status: StepStatus::Success,
            skill: Some("probe".into()),
            body,
        }
    }

    #[test]
    fn the_same_output_matches_whatever_its_spelling() {
        let e = end(
            json!({"step_id": "s", "attempt": 1, "outcome": "output", "output": {"a": 1, "b": [true]}}),
        );
        let same = InvocationOutcome::Output(r#"{"b":[true],"a":1}"#.into());
        assert_eq!(compare(&same, &e), None);
        let other = InvocationOutcome::Output(r#"{"a":2,"b":[true]}"#.into());
        let d = compare(&other, &e).expect("diverged");
        assert_eq!(d.step_index, 9);
        assert_eq!(d.expected.detail["output"]["a"], 1);
        assert_eq!(d.actual.detail["output"]["a"], 2);
    }

    #[test]
    fn a_raw_output_capped_to_its_digest_compares_by_its_bytes() {
        let raw = "x".repeat(70_000);
        let e = end(json!({"outcome": "invalid-output", "error": "not JSON",
            "raw_output": runproof_host::trace_caps::text_field(&raw)}));
        assert!(e.body["raw_output"]["digest"].is_object());
        assert_eq!(compare(&InvocationOutcome::Output(raw.clone()), &e), None);
        let other = InvocationOutcome::Output(format!("{raw}y"));
        assert!(compare(&other, &e).is_some());
    }

    #[test]
    fn errors_and_aborts_compare_exactly() {
        let e =
            end(json!({"outcome": "skill-error", "error": {"code": "probe-fail", "message": "x"}}));
        let same = InvocationOutcome::SkillError {
            code: "probe-fail".into(),
            message: "x".into(),
        };
        assert_eq!(compare(&same, &e), None);
        let aborted = InvocationOutcome::Aborted {
            reason: "probe-fail: x".into(),
        };
        assert!(compare(&aborted, &e).is_some());
        let e = end(json!({"outcome": "aborted", "error": "fuel exhausted (10 units)"}));
        assert!(stopped_by(&e, "fuel exhausted (10 units)"));
        let same = InvocationOutcome::Aborted {
            reason: "fuel exhausted (10 units)".into(),
        };
        assert_eq!(compare(&same, &e), None);
    }
}
