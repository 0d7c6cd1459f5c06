//! What a recorded host step says, per step kind: what the guest **asked** (compared when
//! the skill is replayed) and what the world **answered** (served back to the replayed
//! code). This is the one place that reads the body of each host step kind; when a kind's
//! body changes, this is what changes with it.
//!
//! | kind | asked (must match) | answered (served) |
//! | --- | --- | --- |
//! | `host.http` | everything but `response` / `error` | the response, or the error |
//! | `host.clock.wall`, `host.clock.monotonic` | that the clock was read | the reading |
//! | `host.random` | the source and how many bytes | the bytes (or the seed) |
//! | `host.log`, `host.denied`, `host.stdout`, `host.stderr`, any other | the whole body | nothing (an acknowledgement) |

use crate::http::{OutboundError, OutboundResponse};
use crate::world::HttpAnswer;
use base64::Engine as _;
use runproof_proof::{StepKind, StepStatus};
use serde_json::{Value, json};
use std::time::Duration;

/// One recorded step, read back from its stored bytes.
#[derive(Debug, Clone)]
pub struct RecordedStep {
    pub index: u64,
    pub kind: StepKind,
    pub status: StepStatus,
    /// The step's skill name (`None` for run-level steps).
    pub skill: Option<String>,
    pub body: Value,
}

impl RecordedStep {
    /// Reads the envelope of a stored payload (`{"kind", "status", "skill", "body", ...}`).
    pub fn parse(index: u64, payload: &[u8]) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            kind: StepKind,
            status: StepStatus,
            #[serde(default)]
            skill: Option<String>,
            #[serde(default)]
            body: Value,
        }
        let e: Envelope = serde_json::from_slice(payload)
            .map_err(|e| format!("step {index} cannot be read back: {e}"))?;
        Ok(RecordedStep {
            index,
            kind: e.kind,
            status: e.status,
            skill: e.skill,
            body: e.body,
        })
    }
}

/// One answer the world gave, in the order the guest received it.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Http(HttpAnswer),
    Wall(Duration),
    Monotonic(u64),
    Random { source: String, bytes: Vec<u8> },
}

/// The part of a step's body the guest decided. Two steps of the same kind whose `asked`
/// is equal are the same call.
pub(crate) fn asked(kind: StepKind, body: &Value) -> Value {
    match kind {
        StepKind::HostHttp => without(body, &["response", "error"]),
        StepKind::HostWallClock | StepKind::HostMonotonicClock => Value::Null,
        StepKind::HostRandom => match body["source"].as_str() {
            Some("insecure-seed") => json!({"source": "insecure-seed"}),
            source => json!({"source": source, "len": hex_len(&body["bytes"])}),
        },
        _ => body.clone(),
    }
}

/// What the world answered in `step`, in order (empty for a step that only acknowledges).
pub(crate) fn answered(step: &RecordedStep) -> Result<Vec<Answer>, String> {
    let body = &step.body;
    let bad = |what: &str| format!("step {} ({}): {what}", step.index, step.kind.as_str());
    Ok(match step.kind {
        StepKind::HostHttp => vec![Answer::Http(http_answer(body).map_err(|e| bad(&e))?)],
        StepKind::HostWallClock => {
            let (Some(seconds), Some(nanos)) =
                (body["seconds"].as_u64(), body["nanoseconds"].as_u64())
            else {
                return Err(bad("no seconds/nanoseconds"));
            };
            let nanos = u32::try_from(nanos).map_err(|_| bad("nanoseconds out of range"))?;
            vec![Answer::Wall(Duration::new(seconds, nanos))]
        }
        StepKind::HostMonotonicClock => {
            let ns = body["nanoseconds"]
                .as_u64()
                .ok_or_else(|| bad("no nanoseconds"))?;
            vec![Answer::Monotonic(ns)]
        }
        StepKind::HostRandom => {
            let source = body["source"]
                .as_str()
                .ok_or_else(|| bad("no source"))?
                .to_string();
            let bytes = if source == "insecure-seed" {
                // Recorded as one 128-bit value in hex; handed over as its little-endian bytes.
                let value = body["value"].as_str().ok_or_else(|| bad("no seed value"))?;
                u128::from_str_radix(value, 16)
                    .map_err(|_| bad("seed value is not hex"))?
                    .to_le_bytes()
                    .to_vec()
            } else {
                let hex = body["bytes"].as_str().ok_or_else(|| bad("no bytes"))?;
                hex::decode(hex).map_err(|_| bad("bytes are not hex"))?
            };
            vec![Answer::Random { source, bytes }]
        }
        _ => Vec::new(),
    })
}

/// One line for people: which call a step is.
pub fn summary(kind: StepKind, body: &Value) -> String {
    let text = |v: &Value| v.as_str().map(clip).unwrap_or_else(|| clip(&v.to_string()));
    match kind {
        StepKind::HostHttp => format!(
            "{} {} {}",
            kind.as_str(),
            text(&body["request"]["method"]),
            text(&body["request"]["url"])
        ),
        StepKind::HostLog => format!(
            "{} {} {:?}",
            kind.as_str(),
            text(&body["level"]),
            text(&body["message"])
        ),
        StepKind::HostRandom => match body["source"].as_str() {
            Some("insecure-seed") => format!("{} insecure-seed", kind.as_str()),
            source => format!(
                "{} {} {} bytes",
                kind.as_str(),
                source.unwrap_or("?"),
                hex_len(&body["bytes"])
            ),
        },
        StepKind::HostDenied => format!(
            "{} {} {}",
            kind.as_str(),
            text(&body["denied"]["interface"]),
            text(&body["denied"]["call"])
        ),
        StepKind::HostStdout | StepKind::HostStderr => {
            let shown = body
                .get("text")
                .map(text)
                .unwrap_or_else(|| "(binary)".into());
            format!("{} {shown:?}", kind.as_str())
        }
        StepKind::HostWallClock | StepKind::HostMonotonicClock => kind.as_str().to_string(),
        _ => format!("{} {}", kind.as_str(), clip(&body.to_string())),
    }
}

