//! Turning a goal into a plan when no plan is given.

use crate::plan::{OnError, Plan, PlanError, PlanStep};

/// The default planner, as in the original system: a goal that names an http(s) URL becomes
/// one `http_call` GET of that URL. Anything else is refused rather than run as an empty plan.
#[derive(Debug, Default, Clone, Copy)]
pub struct StubPlanner;

impl StubPlanner {
    pub fn plan(&self, goal: &str) -> Result<Plan, PlanError> {
        let url = goal
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| {
                    matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | ',' | ';')
                })
            })
            .find(|w| {
                (w.starts_with("http://") || w.starts_with("https://"))
                    && url::Url::parse(w).is_ok_and(|u| u.host().is_some())
            })
            .ok_or_else(|| PlanError::Unplannable {
                goal: goal.to_string(),
            })?;
        Ok(Plan {
            planner: "stub".into(),
            steps: vec![PlanStep {
                step_id: "fetch".into(),
                skill: "http_call".into(),
                params: serde_json::json!({"url": url, "method": "GET"}),
                on_error: OnError::Abort,
                retry_count: 0,
                output_key: None,
                depends_on: vec![],
            }],
            max_attempts: 1,
        })
    }
}

/// Picks the plan of a run: an explicit plan, else the agent's own plan, else the stub
/// planner.
pub fn plan_goal(
    goal: &str,
    explicit: Option<&str>,
    agent_plan: Option<&str>,
) -> Result<Plan, PlanError> {
    match explicit.or(agent_plan) {
        Some(text) => Plan::from_json(text),
        None => StubPlanner.plan(goal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_goal_naming_a_url_becomes_one_get() {
        let p = StubPlanner
            .plan("Check that http://127.0.0.1:8080/health answers.")
            .unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].skill, "http_call");
        assert_eq!(p.steps[0].params["url"], "http://127.0.0.1:8080/health");
        assert_eq!(p.steps[0].params["method"], "GET");
    }

    #[test]
    fn a_goal_without_url_is_refused() {
        let e = StubPlanner.plan("Run proof v2 validation run").unwrap_err();
        assert!(e.to_string().contains("names no http(s) URL"));
        assert!(StubPlanner.plan("see ftp://x and http://").is_err());
    }

    #[test]
    fn explicit_plan_wins_over_agent_plan_and_stub() {
        let explicit = r#"{"planner":"file","steps":[{"step_id":"x","skill":"probe"}]}"#;
        let agent = r#"{"planner":"agent","steps":[{"step_id":"y","skill":"probe"}]}"#;
        assert_eq!(
            plan_goal("http://a.b/", Some(explicit), Some(agent))
                .unwrap()
                .planner,
            "file"
        );
        assert_eq!(
            plan_goal("http://a.b/", None, Some(agent)).unwrap().planner,
            "agent"
        );
        assert_eq!(
            plan_goal("http://a.b/", None, None).unwrap().planner,
            "stub"
        );
    }
}
