//! The offline forms (bundle, inclusion proof) against malformed and hostile input. Every
//! case must end `FAILED`, never `VERIFIED`, and nothing may panic.

use proptest::prelude::*;
use runproof_proof::bundle::{BundleTrace, bundle_from_rows};
use runproof_proof::bundle_v1::BundleV1;
use runproof_proof::inclusion_v1::InclusionProofV1;
use runproof_proof::merkle::leaf_hash;
use runproof_proof::seal::signing_key_from_seed;
use runproof_proof::*;

const DIGEST: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn key() -> SigningKey {
    signing_key_from_seed([7; 32])
}

fn trusted() -> Vec<VerifyingKey> {
    vec![key().verifying_key()]
}

/// A sealed, signed trace of `n` steps (run.start, n-2 log lines, run.end) as stored rows,
/// plus its signed head.
fn trace(n: usize) -> (Vec<StoredStep>, String, ChainBuilder) {
    let (tenant, run, trace) = ("tenant-a", "run-1", "trace-1");
    let mut chain = ChainBuilder::new(tenant, run, trace);
    let mut steps = Vec::new();
    for i in 0..n {
        let (kind, run_status) = match i {
            0 => (StepKind::RunStart, None),
            i if i == n - 1 => (StepKind::RunEnd, Some("succeeded")),
            _ => (StepKind::HostLog, None),
        };
        let body = if i == 0 {
            serde_json::json!({"skills": {"probe": {"digest": DIGEST, "version": "1"}}})
        } else {
            serde_json::json!({"line": format!("step {i}")})
        };
        let payload = StepEnvelope {
            v: 1,
            kind,
            skill: (kind == StepKind::HostLog).then_some("probe"),
            status: StepStatus::Success,
            duration_ms: None,
            run_status,
            cost_cents: 0,
            at: "2026-11-23T00:00:00Z",
            body,
        }
        .to_bytes();
        let a = chain.append(&payload);
        steps.push(StoredStep {
            trace_id: trace.into(),
            run_id: run.into(),
            tenant_id: tenant.into(),
            step_index: a.step_index as i64,
            kind: kind.as_str().into(),
            skill_name: (kind == StepKind::HostLog).then(|| "probe".into()),
            status: "success".into(),
            duration_ms: None,
            cost_cents: 0,
            payload,
            prev_hash: a.prev_hash.to_vec(),
            hash: a.hash.to_vec(),
        });
    }
    let claims = TraceHeadClaims {
        tenant_id: tenant.into(),
        run_id: run.into(),
        trace_id: trace.into(),
        integrity_model: "HASH_CHAIN".into(),
        chain_length: chain.len(),
        root_hash: hex::encode(chain.head()),
        merkle_root: hex::encode(chain.merkle_root()),
        skill_digests: [("probe".to_string(), DIGEST.to_string())].into(),
        status: "succeeded".into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        completed_at: "2026-11-23T00:00:01Z".into(),
        // A v1 head: these tests are about the chain, not the run row.
        sealed_at: None,
        run: None,
    };
    (steps, sign_head(&claims, &key()), chain)
}

fn bundle_json(n: usize) -> String {
    let (steps, envelope, chain) = trace(n);
    bundle_from_rows(
        BundleTrace {
            tenant_id: "tenant-a".into(),
            run_id: "run-1".into(),
            trace_id: "trace-1".into(),
            integrity_model: "HASH_CHAIN".into(),
            status: "succeeded".into(),
            chain_length: Some(chain.len()),
            root_hash: Some(hex::encode(chain.head())),
        },
        Some(envelope),
        [("probe".to_string(), DIGEST.to_string())].into(),
        steps,
    )
    .to_json()
}

/// The same trace as a version 1 bundle (the signed head as a JSON string).
fn bundle_v1_json(n: usize) -> String {
    let (steps, envelope, chain) = trace(n);
    BundleV1::from_rows(
        BundleTrace {
            tenant_id: "tenant-a".into(),
            run_id: "run-1".into(),
            trace_id: "trace-1".into(),
            integrity_model: "HASH_CHAIN".into(),
            status: "succeeded".into(),
            chain_length: Some(chain.len()),
            root_hash: Some(hex::encode(chain.head())),
        },
        Some(envelope),
        [("probe".to_string(), DIGEST.to_string())].into(),
        steps,
    )
    .to_json()
}

