//! What an operator reads beside a verdict: the `runs` row and the `aos_traces` rows. Each
//! column is either compared with the value the signed head states (a difference makes the
//! proof `FAILED`, naming the column and both values) or marked as not covered. Nothing is
//! shown as if it were checked when it was not.
//!
//! The caller (the coordinator) reads the rows and verifies each trace with
//! [`crate::ChainVerifier`]; [`judge_run`] turns that into one verdict for the run and the
//! list of [`FieldCheck`]s every display is built from. Pure: no I/O.
//!
//! Which columns a head binds depends on its version ([`HeadVersion`]):
//! - v2 binds every column a person reads to judge a run: status, agent, origin, goal, plan
//!   (by SHA-256 of the stored text), error, and the times and duration, plus the trace
//!   row's `sealed_at`, `merkle_root` and `signing_key_id`.
//! - v1 binds the trace (ids, model, length, roots, digests, status, start and end times);
//!   the run columns it does not state are [`Coverage::NotBound`].
//!
//! Operational columns (`attempts`, `priority`, the lease, ...) are never bound: they say how
//! the runtime handled the run, not what the run did, and are always marked so.
//!
//! One file: the table of every shown column and its coverage, and the rule that judges
//! each, must be read together to see that nothing is shown unjudged.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::model::{Integrity, IntegrityModel, VerificationStatus};
use crate::seal::{HeadVersion, TraceHeadClaims, VerifiedHead};
use crate::strict::{clip, clip_long};
use crate::verify::{TraceHead, TraceOutcome};

/// The `runs` row as stored: every column a command may show. Times are RFC 3339 UTC with
/// six fractional digits and `Z` (the caller formats what Postgres returns that way, the
/// same way the runner formats what it signs); `None` is SQL `NULL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: String,
    pub tenant_id: String,
    pub agent_id: String,
    pub origin_system_id: String,
    pub goal: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub error_message: Option<String>,
    pub plan_json: Option<String>,
    pub idempotency_key: Option<String>,
    pub parent_run_id: Option<String>,
    pub priority: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub lease_owner: Option<String>,
    pub heartbeat_at: Option<String>,
    pub lease_expires_at: Option<String>,
}

/// One `aos_traces` row as stored: what [`TraceHead`] carries for the chain check, and the
/// columns shown beside it.
#[derive(Debug, Clone)]
pub struct TraceRecord {
    pub head: TraceHead,
    pub agent_id: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub sealed_at: Option<String>,
    pub merkle_root: Option<Vec<u8>>,
    pub signing_key_id: Option<String>,
    /// Step rows stored under this `trace_id` (counted per trace, never per run: rows copied
    /// under the same `run_id` into another trace are not this trace's steps).
    pub step_count: u64,
}

/// How far the proof vouches for one shown value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Equal to what a pinned key signed.
    Bound,
    /// Differs from what a pinned key signed: the proof is `FAILED`, naming this column.
    Mismatch,
    /// The signed head does not state this column (never, or not in this head's version).
    NotBound,
    /// No signed head verified, so nothing vouches for this value.
    Unverified,
}

impl Coverage {
    /// The marker the text outputs print beside a value.
    pub fn marker(self) -> &'static str {
        match self {
            Coverage::Bound => "[signed]",
            Coverage::Mismatch => "[MISMATCH: differs from the signed head]",
            Coverage::NotBound => "[not covered by the proof]",
            Coverage::Unverified => "[unverified]",
        }
    }
}

/// One column shown beside a verdict, and what the proof says about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldCheck {
    /// `runs.<column>` or `aos_traces.<column>`.
    pub field: &'static str,
    /// Which trace, for `aos_traces` columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The value as stored.
    pub value: Value,
    pub coverage: Coverage,
    /// What the signed head says, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<Value>,
    /// Why the value is not covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The verdict on a whole run, and the coverage of everything shown beside it.
#[derive(Debug, Clone)]
pub struct RunVerdict {
    pub integrity: Integrity,
    /// The run's status as the pinned key signed it; `None` unless `VERIFIED`.
    pub run_status: Option<String>,
    /// The format of the signed head the run row was compared with.
    pub head_version: Option<HeadVersion>,
    /// Every column of the run row, then of each trace row, in display order.
    pub checks: Vec<FieldCheck>,
}

impl RunVerdict {
    /// The check of one `runs` column (`runs.goal`), for displays that show a few.
    pub fn run_field(&self, field: &str) -> Option<&FieldCheck> {
        self.checks
            .iter()
            .find(|c| c.field == field && c.trace_id.is_none())
    }
}

