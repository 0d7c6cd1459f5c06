//! Components carried in a bundle (`proof export --with-components`): optional, and only
//! ever the components the signed head names, byte for byte.

use runproof_proof::bundle::{BundleTrace, bundle_from_rows};
use runproof_proof::components::{bundle_components, encode_components};
use runproof_proof::seal::signing_key_from_seed;
use runproof_proof::*;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0 stands in for a component";

fn digest(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A signed two-step trace (run.start, run.end) of a run whose one skill is `COMPONENT`,
/// as a bundle.
fn bundle() -> Bundle {
    let (tenant, run, trace) = ("tenant-c", "run-c", "trace-c");
    let mut chain = ChainBuilder::new(tenant, run, trace);
    let mut steps = Vec::new();
    for (kind, run_status) in [
        (StepKind::RunStart, None),
        (StepKind::RunEnd, Some("succeeded")),
    ] {
        let payload = StepEnvelope {
            v: 1,
            kind,
            skill: None,
            status: StepStatus::Success,
            duration_ms: None,
            run_status,
            cost_cents: 0,
            at: "2026-11-23T00:00:00Z",
            // The verifier checks the signed digests against what run.start recorded.
            body: serde_json::json!({"skills": {"probe": {"digest": digest(COMPONENT)}}}),
        }
        .to_bytes();
        let a = chain.append(&payload);
        steps.push(StoredStep {
            trace_id: trace.into(),
            run_id: run.into(),
            tenant_id: tenant.into(),
            step_index: a.step_index as i64,
            kind: kind.as_str().into(),
            skill_name: None,
            status: "success".into(),
            duration_ms: None,
            cost_cents: 0,
            payload,
            prev_hash: a.prev_hash.to_vec(),
            hash: a.hash.to_vec(),
        });
    }
    let skills: BTreeMap<String, String> = [("probe".to_string(), digest(COMPONENT))].into();
    let claims = TraceHeadClaims {
        tenant_id: tenant.into(),
        run_id: run.into(),
        trace_id: trace.into(),
        integrity_model: "HASH_CHAIN".into(),
        chain_length: chain.len(),
        root_hash: hex::encode(chain.head()),
        merkle_root: hex::encode(chain.merkle_root()),
        skill_digests: skills.clone(),
        status: "succeeded".into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        completed_at: "2026-11-23T00:00:01Z".into(),
        // A v1 head: these tests are about the components, not the run row.
        sealed_at: None,
        run: None,
    };
    let signed = sign_head(&claims, &signing_key_from_seed([9; 32]));
    let row = BundleTrace {
        tenant_id: tenant.into(),
        run_id: run.into(),
        trace_id: trace.into(),
        integrity_model: "HASH_CHAIN".into(),
        status: "succeeded".into(),
        chain_length: Some(chain.len()),
        root_hash: Some(hex::encode(chain.head())),
    };
    bundle_from_rows(row, Some(signed), skills, steps)
}

fn verify(b: &Bundle) -> BundleVerdict {
    verify_bundle(
        b.to_json().as_bytes(),
        &[signing_key_from_seed([9; 32]).verifying_key()],
    )
}

fn with_components(pairs: &[(&str, &[u8])]) -> Bundle {
    let mut b = bundle();
    let map: BTreeMap<String, Vec<u8>> = pairs
        .iter()
        .map(|(d, bytes)| (d.to_string(), bytes.to_vec()))
        .collect();
    b.components = Some(encode_components(&map));
    b
}

#[test]
fn a_bundle_without_components_still_verifies_and_has_none() {
    let b = bundle();
    assert!(!b.to_json().contains("components"));
    assert!(verify(&b).integrity.is_verified());
    assert!(
        bundle_components(b.to_json().as_bytes())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_signed_components_verify_and_read_back_byte_for_byte() {
    let b = with_components(&[(&digest(COMPONENT), COMPONENT)]);
    let v = verify(&b);
    assert!(v.integrity.is_verified(), "{:?}", v.integrity);
    let read = bundle_components(b.to_json().as_bytes()).unwrap();
    assert_eq!(read[&digest(COMPONENT)], COMPONENT);
}

#[test]
fn other_bytes_under_a_signed_digest_fail() {
    let b = with_components(&[(&digest(COMPONENT), b"another component")]);
    let v = verify(&b);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert!(
        v.integrity
            .failure_reason
            .unwrap()
            .contains("it is not that component")
    );
}

#[test]
fn a_component_the_signed_head_does_not_name_fails() {
    let extra: &[u8] = b"a component of no skill of this run";
    let b = with_components(&[(&digest(COMPONENT), COMPONENT), (&digest(extra), extra)]);
    let v = verify(&b);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert!(
        v.integrity
            .failure_reason
            .unwrap()
            .contains("does not name")
    );
}

#[test]
fn malformed_components_are_rejected_not_ignored() {
    for (key, value) in [("ABC", "AAAA"), (digest(COMPONENT).as_str(), "not base64!")] {
        let mut b = bundle();
        b.components = Some([(key.to_string(), value.to_string())].into());
        let v = verify(&b);
        assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
        assert!(
            v.integrity
                .failure_reason
                .as_deref()
                .unwrap()
                .starts_with("bundle rejected"),
            "{:?}",
            v.integrity.failure_reason
        );
    }
}
