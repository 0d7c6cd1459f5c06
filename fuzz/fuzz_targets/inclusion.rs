//! Inclusion proofs (`runtime verify step.json`): parse and verify any bytes cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runproof_proof::{parse_inclusion, verify_inclusion_proof};

fuzz_target!(|data: &[u8]| {
    let _ = parse_inclusion(data);
    let key = runproof_proof::seal::signing_key_from_seed([7; 32]).verifying_key();
    let verdict = verify_inclusion_proof(data, &[key]);
    assert_ne!(
        verdict.verification_status,
        runproof_proof::VerificationStatus::Verified,
        "an inclusion proof verified without the key"
    );
});