/// Why a column is not bound, by reason.
const OPERATIONAL: &str = "how the runtime handled the run, not what it did; never signed";
const NOT_IN_V1: &str = "this run's trace head is v1, which does not state it";
const NOTHING_SIGNED: &str = "no signed head verified, so nothing vouches for it";

/// One verdict for the run from the verdicts of its traces, with every row column compared
/// with its trace's signed head. `traces` in the order the run made them (the last one is
/// the attempt that ended the run; runs have one today).
pub fn judge_run(run: &RunRecord, traces: &[(TraceRecord, TraceOutcome)]) -> RunVerdict {
    let mut integrity = combine(traces.iter().map(|(_, o)| &o.integrity));
    // The run row is compared with the head of the trace that ended the run, and only when
    // every trace verified (else nothing about the run is vouched for).
    let last_signed = match traces.last() {
        Some((_, o)) if integrity.is_verified() => o.signed.as_ref(),
        _ => None,
    };
    let mut checks = run_checks(run, last_signed);
    for (record, outcome) in traces {
        checks.extend(trace_checks(record, outcome.signed.as_ref()));
    }
    if integrity.is_verified()
        && let Some(bad) = checks.iter().find(|c| c.coverage == Coverage::Mismatch)
    {
        integrity.verification_status = VerificationStatus::Failed;
        integrity.signed_by = None;
        integrity.failure_reason = Some(mismatch_reason(bad));
    }
    if !integrity.is_verified() {
        explain_unsealed(&mut integrity, run, traces);
    }
    RunVerdict {
        run_status: match (integrity.is_verified(), last_signed) {
            (true, Some(s)) => Some(s.claims.status.clone()),
            _ => None,
        },
        head_version: last_signed.map(|s| s.claims.version()),
        integrity,
        checks,
    }
}

/// "runs.status says "succeeded"; the signed head says "failed"".
fn mismatch_reason(c: &FieldCheck) -> String {
    let signed = c.signed.as_ref().map(show).unwrap_or_else(|| "-".into());
    let of_trace = c
        .trace_id
        .as_deref()
        .map(|t| format!(" of trace {}", clip(t)))
        .unwrap_or_default();
    if c.field == "runs.plan_json" {
        return format!(
            "runs.plan_json hashes to {}; the signed head says plan_sha256 {signed}",
            plan_digest(c.value.as_str())
        );
    }
    format!(
        "{}{of_trace} says {}; the signed head says {signed}",
        c.field,
        show(&c.value)
    )
}

/// A value for a one-line message: strings quoted and escaped, and cut.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{}\"", clip(s)),
        other => clip(&other.to_string()),
    }
}

fn plan_digest(plan: Option<&str>) -> String {
    match plan {
        Some(text) => hex::encode(Sha256::digest(text.as_bytes())),
        None => "nothing (it is NULL)".into(),
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn opt_text(s: &Option<String>) -> Value {
    s.as_deref().map(text).unwrap_or(Value::Null)
}

fn opt_int(n: Option<i64>) -> Value {
    n.map(Value::from).unwrap_or(Value::Null)
}

/// Builds checks against one (optional) verified head.
struct Checker<'a> {
    signed: Option<&'a VerifiedHead>,
    trace_id: Option<String>,
    out: Vec<FieldCheck>,
}

impl Checker<'_> {
    /// A column the head states as `signed` (`None`: this head's version does not state it).
    fn bound(&mut self, field: &'static str, value: Value, signed: Option<Value>) {
        let (coverage, signed, note) = match (self.signed, signed) {
            (None, _) => (Coverage::Unverified, None, Some(NOTHING_SIGNED.into())),
            (Some(_), None) => (Coverage::NotBound, None, Some(NOT_IN_V1.into())),
            (Some(_), Some(s)) if s == value => (Coverage::Bound, None, None),
            (Some(_), Some(s)) => (Coverage::Mismatch, Some(s), None),
        };
        self.push(field, value, coverage, signed, note);
    }

    /// A column no head ever states.
    fn operational(&mut self, field: &'static str, value: Value) {
        self.push(
            field,
            value,
            Coverage::NotBound,
            None,
            Some(OPERATIONAL.into()),
        );
    }

    fn push(
        &mut self,
        field: &'static str,
        value: Value,
        coverage: Coverage,
        signed: Option<Value>,
        note: Option<String>,
    ) {
        self.out.push(FieldCheck {
            field,
            trace_id: self.trace_id.clone(),
            value,
            coverage,
            signed,
            note,
        });
    }
}