fn inclusion_json(n: usize, index: u64) -> String {
    let (steps, envelope, _) = trace(n);
    let leaves: Vec<_> = steps
        .iter()
        .map(|s| leaf_hash(s.step_index as u64, &s.hash))
        .collect();
    let shown = &steps[index as usize];
    InclusionProof::build(envelope, &leaves, index, &shown.payload, &shown.prev_hash)
        .unwrap()
        .to_json()
}

#[track_caller]
fn assert_bundle_fails(json: &str, reason_contains: &str) {
    let v = verify_bundle(json.as_bytes(), &trusted());
    assert_eq!(
        v.integrity.verification_status,
        VerificationStatus::Failed,
        "{v:?}"
    );
    let reason = v.integrity.failure_reason.unwrap_or_default();
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should mention {reason_contains:?}"
    );
    assert!(!reason.contains('\n'), "one line: {reason:?}");
}

#[test]
fn exported_bundle_verifies_offline() {
    let v = verify_bundle(bundle_json(6).as_bytes(), &trusted());
    assert!(v.integrity.is_verified(), "{v:?}");
    assert_eq!(v.integrity.chain_length, 6);
    assert_eq!(v.signed_head.unwrap().run_id, "run-1");
}

#[test]
fn version_1_documents_still_verify_and_say_their_version() {
    let v = verify_bundle(bundle_v1_json(6).as_bytes(), &trusted());
    assert!(v.integrity.is_verified(), "{v:?}");
    assert_eq!(v.format, "runproof-bundle/v1");
    let v = verify_bundle(bundle_json(6).as_bytes(), &trusted());
    assert_eq!(v.format, "runproof-bundle/v2");
    // The same proof in both versions: one envelope, two spellings of it.
    let (steps, envelope, _) = trace(7);
    let leaves: Vec<_> = steps
        .iter()
        .map(|s| leaf_hash(s.step_index as u64, &s.hash))
        .collect();
    let p = InclusionProof::build(
        envelope.clone(),
        &leaves,
        3,
        &steps[3].payload,
        &steps[3].prev_hash,
    )
    .unwrap();
    let v1 = InclusionProofV1::new(&p, &envelope).to_json();
    let r = verify_inclusion_proof(v1.as_bytes(), &trusted());
    assert_eq!(r.verification_status, VerificationStatus::Verified, "{r:?}");
    assert_eq!(r.format, "runproof-inclusion/v1");
    assert_eq!(
        verify_inclusion_proof(p.to_json().as_bytes(), &trusted()).format,
        "runproof-inclusion/v2"
    );
}

#[test]
fn statement_shown_beside_the_envelope_must_be_the_signed_one() {
    let json = bundle_json(4);
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["signed_head"]["statement"]["predicate"]["status"] = "failed".into();
    assert_bundle_fails(
        &serde_json::to_string(&v).unwrap(),
        "signed_head.statement differs",
    );
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["signed_head"]["statement"] = serde_json::Value::Null;
    assert_bundle_fails(
        &serde_json::to_string(&v).unwrap(),
        "signed_head.statement differs",
    );
    // An envelope that is not an object (a v1 string in a v2 bundle) is refused.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let text = serde_json::to_string(&v["signed_head"]["envelope"]).unwrap();
    v["signed_head"]["envelope"] = text.into();
    assert_bundle_fails(
        &serde_json::to_string(&v).unwrap(),
        "envelope is malformed: not a JSON object",
    );

    let mut v: serde_json::Value = serde_json::from_str(&inclusion_json(5, 2)).unwrap();
    v["signed_head"]["statement"]["subject"][0]["name"] = "runproof:run:x/y".into();
    let r = verify_inclusion_proof(serde_json::to_string(&v).unwrap().as_bytes(), &trusted());
    assert!(
        r.failure_reason
            .unwrap()
            .contains("signed_head.statement differs"),
    );
}

