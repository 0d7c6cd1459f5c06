//! What one trace step says, serialized once to the exact bytes that are stored and hashed.
//!
//! The bytes are JSON for readability (`convert_from(payload, 'UTF8')::jsonb` in psql), but
//! verification never re-serializes: it hashes the stored bytes, then reads a few header
//! fields back to check that the row's columns say the same thing as the hashed bytes.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Version of the envelope layout, inside the hashed bytes.
pub const ENVELOPE_VERSION: u32 = 1;

/// What kind of event a step records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// First step of every trace: the plan, the agent, the granted policy.
    #[serde(rename = "run.start")]
    RunStart,
    /// A plan step begins: skill name, component digest, input.
    #[serde(rename = "skill.start")]
    SkillStart,
    /// A plan step ends: output or error. Status `retry` when it will be tried again.
    #[serde(rename = "skill.end")]
    SkillEnd,
    /// A plan step that did not run because a dependency failed.
    #[serde(rename = "skill.skipped")]
    SkillSkipped,
    #[serde(rename = "host.log")]
    HostLog,
    /// A WASI call the sandbox refused (a filesystem preopen query with no scratch dir
    /// granted, a socket, a name lookup): recorded with status `failure` and its reason.
    #[serde(rename = "host.denied")]
    HostDenied,
    #[serde(rename = "host.http")]
    HostHttp,
    /// A side effect about to leave the host (an outbound request), recorded and made
    /// durable before it starts: a crash mid-request leaves this on disk. The step that
    /// records its result (`host.http`) follows.
    #[serde(rename = "host.intent")]
    HostIntent,
    #[serde(rename = "host.clock.wall")]
    HostWallClock,
    #[serde(rename = "host.clock.monotonic")]
    HostMonotonicClock,
    #[serde(rename = "host.random")]
    HostRandom,
    /// Everything the skill wrote to stdout during one invocation.
    #[serde(rename = "host.stdout")]
    HostStdout,
    /// Everything the skill wrote to stderr during one invocation.
    #[serde(rename = "host.stderr")]
    HostStderr,
    /// Last step of every trace: the run's final status.
    #[serde(rename = "run.end")]
    RunEnd,
}

impl StepKind {
    /// The spelling stored in `aos_trace_steps.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::RunStart => "run.start",
            StepKind::SkillStart => "skill.start",
            StepKind::SkillEnd => "skill.end",
            StepKind::SkillSkipped => "skill.skipped",
            StepKind::HostLog => "host.log",
            StepKind::HostDenied => "host.denied",
            StepKind::HostHttp => "host.http",
            StepKind::HostIntent => "host.intent",
            StepKind::HostWallClock => "host.clock.wall",
            StepKind::HostMonotonicClock => "host.clock.monotonic",
            StepKind::HostRandom => "host.random",
            StepKind::HostStdout => "host.stdout",
            StepKind::HostStderr => "host.stderr",
            StepKind::RunEnd => "run.end",
        }
    }
}

/// Step status, as the original system named them. `failure` is never read back as
/// `success`: the status is inside the hashed bytes and cross-checked against the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Success,
    Failure,
    Retry,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Success => "success",
            StepStatus::Failure => "failure",
            StepStatus::Retry => "retry",
            StepStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(StepStatus::Success),
            "failure" => Some(StepStatus::Failure),
            "retry" => Some(StepStatus::Retry),
            "skipped" => Some(StepStatus::Skipped),
            _ => None,
        }
    }
}

/// The full step as written. `body` holds the kind-specific detail (request and response of
/// an http call, the log line, the clock value, ...).
#[derive(Debug, Clone, Serialize)]
pub struct StepEnvelope<'a> {
    pub v: u32,
    pub kind: StepKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<&'a str>,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Final run status (`succeeded`/`failed`); only on `run.end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_status: Option<&'a str>,
    /// Metered cost of the step; the runtime meters none yet, so it is 0 and omitted.
    #[serde(skip_serializing_if = "is_zero")]
    pub cost_cents: u64,
    /// RFC 3339 time the host recorded the step.
    pub at: &'a str,
    pub body: serde_json::Value,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> StepEnvelope<'a> {
    /// A step in the envelope version this verifier accepts, recorded `at`, with no skill,
    /// duration, run status or cost: set those fields when the step has them. The only way
    /// the writer makes an envelope, so the version it writes is the one verification checks.
    pub fn new(kind: StepKind, status: StepStatus, at: &'a str, body: serde_json::Value) -> Self {
        StepEnvelope {
            v: ENVELOPE_VERSION,
            kind,
            skill: None,
            status,
            duration_ms: None,
            run_status: None,
            cost_cents: 0,
            at,
            body,
        }
    }

    /// The exact bytes to store and hash. Serialization of our own structs cannot fail.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a step envelope always serializes")
    }

    /// The same bytes, appended to `buf` (a buffer the caller reuses: a hot path then
    /// grows no vector step by step).
    pub fn write_into(&self, buf: &mut Vec<u8>) {
        serde_json::to_writer(&mut *buf, self).expect("a step envelope always serializes")
    }
}

/// The fields the verifier reads back out of hashed bytes. Strings borrow from the bytes
/// when they can (no escapes): the verifier reads one header per step.
#[derive(Debug, Clone, Deserialize)]
pub struct StepHeader<'a> {
    pub v: u32,
    pub kind: StepKind,
    #[serde(default, borrow)]
    pub skill: Option<Cow<'a, str>>,
    pub status: StepStatus,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default, borrow)]
    pub run_status: Option<Cow<'a, str>>,
    #[serde(default)]
    pub cost_cents: u64,
}

impl<'a> StepHeader<'a> {
    /// Reads the header of stored payload bytes.
    pub fn parse(payload: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_through_header() {
        let env = StepEnvelope {
            skill: Some("http_call"),
            duration_ms: Some(12),
            ..StepEnvelope::new(
                StepKind::HostHttp,
                StepStatus::Failure,
                "2026-11-23T00:00:00Z",
                serde_json::json!({"url": "http://127.0.0.1:1/"}),
            )
        };
        assert_eq!(env.v, ENVELOPE_VERSION);
        let bytes = env.to_bytes();
        let mut reused = b"left over".to_vec();
        reused.clear();
        env.write_into(&mut reused);
        assert_eq!(reused, bytes);
        let h = StepHeader::parse(&bytes).unwrap();
        assert_eq!(h.kind, StepKind::HostHttp);
        assert_eq!(h.status, StepStatus::Failure, "failure must stay failure");
        assert_eq!(h.skill.as_deref(), Some("http_call"));
        assert_eq!(h.duration_ms, Some(12));
        assert!(
            String::from_utf8(bytes)
                .unwrap()
                .contains("\"kind\":\"host.http\"")
        );
    }
}
