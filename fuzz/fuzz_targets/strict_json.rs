//! The strict JSON reader: never panics, and accepts nothing serde_json rejects.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = runproof_proof::fuzzing::parse_strict(data, "fuzz input") {
        let plain: serde_json::Value =
            serde_json::from_slice(data).expect("strict accepted what serde_json rejects");
        assert_eq!(v, plain, "strict and plain readings differ");
    }
});