#[test]
fn bundle_verified_with_an_unpinned_key_fails() {
    let other = signing_key_from_seed([8; 32]).verifying_key();
    let v = verify_bundle(bundle_json(4).as_bytes(), &[other]);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert!(v.signed_head.is_none());
}

#[test]
fn bundle_with_trailing_garbage() {
    assert_bundle_fails(&(bundle_json(4) + "x"), "trailing data");
    assert_bundle_fails(&(bundle_json(4) + "{}"), "trailing data");
}

#[test]
fn bundle_with_wrong_hash_lengths() {
    let json = bundle_json(4);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let hash = v["steps"][1]["hash"].as_str().unwrap().to_string();
    assert_bundle_fails(&json.replacen(&hash, &hash[..62], 1), "wrong length");
    assert_bundle_fails(
        &json.replacen(&hash, &format!("{hash}00"), 1),
        "wrong length",
    );
}

#[test]
fn bundle_with_bad_hex() {
    let json = bundle_json(4);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let hash = v["steps"][1]["prev_hash"].as_str().unwrap().to_string();
    assert_bundle_fails(
        &json.replacen(&hash, &format!("zz{}", &hash[2..]), 1),
        "not lower-case hex",
    );
    assert_bundle_fails(
        &json.replacen(&hash, &hash.to_uppercase(), 1),
        "not lower-case hex",
    );
}

#[test]
fn bundle_with_bad_base64() {
    let json = bundle_json(4);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let payload = v["steps"][2]["payload"].as_str().unwrap().to_string();
    for bad in [
        format!("{payload}!"),
        payload.trim_end_matches('=').to_string(),
        format!("*{}", &payload[1..]),
    ] {
        if bad != payload {
            assert_bundle_fails(&json.replacen(&payload, &bad, 1), "base64");
        }
    }
}

#[test]
fn bundle_with_duplicate_json_keys() {
    let json = bundle_json(4);
    let dup = json.replacen(
        "\"format\":",
        "\"format\": \"runproof-bundle/v1\",\n  \"format\":",
        1,
    );
    assert_bundle_fails(&dup, "duplicate JSON key");
    let dup_in_step = json.replacen(
        "\"step_index\": 1,",
        "\"step_index\": 1,\n      \"step_index\": 1,",
        1,
    );
    assert_bundle_fails(&dup_in_step, "duplicate JSON key");
}

#[test]
fn bundle_with_numbers_beyond_2_pow_53() {
    let json = bundle_json(4);
    assert_bundle_fails(
        &json.replacen("\"step_index\": 1,", "\"step_index\": 9007199254740993,", 1),
        "2^53",
    );
    assert_bundle_fails(
        &json.replacen("\"step_index\": 1,", "\"step_index\": 1.0,", 1),
        "2^53",
    );
    assert_bundle_fails(
        &json.replacen("\"chain_length\": 4,", "\"chain_length\": 4e0,", 1),
        "2^53",
    );
}

#[test]
fn bundle_with_unknown_fields_in_the_envelope_or_the_bundle() {
    let json = bundle_json(4);
    // The envelope is an object inside the bundle: add a field to it.
    let with_extra = json.replacen("\"envelope\": {", "\"envelope\": {\"extra\": 1,", 1);
    assert_ne!(with_extra, json);
    assert_bundle_fails(&with_extra, "envelope has unknown field \"extra\"");
    // And to the signed head object around it.
    let with_extra = json.replacen("\"signed_head\": {", "\"signed_head\": {\"extra\": 1,", 1);
    assert_ne!(with_extra, json);
    assert_bundle_fails(&with_extra, "unknown field \"extra\"");
    // A version 1 bundle carries the envelope as a JSON string: add a field inside it.
    let v1 = bundle_v1_json(4);
    let with_extra = v1.replacen(
        "{\\\"payloadType\\\":",
        "{\\\"extra\\\":1,\\\"payloadType\\\":",
        1,
    );
    assert_ne!(with_extra, v1);
    assert_bundle_fails(&with_extra, "envelope has unknown field \"extra\"");
    assert_bundle_fails(
        &json.replacen("\"format\":", "\"note\": \"hi\",\n  \"format\":", 1),
        "unknown field",
    );
    assert_bundle_fails(
        &json.replacen("\"kind\":", "\"extra\": 0,\n      \"kind\":", 1),
        "unknown field",
    );
}

