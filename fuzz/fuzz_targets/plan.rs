//! Plans (`--plan FILE`, an agent's plan) and the stub planner's goal parsing: parse and
//! validate or refuse cleanly; a valid plan survives its own serialization.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runproof_runner::{Plan, plan_goal};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(plan) = Plan::from_json(text) {
        let again = Plan::from_json(&plan.to_json()).expect("a valid plan re-parses");
        assert_eq!(again.to_json(), plan.to_json());
    }
    let _ = plan_goal(text, None, None);
});
