//! The proof core against every way a stored trace can be altered. Each case must end
//! `FAILED` (or `UNSUPPORTED`), never `VERIFIED`.

use runproof_proof::seal::signing_key_from_seed;
use runproof_proof::*;

const DIGEST: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn runtime_key() -> SigningKey {
    signing_key_from_seed([7; 32])
}

fn attacker_key() -> SigningKey {
    signing_key_from_seed([9; 32])
}

fn ids() -> TraceIds {
    TraceIds {
        tenant_id: "tenant-a".into(),
        run_id: "run-1".into(),
        trace_id: "trace-1".into(),
    }
}

fn envelope(kind: StepKind, status: StepStatus, run_status: Option<&str>) -> Vec<u8> {
    StepEnvelope {
        v: 1,
        kind,
        skill: matches!(
            kind,
            StepKind::SkillStart | StepKind::SkillEnd | StepKind::HostHttp
        )
        .then_some("http_call"),
        status,
        duration_ms: matches!(kind, StepKind::SkillEnd).then_some(5),
        run_status,
        cost_cents: 0,
        at: "2026-11-23T00:00:00Z",
        body: if kind == StepKind::RunStart {
            serde_json::json!({"skills": {"http_call": {"digest": DIGEST, "version": "0.1.0"}}})
        } else {
            serde_json::json!({"n": kind.as_str()})
        },
    }
    .to_bytes()
}

/// A well-formed sealed trace: run.start, skill.start, host.http, skill.end, run.end.
fn sealed_trace() -> (TraceHead, Vec<StoredStep>) {
    let ids = ids();
    let mut chain = ChainBuilder::new(&ids.tenant_id, &ids.run_id, &ids.trace_id);
    let plan = [
        (StepKind::RunStart, StepStatus::Success, None),
        (StepKind::SkillStart, StepStatus::Success, None),
        (StepKind::HostHttp, StepStatus::Failure, None),
        (StepKind::SkillEnd, StepStatus::Failure, None),
        (StepKind::RunEnd, StepStatus::Failure, Some("failed")),
    ];
    let steps = plan
        .iter()
        .map(|(kind, status, rs)| {
            let payload = envelope(*kind, *status, *rs);
            let header = StepHeader::parse(&payload).unwrap();
            let a = chain.append(&payload);
            StoredStep {
                trace_id: ids.trace_id.clone(),
                run_id: ids.run_id.clone(),
                tenant_id: ids.tenant_id.clone(),
                step_index: a.step_index as i64,
                kind: kind.as_str().into(),
                skill_name: header.skill.map(|s| s.into_owned()),
                status: status.as_str().into(),
                duration_ms: header.duration_ms.map(|d| d as i64),
                cost_cents: 0,
                payload,
                prev_hash: a.prev_hash.to_vec(),
                hash: a.hash.to_vec(),
            }
        })
        .collect();
    let claims = claims_for(&ids, &chain, "HASH_CHAIN");
    let head = TraceHead {
        ids,
        integrity_model: "HASH_CHAIN".into(),
        status: "failed".into(),
        chain_length: Some(chain.len() as i64),
        root_hash: Some(chain.head().to_vec()),
        signed_head: Some(sign_head(&claims, &runtime_key())),
    };
    (head, steps)
}

fn claims_for(ids: &TraceIds, chain: &ChainBuilder, model: &str) -> TraceHeadClaims {
    TraceHeadClaims {
        tenant_id: ids.tenant_id.clone(),
        run_id: ids.run_id.clone(),
        trace_id: ids.trace_id.clone(),
        integrity_model: model.into(),
        chain_length: chain.len(),
        root_hash: hex::encode(chain.head()),
        merkle_root: hex::encode(chain.merkle_root()),
        skill_digests: [("http_call".to_string(), DIGEST.to_string())].into(),
        status: "failed".into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        completed_at: "2026-11-23T00:00:01Z".into(),
        // A v1 head: these tests are about the chain, not the run row.
        sealed_at: None,
        run: None,
    }
}

