//! What is shown beside a verdict: every column of the run and trace rows is compared with
//! the signed head (a difference is `FAILED`, naming the column and both values) or marked
//! as not covered. Pure: rows and bytes in, verdict out.

use runproof_proof::seal::signing_key_from_seed;
use runproof_proof::*;
use serde_json::json;
use sha2::{Digest as _, Sha256};

const DIGEST: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const PLAN: &str = r#"{"planner":"manual","steps":[{"step_id":"get","skill":"http_call"}]}"#;

fn key() -> SigningKey {
    signing_key_from_seed([7; 32])
}

fn ids() -> TraceIds {
    TraceIds {
        tenant_id: "tenant-a".into(),
        run_id: "run-1".into(),
        trace_id: "trace-1".into(),
    }
}

fn step(kind: StepKind, status: StepStatus, run_status: Option<&str>) -> Vec<u8> {
    StepEnvelope {
        v: 1,
        kind,
        skill: None,
        status,
        duration_ms: None,
        run_status,
        cost_cents: 0,
        at: "2026-11-23T00:00:00.000000Z",
        body: if kind == StepKind::RunStart {
            json!({"skills": {"http_call": {"digest": DIGEST}}})
        } else {
            json!({})
        },
    }
    .to_bytes()
}

/// The run row as a genuine failed run leaves it.
fn run_row() -> RunRecord {
    RunRecord {
        run_id: "run-1".into(),
        tenant_id: "tenant-a".into(),
        agent_id: "agent-1".into(),
        origin_system_id: "e2e".into(),
        goal: "fetch http://127.0.0.1/".into(),
        status: "failed".into(),
        attempts: 1,
        max_attempts: 1,
        error_message: Some("step \"get\" (http_call) failed".into()),
        plan_json: Some(PLAN.into()),
        idempotency_key: None,
        parent_run_id: None,
        priority: 0,
        created_at: "2026-11-23T00:00:00.000001Z".into(),
        started_at: Some("2026-11-23T00:00:00.000002Z".into()),
        completed_at: Some("2026-11-23T00:00:01.000002Z".into()),
        duration_ms: Some(1000),
        lease_owner: Some("runner/host/1/ab".into()),
        heartbeat_at: Some("2026-11-23T00:00:00.000002Z".into()),
        lease_expires_at: None,
    }
}

fn run_claims(r: &RunRecord) -> RunClaims {
    RunClaims {
        agent_id: r.agent_id.clone(),
        origin_system_id: r.origin_system_id.clone(),
        goal: r.goal.clone(),
        plan_sha256: hex::encode(Sha256::digest(PLAN.as_bytes())),
        error_message: r.error_message.clone(),
        created_at: r.created_at.clone(),
        duration_ms: 1000,
    }
}

/// A sealed, signed trace of `n_steps` steps (run.start … run.end), its row, and its steps.
fn sealed(version: HeadVersion) -> (TraceRecord, Vec<StoredStep>) {
    sealed_with(version, |_| {})
}