fn run_checks(run: &RunRecord, signed: Option<&VerifiedHead>) -> Vec<FieldCheck> {
    let claims: Option<&TraceHeadClaims> = signed.map(|s| &s.claims);
    let v2 = claims.and_then(|c| c.run.as_ref());
    let mut c = Checker {
        signed,
        trace_id: None,
        out: Vec::with_capacity(20),
    };
    // Id and tenant: the run was looked up by them, and the chain's genesis binds both.
    c.bound(
        "runs.id",
        text(&run.run_id),
        claims.map(|c| text(&c.run_id)),
    );
    c.bound(
        "runs.tenant_id",
        text(&run.tenant_id),
        claims.map(|c| text(&c.tenant_id)),
    );
    c.bound(
        "runs.status",
        text(&run.status),
        claims.map(|c| text(&c.status)),
    );
    c.bound(
        "runs.agent_id",
        text(&run.agent_id),
        v2.map(|r| text(&r.agent_id)),
    );
    c.bound(
        "runs.origin_system_id",
        text(&run.origin_system_id),
        v2.map(|r| text(&r.origin_system_id)),
    );
    c.bound("runs.goal", text(&run.goal), v2.map(|r| text(&r.goal)));
    // The plan is bound by the SHA-256 of the exact stored text; shown as stored.
    let plan = opt_text(&run.plan_json);
    match v2 {
        Some(r) if plan_digest(run.plan_json.as_deref()) != r.plan_sha256 => c.push(
            "runs.plan_json",
            plan,
            Coverage::Mismatch,
            Some(text(&r.plan_sha256)),
            None,
        ),
        Some(_) => c.push("runs.plan_json", plan, Coverage::Bound, None, None),
        None => c.bound("runs.plan_json", plan, None),
    }
    c.bound(
        "runs.error_message",
        opt_text(&run.error_message),
        v2.map(|r| opt_text(&r.error_message)),
    );
    c.bound(
        "runs.created_at",
        text(&run.created_at),
        v2.map(|r| text(&r.created_at)),
    );
    // runs.started_at is set in the transaction that opens the trace, so it is the trace's
    // start, which every head version states.
    c.bound(
        "runs.started_at",
        opt_text(&run.started_at),
        claims.map(|c| text(&c.started_at)),
    );
    c.bound(
        "runs.completed_at",
        opt_text(&run.completed_at),
        v2.and(claims).map(|c| text(&c.completed_at)),
    );
    c.bound(
        "runs.duration_ms",
        opt_int(run.duration_ms),
        v2.map(|r| Value::from(r.duration_ms)),
    );
    c.operational("runs.attempts", Value::from(run.attempts));
    c.operational("runs.max_attempts", Value::from(run.max_attempts));
    c.operational("runs.priority", Value::from(run.priority));
    c.operational("runs.idempotency_key", opt_text(&run.idempotency_key));
    c.operational("runs.parent_run_id", opt_text(&run.parent_run_id));
    c.operational("runs.lease_owner", opt_text(&run.lease_owner));
    c.operational("runs.heartbeat_at", opt_text(&run.heartbeat_at));
    c.operational("runs.lease_expires_at", opt_text(&run.lease_expires_at));
    c.out
}