/// Rebuilds the chain of `steps` from their payloads, as someone with write access but
/// without the signing key could, and fixes up the row to match.
fn rebuild(head: &mut TraceHead, steps: &mut [StoredStep]) -> ChainBuilder {
    let mut chain = ChainBuilder::new(&head.ids.tenant_id, &head.ids.run_id, &head.ids.trace_id);
    for s in steps.iter_mut() {
        let a = chain.append(&s.payload);
        s.step_index = a.step_index as i64;
        s.prev_hash = a.prev_hash.to_vec();
        s.hash = a.hash.to_vec();
    }
    head.chain_length = Some(chain.len() as i64);
    head.root_hash = Some(chain.head().to_vec());
    chain
}

fn verdict(head: &TraceHead, steps: &[StoredStep]) -> Integrity {
    verify_trace(head, steps.iter(), &[runtime_key().verifying_key()])
}

fn assert_failed(head: &TraceHead, steps: &[StoredStep], reason_contains: &str) {
    let v = verdict(head, steps);
    assert_eq!(v.verification_status, VerificationStatus::Failed, "{v:?}");
    let reason = v.failure_reason.unwrap_or_default();
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should mention {reason_contains:?}"
    );
}

#[test]
fn untouched_trace_verifies() {
    let (head, steps) = sealed_trace();
    let v = verdict(&head, &steps);
    assert_eq!(v.verification_status, VerificationStatus::Verified, "{v:?}");
    assert_eq!(v.model, IntegrityModel::HashChain);
    assert_eq!(v.chain_length, 5);
    assert_eq!(
        v.root_hash.as_deref(),
        Some(hex::encode(head.root_hash.unwrap()).as_str())
    );
}

#[test]
fn one_payload_byte_changed() {
    let (head, mut steps) = sealed_trace();
    steps[2].payload[10] ^= 1;
    assert_failed(&head, &steps, "step_index 2");
}

#[test]
fn payload_changed_and_its_hash_recomputed_breaks_the_next_link() {
    let (head, mut steps) = sealed_trace();
    steps[2].payload = envelope(StepKind::HostHttp, StepStatus::Success, None);
    steps[2].status = "success".into();
    let prev: Digest = steps[2].prev_hash.clone().try_into().unwrap();
    steps[2].hash = hash::step_hash(&prev, 2, &steps[2].payload).to_vec();
    assert_failed(&head, &steps, "step_index 3");
}

#[test]
fn stored_hash_changed() {
    let (head, mut steps) = sealed_trace();
    steps[1].hash[0] ^= 0x80;
    assert_failed(&head, &steps, "step_index 1");
}

#[test]
fn truncated_hash() {
    let (head, mut steps) = sealed_trace();
    steps[1].hash.pop();
    assert_failed(&head, &steps, "step_index 1");
}

#[test]
fn status_column_flipped_failure_to_success() {
    let (head, mut steps) = sealed_trace();
    steps[2].status = "success".into();
    assert_failed(&head, &steps, "status column");
}

#[test]
fn kind_skill_and_duration_columns_are_bound() {
    let (head, steps) = sealed_trace();
    let mut a = steps.clone();
    a[2].kind = "host.log".into();
    assert_failed(&head, &a, "kind column");
    let mut b = steps.clone();
    b[2].skill_name = Some("other".into());
    assert_failed(&head, &b, "skill_name");
    let mut c = steps.clone();
    c[3].duration_ms = Some(1);
    assert_failed(&head, &c, "duration_ms");
    let mut d = steps.clone();
    d[2].cost_cents = 7;
    assert_failed(&head, &d, "cost_cents");
}

#[test]
fn first_middle_and_last_step_deleted() {
    let (head, steps) = sealed_trace();
    for (i, reason) in [
        (0usize, "step_index 0"),
        (2, "step_index 2"),
        (4, "step_index 4"),
    ] {
        let mut s = steps.clone();
        s.remove(i);
        assert_failed(&head, &s, reason);
    }
}