fn sealed_with(
    version: HeadVersion,
    edit: impl FnOnce(&mut TraceHeadClaims),
) -> (TraceRecord, Vec<StoredStep>) {
    let ids = ids();
    let mut chain = ChainBuilder::new(&ids.tenant_id, &ids.run_id, &ids.trace_id);
    let steps: Vec<StoredStep> = [
        (StepKind::RunStart, StepStatus::Success, None),
        (StepKind::HostLog, StepStatus::Success, None),
        (StepKind::RunEnd, StepStatus::Failure, Some("failed")),
    ]
    .into_iter()
    .map(|(kind, status, rs)| {
        let payload = step(kind, status, rs);
        let a = chain.append(&payload);
        StoredStep {
            trace_id: ids.trace_id.clone(),
            run_id: ids.run_id.clone(),
            tenant_id: ids.tenant_id.clone(),
            step_index: a.step_index as i64,
            kind: kind.as_str().into(),
            skill_name: None,
            status: status.as_str().into(),
            duration_ms: None,
            cost_cents: 0,
            payload,
            prev_hash: a.prev_hash.to_vec(),
            hash: a.hash.to_vec(),
        }
    })
    .collect();
    let row = run_row();
    let mut claims = TraceHeadClaims {
        tenant_id: ids.tenant_id.clone(),
        run_id: ids.run_id.clone(),
        trace_id: ids.trace_id.clone(),
        integrity_model: "HASH_CHAIN".into(),
        chain_length: chain.len(),
        root_hash: hex::encode(chain.head()),
        merkle_root: hex::encode(chain.merkle_root()),
        skill_digests: [("http_call".to_string(), DIGEST.to_string())].into(),
        status: "failed".into(),
        started_at: row.started_at.clone().unwrap(),
        completed_at: row.completed_at.clone().unwrap(),
        sealed_at: Some("2026-11-23T00:00:01.000100Z".into()),
        run: Some(run_claims(&row)),
    };
    if version == HeadVersion::V1 {
        claims.sealed_at = None;
        claims.run = None;
    }
    edit(&mut claims);
    let record = TraceRecord {
        head: TraceHead {
            ids,
            integrity_model: "HASH_CHAIN".into(),
            status: "failed".into(),
            chain_length: Some(chain.len() as i64),
            root_hash: Some(chain.head().to_vec()),
            signed_head: Some(sign_head(&claims, &key())),
        },
        agent_id: "agent-1".into(),
        started_at: row.started_at.clone().unwrap(),
        completed_at: row.completed_at.clone(),
        sealed_at: Some("2026-11-23T00:00:01.000100Z".into()),
        merkle_root: Some(chain.merkle_root().to_vec()),
        signing_key_id: Some(seal::key_id(&key().verifying_key())),
        step_count: 3,
    };
    (record, steps)
}

fn judge(run: &RunRecord, trace: &TraceRecord, steps: &[StoredStep]) -> RunVerdict {
    let mut v = ChainVerifier::new(trace.head.ids.clone());
    for s in steps {
        v.push(s);
    }
    let outcome = v.finish_detailed(&trace.head, &[key().verifying_key()]);
    judge_run(run, &[(trace.clone(), outcome)])
}

fn coverage(v: &RunVerdict, field: &str) -> Coverage {
    v.checks
        .iter()
        .find(|c| c.field == field)
        .unwrap_or_else(|| panic!("no check for {field}"))
        .coverage
}

#[test]
fn a_genuine_v2_run_verifies_with_every_shown_run_column_bound_or_operational() {
    let (trace, steps) = sealed(HeadVersion::V2);
    let v = judge(&run_row(), &trace, &steps);
    assert!(v.integrity.is_verified(), "{:?}", v.integrity);
    assert_eq!(v.run_status.as_deref(), Some("failed"));
    assert_eq!(v.head_version, Some(HeadVersion::V2));
    assert_eq!(v.integrity.verified_prefix, 3);
    for field in [
        "runs.id",
        "runs.tenant_id",
        "runs.status",
        "runs.agent_id",
        "runs.origin_system_id",
        "runs.goal",
        "runs.plan_json",
        "runs.error_message",
        "runs.created_at",
        "runs.started_at",
        "runs.completed_at",
        "runs.duration_ms",
        "aos_traces.agent_id",
        "aos_traces.started_at",
        "aos_traces.completed_at",
        "aos_traces.sealed_at",
        "aos_traces.merkle_root",
        "aos_traces.signing_key_id",
        "aos_traces.step_count",
    ] {
        assert_eq!(coverage(&v, field), Coverage::Bound, "{field}");
    }
    // The operational columns are always marked, never passed off as checked.
    for field in [
        "runs.attempts",
        "runs.priority",
        "runs.lease_owner",
        "runs.heartbeat_at",
    ] {
        assert_eq!(coverage(&v, field), Coverage::NotBound, "{field}");
    }
    assert!(
        v.checks
            .iter()
            .all(|c| c.coverage == Coverage::Bound || c.coverage == Coverage::NotBound)
    );
}