fn trace_checks(t: &TraceRecord, signed: Option<&VerifiedHead>) -> Vec<FieldCheck> {
    let claims = signed.map(|s| &s.claims);
    let v2 = claims.and_then(|c| c.run.as_ref());
    let ids = &t.head.ids;
    let mut c = Checker {
        signed,
        trace_id: Some(ids.trace_id.clone()),
        out: Vec::with_capacity(14),
    };
    c.bound(
        "aos_traces.trace_id",
        text(&ids.trace_id),
        claims.map(|c| text(&c.trace_id)),
    );
    c.bound(
        "aos_traces.run_id",
        text(&ids.run_id),
        claims.map(|c| text(&c.run_id)),
    );
    c.bound(
        "aos_traces.tenant_id",
        text(&ids.tenant_id),
        claims.map(|c| text(&c.tenant_id)),
    );
    c.bound(
        "aos_traces.agent_id",
        text(&t.agent_id),
        v2.map(|r| text(&r.agent_id)),
    );
    c.bound(
        "aos_traces.status",
        text(&t.head.status),
        claims.map(|c| text(&c.status)),
    );
    c.bound(
        "aos_traces.integrity_model",
        text(&t.head.integrity_model),
        claims.map(|c| text(&c.integrity_model)),
    );
    c.bound(
        "aos_traces.started_at",
        text(&t.started_at),
        claims.map(|c| text(&c.started_at)),
    );
    c.bound(
        "aos_traces.completed_at",
        opt_text(&t.completed_at),
        claims.map(|c| text(&c.completed_at)),
    );
    c.bound(
        "aos_traces.sealed_at",
        opt_text(&t.sealed_at),
        claims.and_then(|c| c.sealed_at.as_deref()).map(text),
    );
    c.bound(
        "aos_traces.chain_length",
        opt_int(t.head.chain_length),
        claims.map(|c| Value::from(c.chain_length)),
    );
    // The sealed root is the one the model names; both are signed.
    let model_root = claims.map(|c| {
        text(
            if IntegrityModel::parse(&c.integrity_model) == Some(IntegrityModel::MerkleTree) {
                &c.merkle_root
            } else {
                &c.root_hash
            },
        )
    });
    let hex_of = |b: &Option<Vec<u8>>| b.as_deref().map(hex::encode).map(Value::String);
    c.bound(
        "aos_traces.root_hash",
        hex_of(&t.head.root_hash).unwrap_or(Value::Null),
        model_root,
    );
    c.bound(
        "aos_traces.merkle_root",
        hex_of(&t.merkle_root).unwrap_or(Value::Null),
        claims.map(|c| text(&c.merkle_root)),
    );
    // The signer's id is computed from the pinned key that verified, never read back.
    c.bound(
        "aos_traces.signing_key_id",
        opt_text(&t.signing_key_id),
        signed.map(|s| text(&s.key_id)),
    );
    c.bound(
        "aos_traces.step_count",
        Value::from(t.step_count),
        claims.map(|c| Value::from(c.chain_length)),
    );
    c.out
}

/// One verdict from the traces' verdicts: no trace is `UNSUPPORTED`; several are `VERIFIED`
/// only if each is, and the first failure is the one reported.
fn combine<'a>(verdicts: impl Iterator<Item = &'a Integrity>) -> Integrity {
    let verdicts: Vec<&Integrity> = verdicts.collect();
    match verdicts.as_slice() {
        [] => Integrity {
            model: IntegrityModel::None,
            verification_status: VerificationStatus::Unsupported,
            chain_length: 0,
            verified_prefix: 0,
            root_hash: None,
            merkle_root: None,
            signed_by: None,
            failure_reason: Some("no trace was recorded for this run".into()),
        },
        [one] => (*one).clone(),
        many => {
            let chain_length = many.iter().map(|v| v.chain_length).sum();
            let verified_prefix = many.iter().map(|v| v.verified_prefix).sum();
            match many.iter().find(|v| !v.is_verified()) {
                Some(bad) => Integrity {
                    chain_length,
                    verified_prefix,
                    ..(*bad).clone()
                },
                None => Integrity {
                    chain_length,
                    verified_prefix,
                    root_hash: many.last().and_then(|v| v.root_hash.clone()),
                    ..many[0].clone()
                },
            }
        }
    }
}

/// A run whose trace was never sealed (still going, interrupted, lost): say which, with what
/// the run row says marked as not covered, and how much of the trace is intact.
fn explain_unsealed(
    integrity: &mut Integrity,
    run: &RunRecord,
    traces: &[(TraceRecord, TraceOutcome)],
) {
    let Some((record, _)) = traces
        .iter()
        .find(|(_, o)| !o.sealed && o.steps_intact && !o.integrity.is_verified())
    else {
        return;
    };
    let trace = clip(&record.head.ids.trace_id);
    let prefix = integrity.verified_prefix;
    let intact = format!(
        "its first {prefix} step(s) hash and link intact (verified_prefix {prefix}), but nothing signed vouches for them"
    );
    integrity.failure_reason = Some(match run.status.as_str() {
        "running" | "queued" => format!(
            "trace {trace} is not sealed: the run is still running (runs.status, not covered by the proof); {intact}"
        ),
        status => format!(
            "trace {trace} is not sealed: the run ended without its seal (runs.status {} and runs.error_message {}, read from the database, not covered by the proof); {intact}",
            show(&text(status)),
            match &run.error_message {
                Some(e) => format!("\"{}\"", clip_long(e)),
                None => "null".into(),
            },
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_digest_is_of_the_exact_text() {
        assert_eq!(
            plan_digest(Some("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(plan_digest(Some("{}")), plan_digest(Some("{ }")));
    }

    #[test]
    fn values_in_messages_are_quoted_and_escaped() {
        assert_eq!(show(&text("a\nb")), "\"a\\nb\"");
        assert_eq!(show(&Value::Null), "null");
        assert_eq!(show(&Value::from(12)), "12");
    }
}