#[test]
fn bundle_with_a_step_altered_removed_or_duplicated() {
    let json = bundle_json(5);
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["steps"][2]["status"] = "failure".into();
    assert_bundle_fails(&serde_json::to_string(&v).unwrap(), "status column");

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["steps"].as_array_mut().unwrap().remove(2);
    assert_bundle_fails(&serde_json::to_string(&v).unwrap(), "missing");

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let dup = v["steps"][1].clone();
    v["steps"].as_array_mut().unwrap().insert(2, dup);
    assert_bundle_fails(&serde_json::to_string(&v).unwrap(), "twice");

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["skill_digests"]["probe"] = "2".repeat(64).into();
    assert_bundle_fails(&serde_json::to_string(&v).unwrap(), "skill_digests");

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["signed_head"] = serde_json::Value::Null;
    assert_bundle_fails(&serde_json::to_string(&v).unwrap(), "not signed");
}

#[test]
fn inclusion_proof_for_a_middle_step_verifies_offline() {
    for n in [3usize, 7, 16, 33] {
        for index in 0..n as u64 {
            let v = verify_inclusion_proof(inclusion_json(n, index).as_bytes(), &trusted());
            assert_eq!(
                v.verification_status,
                VerificationStatus::Verified,
                "n={n} i={index}: {v:?}"
            );
        }
    }
    let v = verify_inclusion_proof(inclusion_json(9, 4).as_bytes(), &trusted());
    assert_eq!(v.step.unwrap()["body"]["line"], "step 4");
}

#[test]
fn inclusion_proof_with_any_byte_altered_fails() {
    let json = inclusion_json(9, 4);
    let bytes = json.as_bytes();
    let mut verified = Vec::new();
    for i in 0..bytes.len() {
        let mut altered = bytes.to_vec();
        altered[i] ^= 0x01;
        let v = verify_inclusion_proof(&altered, &trusted());
        if v.verification_status == VerificationStatus::Verified {
            // Only a change that leaves the same JSON document (whitespace) may still pass.
            let same = parse_inclusion(&altered).ok() == parse_inclusion(bytes).ok();
            if !same {
                verified.push(i);
            }
        }
    }
    assert!(
        verified.is_empty(),
        "altered bytes at {verified:?} still verified"
    );
}

#[test]
fn inclusion_proof_of_another_index_or_size_fails() {
    let json = inclusion_json(9, 4);
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["step"]["step_index"] = 5.into();
    let r = verify_inclusion_proof(serde_json::to_string(&v).unwrap().as_bytes(), &trusted());
    assert_eq!(r.verification_status, VerificationStatus::Failed);

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["tree_size"] = 8.into();
    let r = verify_inclusion_proof(serde_json::to_string(&v).unwrap().as_bytes(), &trusted());
    assert!(r.failure_reason.unwrap().contains("tree_size"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verifier_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let b = verify_bundle(&bytes, &trusted());
        prop_assert_eq!(b.integrity.verification_status, VerificationStatus::Failed);
        let i = verify_inclusion_proof(&bytes, &trusted());
        prop_assert_eq!(i.verification_status, VerificationStatus::Failed);
    }

    #[test]
    fn mutated_bundle_never_verifies_unless_it_is_the_same_document(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let json = bundle_json(5);
        let original = parse_bundle(json.as_bytes()).unwrap();
        let mut bytes = json.into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let v = verify_bundle(&bytes, &trusted());
        if v.integrity.is_verified() {
            prop_assert_eq!(parse_bundle(&bytes).ok(), Some(original));
        }
    }

    #[test]
    fn truncated_bundle_never_verifies(cut in 0usize..4000) {
        let json = bundle_json(4);
        let cut = cut.min(json.len().saturating_sub(1));
        let v = verify_bundle(&json.as_bytes()[..cut], &trusted());
        prop_assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    }
}