#[test]
fn each_run_column_changed_alone_fails_naming_it_and_both_values() {
    let (trace, steps) = sealed(HeadVersion::V2);
    type Edit = fn(&mut RunRecord);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "runs.status",
            |r| r.status = "succeeded".into(),
            "runs.status says \"succeeded\"; the signed head says \"failed\"",
        ),
        (
            "runs.goal",
            |r| r.goal = "something else".into(),
            "runs.goal says \"something else\"; the signed head says \"fetch http://127.0.0.1/\"",
        ),
        (
            "runs.plan_json",
            |r| r.plan_json = Some(PLAN.replace("get", "got")),
            "runs.plan_json hashes to",
        ),
        (
            "runs.origin_system_id",
            |r| r.origin_system_id = "forged".into(),
            "runs.origin_system_id says \"forged\"",
        ),
        (
            "runs.agent_id",
            |r| r.agent_id = "agent-2".into(),
            "runs.agent_id says \"agent-2\"; the signed head says \"agent-1\"",
        ),
        (
            "runs.error_message",
            |r| r.error_message = None,
            "runs.error_message says null; the signed head says \"step",
        ),
        (
            "runs.duration_ms",
            |r| r.duration_ms = Some(5),
            "runs.duration_ms says 5; the signed head says 1000",
        ),
        (
            "runs.created_at",
            |r| r.created_at = "2020-01-01T00:00:00.000000Z".into(),
            "runs.created_at says \"2020-01-01T00:00:00.000000Z\"",
        ),
        (
            "runs.started_at",
            |r| r.started_at = Some("2020-01-01T00:00:00.000000Z".into()),
            "runs.started_at says",
        ),
        (
            "runs.completed_at",
            |r| r.completed_at = None,
            "runs.completed_at says null",
        ),
    ];
    for (field, edit, reason) in cases {
        let mut row = run_row();
        edit(&mut row);
        let v = judge(&row, &trace, &steps);
        assert_eq!(
            v.integrity.verification_status,
            VerificationStatus::Failed,
            "{field}"
        );
        assert_eq!(
            v.run_status, None,
            "{field}: no signed status beside FAILED"
        );
        let got = v.integrity.failure_reason.clone().unwrap();
        assert!(got.contains(reason), "{field}: {got}");
        assert_eq!(coverage(&v, field), Coverage::Mismatch, "{field}");
        assert!(v.integrity.signed_by.is_none());
    }
}

#[test]
fn each_trace_column_changed_alone_fails_naming_it() {
    type Edit = fn(&mut TraceRecord);
    let cases: Vec<(&str, Edit)> = vec![
        ("aos_traces.started_at", |t| {
            t.started_at = "2020-01-01T00:00:00.000000Z".into()
        }),
        ("aos_traces.completed_at", |t| {
            t.completed_at = Some("2020-01-01T00:00:00.000000Z".into())
        }),
        ("aos_traces.sealed_at", |t| t.sealed_at = None),
        ("aos_traces.merkle_root", |t| {
            t.merkle_root = Some(vec![0; 32])
        }),
        ("aos_traces.signing_key_id", |t| {
            t.signing_key_id = Some("ab".repeat(32))
        }),
        ("aos_traces.agent_id", |t| t.agent_id = "agent-9".into()),
        ("aos_traces.step_count", |t| t.step_count = 7),
    ];
    for (field, edit) in cases {
        let (mut trace, steps) = sealed(HeadVersion::V2);
        edit(&mut trace);
        let v = judge(&run_row(), &trace, &steps);
        assert_eq!(
            v.integrity.verification_status,
            VerificationStatus::Failed,
            "{field}"
        );
        let got = v.integrity.failure_reason.clone().unwrap();
        assert!(
            got.starts_with(&format!("{field} of trace trace-1 says ")),
            "{field}: {got}"
        );
        assert!(got.contains("; the signed head says "), "{field}: {got}");
        assert_eq!(coverage(&v, field), Coverage::Mismatch);
    }
}