#[test]
fn tail_cut_and_head_rewritten_to_match_is_not_a_complete_trace() {
    // Whoever can write the trace row can re-seal a shorter chain; without run.end last,
    // it is still caught. (A signed head, issue 3, closes the rest of this gap.)
    let (mut head, mut steps) = sealed_trace();
    steps.pop();
    head.chain_length = Some(4);
    head.root_hash = Some(steps[3].hash.clone());
    assert_failed(&head, &steps, "step_index 3 is not run.end");
}

#[test]
fn duplicated_step() {
    let (head, mut steps) = sealed_trace();
    let dup = steps[2].clone();
    steps.insert(3, dup);
    assert_failed(&head, &steps, "step_index 2");
}

#[test]
fn swapped_rows_and_swapped_index_values() {
    let (head, steps) = sealed_trace();
    let mut rows = steps.clone();
    rows.swap(1, 2);
    assert_failed(&head, &rows, "step_index");
    let mut idx = steps.clone();
    idx[1].step_index = 2;
    idx[2].step_index = 1;
    idx.sort_by_key(|s| s.step_index);
    assert_failed(&head, &idx, "step_index 1");
}

#[test]
fn step_from_another_run_or_tenant() {
    let (head, mut steps) = sealed_trace();
    steps[1].run_id = "run-2".into();
    assert_failed(&head, &steps, "another trace");

    // The same bytes relabelled as ours do not link: the genesis is bound to the ids.
    let (mut other_head, other_steps) = sealed_trace();
    other_head.ids.tenant_id = "tenant-b".into();
    let relabelled: Vec<_> = other_steps
        .into_iter()
        .map(|mut s| {
            s.tenant_id = "tenant-b".into();
            s
        })
        .collect();
    assert_failed(&other_head, &relabelled, "step_index 0");
}

#[test]
fn unsealed_trace_is_never_verified() {
    let (mut head, steps) = sealed_trace();
    head.chain_length = None;
    head.root_hash = None;
    head.status = "running".into();
    assert_failed(&head, &steps, "not sealed");
}

#[test]
fn chain_length_off_by_one_either_way() {
    let (mut head, steps) = sealed_trace();
    head.chain_length = Some(6);
    assert_failed(&head, &steps, "step_index 5 is missing");
    head.chain_length = Some(4);
    assert_failed(&head, &steps, "beyond the sealed chain_length");
}

#[test]
fn root_hash_altered() {
    let (mut head, steps) = sealed_trace();
    if let Some(r) = head.root_hash.as_mut() {
        r[31] ^= 1;
    }
    assert_failed(&head, &steps, "root_hash");
}

#[test]
fn trace_status_rewritten_to_succeeded() {
    let (mut head, steps) = sealed_trace();
    head.status = "succeeded".into();
    assert_failed(&head, &steps, "run.end");
}

#[test]
fn unknown_model_is_unsupported_not_verified() {
    let (mut head, steps) = sealed_trace();
    for model in ["NONE", "hash_chain", ""] {
        head.integrity_model = model.into();
        let v = verdict(&head, &steps);
        assert_eq!(
            v.verification_status,
            VerificationStatus::Unsupported,
            "{model}: {v:?}"
        );
    }
}

#[test]
fn model_switched_in_the_row_against_the_signed_model() {
    // HASH_CHAIN signed, row says MERKLE_TREE (root column no longer matches its model).
    let (mut head, steps) = sealed_trace();
    head.integrity_model = "MERKLE_TREE".into();
    assert_failed(&head, &steps, "root_hash");
    // MERKLE_TREE signed, row downgraded to HASH_CHAIN with the chain head as root.
    let (mut head, steps) = sealed_trace();
    let mut chain = ChainBuilder::new("tenant-a", "run-1", "trace-1");
    steps.iter().for_each(|s| {
        chain.append(&s.payload);
    });
    head.signed_head = Some(sign_head(
        &claims_for(&head.ids, &chain, "MERKLE_TREE"),
        &runtime_key(),
    ));
    assert_failed(&head, &steps, "downgrade");
}