fn http_answer(body: &Value) -> Result<HttpAnswer, String> {
    if let Some(r) = body.get("response") {
        let status = r["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or("response without a status")?;
        let headers = pairs(&r["headers"]).ok_or("response headers are not [name, value] pairs")?;
        let body = bytes_from_json(&r["body"]).ok_or("response body is neither text nor base64")?;
        let hops = r["hops"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter_map(|u| u.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Ok(OutboundResponse {
            status,
            headers,
            body,
            hops,
        }));
    }
    let e = body.get("error").ok_or("neither a response nor an error")?;
    let message = e["message"].as_str().unwrap_or_default().to_string();
    Ok(Err(match e["code"].as_str() {
        Some("denied") => OutboundError::Denied(message),
        Some("invalid-request") => OutboundError::InvalidRequest(message),
        Some("connect") => OutboundError::Connect(message),
        Some("timeout") => OutboundError::Timeout(message),
        Some("too-large") => OutboundError::TooLarge(message),
        Some("other") => OutboundError::Other(message),
        other => return Err(format!("unknown http error code {other:?}")),
    }))
}

/// The inverse of `state::bytes_json`: `{"text": s}` or `{"base64": b}`.
fn bytes_from_json(v: &Value) -> Option<Vec<u8>> {
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Some(t.as_bytes().to_vec());
    }
    let b = v.get("base64").and_then(Value::as_str)?;
    base64::engine::general_purpose::STANDARD.decode(b).ok()
}

fn pairs(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_array()?
        .iter()
        .map(|p| Some((p.get(0)?.as_str()?.into(), p.get(1)?.as_str()?.into())))
        .collect()
}

fn without(body: &Value, keys: &[&str]) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn hex_len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.len() / 2)
}

fn clip(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: StepKind, body: Value) -> RecordedStep {
        RecordedStep {
            index: 3,
            kind,
            status: StepStatus::Success,
            skill: Some("probe".into()),
            body,
        }
    }

    #[test]
    fn http_asks_the_request_and_answers_the_response() {
        let body = json!({
            "request": {"method": "GET", "url": "http://127.0.0.1:1/x", "headers": [], "body": null, "follow_redirects": true},
            "response": {"status": 200, "headers": [["content-type", "text/plain"]], "body": {"base64": "AP8="}, "hops": ["http://127.0.0.1:1/x"]},
        });
        assert_eq!(
            asked(StepKind::HostHttp, &body),
            json!({"request": body["request"]})
        );
        let [Answer::Http(Ok(r))] = &answered(&step(StepKind::HostHttp, body)).unwrap()[..] else {
            panic!("one response")
        };
        assert_eq!(
            (r.status, r.body.as_slice(), r.hops.len()),
            (200, &[0u8, 255][..], 1)
        );
        assert_eq!(
            r.headers,
            vec![("content-type".into(), "text/plain".into())]
        );
    }

    #[test]
    fn http_errors_keep_their_code() {
        let body = json!({"request": {}, "error": {"code": "denied", "message": "no"}});
        let [Answer::Http(Err(e))] = &answered(&step(StepKind::HostHttp, body)).unwrap()[..] else {
            panic!("one error")
        };
        assert_eq!(e, &OutboundError::Denied("no".into()));
        let unknown = json!({"request": {}, "error": {"code": "teapot", "message": ""}});
        assert!(answered(&step(StepKind::HostHttp, unknown)).is_err());
    }

    #[test]
    fn random_asks_source_and_length_and_answers_bytes() {
        let body = json!({"source": "secure", "bytes": "00ff10"});
        assert_eq!(
            asked(StepKind::HostRandom, &body),
            json!({"source": "secure", "len": 3})
        );
        let seed = json!({"source": "insecure-seed", "value": format!("{:032x}", 258u128)});
        let [Answer::Random { source, bytes }] =
            &answered(&step(StepKind::HostRandom, seed)).unwrap()[..]
        else {
            panic!("one seed")
        };
        assert_eq!(source, "insecure-seed");
        assert_eq!(&bytes[..3], &[2, 1, 0]);
    }

    #[test]
    fn clocks_ask_nothing_and_answer_the_reading() {
        let wall = json!({"seconds": 5, "nanoseconds": 7});
        assert_eq!(asked(StepKind::HostWallClock, &wall), Value::Null);
        let [Answer::Wall(d)] = &answered(&step(StepKind::HostWallClock, wall)).unwrap()[..] else {
            panic!("one reading")
        };
        assert_eq!(*d, Duration::new(5, 7));
    }

    #[test]
    fn acknowledged_kinds_ask_their_whole_body() {
        let log = json!({"level": "info", "message": "hi"});
        assert_eq!(asked(StepKind::HostLog, &log), log);
        assert!(
            answered(&step(StepKind::HostLog, log.clone()))
                .unwrap()
                .is_empty()
        );
        assert_eq!(summary(StepKind::HostLog, &log), "host.log info \"hi\"");
    }
}