#[test]
fn a_v1_head_verifies_what_it_binds_and_marks_the_rest() {
    let (trace, steps) = sealed(HeadVersion::V1);
    let mut row = run_row();
    // Not bound by v1: changing these does not fail it, and they say so.
    row.goal = "changed after the run".into();
    row.origin_system_id = "changed".into();
    let v = judge(&row, &trace, &steps);
    assert!(v.integrity.is_verified(), "{:?}", v.integrity);
    assert_eq!(v.head_version, Some(HeadVersion::V1));
    for field in [
        "runs.goal",
        "runs.origin_system_id",
        "runs.agent_id",
        "runs.plan_json",
        "runs.error_message",
        "runs.created_at",
        "runs.completed_at",
        "runs.duration_ms",
        "aos_traces.sealed_at",
        "aos_traces.agent_id",
    ] {
        assert_eq!(coverage(&v, field), Coverage::NotBound, "{field}");
        let c = v.checks.iter().find(|c| c.field == field).unwrap();
        assert!(c.note.as_deref().unwrap().contains("v1"), "{field}");
    }
    // What v1 does bind still fails when changed.
    let mut row = run_row();
    row.status = "succeeded".into();
    let v = judge(&row, &trace, &steps);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert!(
        v.integrity
            .failure_reason
            .unwrap()
            .contains("runs.status says \"succeeded\"")
    );
}

#[test]
fn nothing_is_bound_beside_a_failed_chain() {
    let (trace, mut steps) = sealed(HeadVersion::V2);
    steps[1].payload.push(b' ');
    let v = judge(&run_row(), &trace, &steps);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert_eq!(v.integrity.verified_prefix, 1);
    assert!(v.run_status.is_none());
    assert!(
        v.checks
            .iter()
            .all(|c| matches!(c.coverage, Coverage::Unverified | Coverage::NotBound)),
        "{:?}",
        v.checks
    );
}

#[test]
fn a_lost_run_is_failed_with_its_reason_and_intact_prefix() {
    let (mut trace, mut steps) = sealed(HeadVersion::V2);
    // What a runner killed mid-request leaves: no run.end, no seal, no signature.
    steps.pop();
    trace.head.chain_length = None;
    trace.head.root_hash = None;
    trace.head.signed_head = None;
    trace.head.status = "running".into();
    trace.sealed_at = None;
    trace.step_count = 2;
    let mut row = run_row();
    row.error_message = Some("runner lost (runner/h/1/ab); last heartbeat at 2026-11-23T00:00:00.5Z; trace left unsealed".into());
    let v = judge(&row, &trace, &steps);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert_eq!(v.integrity.verified_prefix, 2);
    let reason = v.integrity.failure_reason.clone().unwrap();
    assert!(reason.contains("is not sealed"), "{reason}");
    assert!(reason.contains("runner lost (runner/h/1/ab)"), "{reason}");
    assert!(reason.contains("not covered by the proof"), "{reason}");
    assert!(reason.contains("verified_prefix 2"), "{reason}");
    assert_eq!(coverage(&v, "runs.status"), Coverage::Unverified);

    // Still running: said so, not passed off as lost.
    row.status = "running".into();
    let v = judge(&row, &trace, &steps);
    assert!(
        v.integrity
            .failure_reason
            .unwrap()
            .contains("the run is still running")
    );
}

#[test]
fn a_run_without_a_trace_is_unsupported_and_nothing_is_bound() {
    let v = judge_run(&run_row(), &[]);
    assert_eq!(
        v.integrity.verification_status,
        VerificationStatus::Unsupported
    );
    assert!(
        v.checks
            .iter()
            .all(|c| c.coverage != Coverage::Bound && c.trace_id.is_none())
    );
}

#[test]
fn the_signer_is_the_pinned_key_not_the_column() {
    // The column names the signer only as stored; the check uses the id of the key that
    // verified, computed from its bytes.
    let (mut trace, steps) = sealed(HeadVersion::V2);
    trace.signing_key_id = None;
    let v = judge(&run_row(), &trace, &steps);
    assert_eq!(v.integrity.verification_status, VerificationStatus::Failed);
    assert!(
        v.integrity
            .failure_reason
            .unwrap()
            .contains(&seal::key_id(&key().verifying_key()))
    );
}

#[test]
fn a_signed_claim_that_differs_from_the_row_is_caught_whichever_side_lies() {
    // A runtime that signed another goal than it stored (or a row edited after): FAILED.
    let (trace, steps) = sealed_with(HeadVersion::V2, |c| {
        c.run.as_mut().unwrap().goal = "the signed goal".into()
    });
    let v = judge(&run_row(), &trace, &steps);
    assert!(
        v.integrity
            .failure_reason
            .unwrap()
            .contains("the signed head says \"the signed goal\"")
    );
}
