//! Step payloads as the runtime's writer serializes them ([`StepEnvelope`]), and the rows
//! they are stored in.

use runproof_proof::{StepEnvelope, StepHeader, StepKind, StepStatus};
use serde_json::{Value, json};

use super::{AT, DIGEST};

fn envelope(
    kind: StepKind,
    skill: Option<&str>,
    status: StepStatus,
    duration_ms: Option<u64>,
    run_status: Option<&str>,
    body: Value,
) -> Vec<u8> {
    StepEnvelope {
        v: 1,
        kind,
        skill,
        status,
        duration_ms,
        run_status,
        cost_cents: 0,
        at: AT,
        body,
    }
    .to_bytes()
}

/// `run.start` naming the one skill `probe` and its component digest.
pub fn run_start() -> Vec<u8> {
    run_start_with(json!({"skills": {"probe": {"digest": DIGEST, "version": "1.0.0"}}}))
}

pub fn run_start_with(body: Value) -> Vec<u8> {
    envelope(
        StepKind::RunStart,
        None,
        StepStatus::Success,
        None,
        None,
        body,
    )
}

pub fn log(line: &str) -> Vec<u8> {
    envelope(
        StepKind::HostLog,
        Some("probe"),
        StepStatus::Success,
        None,
        None,
        json!({"level": "info", "message": line}),
    )
}

pub fn http() -> Vec<u8> {
    envelope(
        StepKind::HostHttp,
        Some("probe"),
        StepStatus::Success,
        Some(12),
        None,
        json!({"request": {"method": "GET", "url": "http://127.0.0.1:8080/ok"}, "response": {"status": 200}}),
    )
}

/// The write-ahead of the request `http()` records: made durable before the request left.
pub fn intent() -> Vec<u8> {
    envelope(
        StepKind::HostIntent,
        Some("probe"),
        StepStatus::Success,
        None,
        None,
        json!({"interface": "runproof:skill/http", "request": {"method": "GET", "url": "http://127.0.0.1:8080/ok"}}),
    )
}

pub fn run_end(status: &str) -> Vec<u8> {
    envelope(
        StepKind::RunEnd,
        None,
        StepStatus::Success,
        Some(5),
        Some(status),
        json!({"status": status, "error": null}),
    )
}

/// One stored row: the exact payload and the columns the verifier checks against it.
#[derive(Debug, Clone)]
pub struct Row {
    pub payload: Vec<u8>,
    pub kind: String,
    pub skill_name: Option<String>,
    pub status: String,
    pub duration_ms: Option<u64>,
    pub cost_cents: u64,
}

impl Row {
    /// The row the writer stores for `payload`: columns read from the payload's header.
    pub fn of(payload: Vec<u8>) -> Row {
        let h = StepHeader::parse(&payload).expect("a payload with a header");
        Row {
            kind: h.kind.as_str().into(),
            skill_name: h.skill.as_deref().map(str::to_string),
            status: h.status.as_str().into(),
            duration_ms: h.duration_ms,
            cost_cents: h.cost_cents,
            payload,
        }
    }

    /// A row with the columns given (for payloads whose header is the point of the vector).
    pub fn with(payload: &[u8], kind: &str, skill: Option<&str>, status: &str) -> Row {
        Row {
            payload: payload.to_vec(),
            kind: kind.into(),
            skill_name: skill.map(Into::into),
            status: status.into(),
            duration_ms: None,
            cost_cents: 0,
        }
    }
}
