//! `bench`: makes `calls` cheap `log` host calls and returns how many it made.
//!
//! It exists so `runtime bench` (and operators sizing a deployment) can measure what one
//! recorded host call costs, through the same path every skill takes. It reaches nothing:
//! it declares no outbound host.
//!
//! Input: `{"calls": 1000}` (default 0). Output: `{"calls": 1000}`.
//!
//! One invocation is still bound by the per-invocation host-call cap (10 000 by default):
//! a longer run is a plan of several `bench` steps.

use runproof_sdk::prelude::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(default)]
    calls: u32,
}

#[derive(Debug, Serialize)]
struct Output {
    calls: u32,
}

struct Bench;

impl Skill for Bench {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        SkillInfo::new(
            "bench",
            env!("CARGO_PKG_VERSION"),
            "Makes `calls` log host calls and returns the count; used by `runtime bench`.",
        )
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        for i in 0..input.calls {
            // A short, fixed-shape message: the figure is the cost of the call and its
            // trace step, not of formatting a large payload.
            log::debug(format!("bench {i}"));
        }
        Ok(Output { calls: input.calls })
    }
}

runproof_sdk::export_skill!(Bench);
