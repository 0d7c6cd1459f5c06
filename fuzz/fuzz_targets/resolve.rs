//! `{{ key.path }}` resolution: params and earlier outputs both come from untrusted places
//! (a plan, a skill's output); resolution ends, without panicking, on any of them. Input:
//! params JSON, a NUL byte, then a JSON object of outputs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0);
    let (Some(params), Some(outputs)) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(params) = serde_json::from_slice::<serde_json::Value>(params) else {
        return;
    };
    let outputs: HashMap<String, serde_json::Value> =
        serde_json::from_slice(outputs).unwrap_or_default();
    let _ = runproof_runner::fuzzing::resolve_params(&params, &outputs);
});
