//! `probe_variant`: another build of the `probe` fixture, as a skill author's next version
//! would be. It describes itself exactly as `probe` does (same name, same capabilities, same
//! WIT world) and answers the actions `log:<msg>`, `wall_clock`, `random`, `stdout:<text>`
//! and `http:<url>` with the same results, with one change in its code: it logs
//! `fetching <url>` before each `http:<url>` request.
//!
//! Replaying a `probe` run against this component must be DIVERGED exactly at the first
//! recorded `host.http` step (where this code makes a `host.log` call instead); a run made
//! with this component replays REPLAYED against itself.

use runproof_sdk::prelude::*;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    actions: Vec<String>,
}

#[derive(Serialize)]
struct Output {
    results: Vec<Value>,
}

struct Probe;

impl Skill for Probe {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        SkillInfo::new(
            "probe",
            env!("CARGO_PKG_VERSION"),
            "Test fixture: runs actions (log, clocks, random, stdio, http, fail, panic) in order.",
        )
        .outbound_host("http://127.0.0.1:*")
        .outbound_host("http://*:*")
        .outbound_host("https://*:*")
        .secret("TOKEN")
        .secret("OTHER")
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        let results = input
            .actions
            .iter()
            .map(|a| run(a))
            .collect::<Result<_, _>>()?;
        Ok(Output { results })
    }
}

fn run(action: &str) -> Result<Value, SkillError> {
    let (kind, arg) = match action.split_once(':') {
        Some((kind, arg)) => (kind, Some(arg)),
        None => (action, None),
    };
    Ok(match (kind, arg) {
        ("log", Some(msg)) => {
            log::info(msg);
            json!({ "log": msg })
        }
        ("wall_clock", None) => {
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| SkillError::new("probe-clock", e.to_string()))?;
            json!({ "wall_clock_ns": u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX) })
        }
        ("random", None) => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes)
                .map_err(|e| SkillError::new("probe-random", e.to_string()))?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            json!({ "random": hex })
        }
        ("stdout", Some(text)) => {
            println!("{text}");
            json!({ "stdout": text })
        }
        ("http", Some(url)) => {
            // The one change from `probe`.
            log::info(format!("fetching {url}"));
            let response = http::get(url)?;
            json!({ "http": url, "status": response.status, "body": response.text() })
        }
        _ => {
            return Err(SkillError::invalid_input(
                "this variant knows log, wall_clock, random, stdout and http",
            ));
        }
    })
}

runproof_sdk::export_skill!(Probe);