#[test]
fn merkle_tree_model_verifies_with_the_merkle_root_in_the_row() {
    let (mut head, steps) = sealed_trace();
    let mut chain = ChainBuilder::new("tenant-a", "run-1", "trace-1");
    steps.iter().for_each(|s| {
        chain.append(&s.payload);
    });
    head.integrity_model = "MERKLE_TREE".into();
    head.root_hash = Some(chain.merkle_root().to_vec());
    head.signed_head = Some(sign_head(
        &claims_for(&head.ids, &chain, "MERKLE_TREE"),
        &runtime_key(),
    ));
    let v = verdict(&head, &steps);
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(v.root_hash, v.merkle_root);
}

#[test]
fn signature_stripped() {
    let (mut head, steps) = sealed_trace();
    head.signed_head = None;
    assert_failed(&head, &steps, "not signed");
}

#[test]
fn signed_by_an_unpinned_key() {
    let (mut head, steps) = sealed_trace();
    let mut chain = ChainBuilder::new("tenant-a", "run-1", "trace-1");
    steps.iter().for_each(|s| {
        chain.append(&s.payload);
    });
    head.signed_head = Some(sign_head(
        &claims_for(&head.ids, &chain, "HASH_CHAIN"),
        &attacker_key(),
    ));
    assert_failed(&head, &steps, "not trusted");
    // And with no pinned key at all.
    let v = verify_trace(&head, steps.iter(), &[]);
    assert_eq!(v.verification_status, VerificationStatus::Failed);
}

#[test]
fn whole_chain_rebuilt_without_the_key() {
    let (mut head, mut steps) = sealed_trace();
    // Edit a payload, then rebuild every hash and the row: only the signature is left over.
    let p = String::from_utf8(steps[2].payload.clone())
        .unwrap()
        .replace("host.http\"}", "host.httq\"}");
    steps[2].payload = p.into_bytes();
    rebuild(&mut head, &mut steps);
    assert_failed(&head, &steps, "signed chain head differs");
}

#[test]
fn tail_cut_and_chain_rebuilt_is_caught_by_the_signature() {
    let (mut head, mut steps) = sealed_trace();
    steps.remove(3);
    rebuild(&mut head, &mut steps);
    assert_failed(&head, &steps, "signed chain_length");
}

#[test]
fn signed_head_of_another_run_or_tenant() {
    for (tenant, run) in [("tenant-a", "run-2"), ("tenant-b", "run-1")] {
        let (head, steps) = sealed_trace();
        let other_ids = TraceIds {
            tenant_id: tenant.into(),
            run_id: run.into(),
            trace_id: "trace-1".into(),
        };
        let mut chain = ChainBuilder::new(tenant, run, "trace-1");
        steps.iter().for_each(|s| {
            chain.append(&s.payload);
        });
        let mut moved = head.clone();
        moved.signed_head = Some(sign_head(
            &claims_for(&other_ids, &chain, "HASH_CHAIN"),
            &runtime_key(),
        ));
        assert_failed(&moved, &steps, "another trace");
    }
}

#[test]
fn signed_skill_digests_must_match_run_start() {
    let (mut head, steps) = sealed_trace();
    let mut chain = ChainBuilder::new("tenant-a", "run-1", "trace-1");
    steps.iter().for_each(|s| {
        chain.append(&s.payload);
    });
    let mut claims = claims_for(&head.ids, &chain, "HASH_CHAIN");
    claims
        .skill_digests
        .insert("http_call".into(), "2".repeat(64));
    head.signed_head = Some(sign_head(&claims, &runtime_key()));
    assert_failed(&head, &steps, "skill digests");
}

#[test]
fn rebuilt_chain_without_run_end_fails_and_empty_trace_fails() {
    let (mut head, _) = sealed_trace();
    head.chain_length = Some(0);
    head.root_hash = Some(hash::genesis("tenant-a", "run-1", "trace-1").to_vec());
    assert_failed(&head, &[], "root_hash");
}
