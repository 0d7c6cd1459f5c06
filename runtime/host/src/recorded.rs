//! What a recorded host step says, per step kind: what the guest **asked** (compared when
//! the skill is replayed) and what the world **answered** (served back to the replayed
//! code). This is the one place that reads the body of each host step kind; when a kind's
//! body changes, this is what changes with it.
//!
//! A step is one call of the guest, except a compacted run of clock or random reads
//! (`compact.rs`), which is one call per read; replay compares calls, not steps, so how
//! reads were grouped into steps does not matter.
//!
//! | kind | asked (must match) | answered (served) |
//! | --- | --- | --- |
//! | `host.intent` | the whole body (the interface and the request, as the result step has them) | nothing: the replay commits it where the original did |
//! | `host.http` | everything but `response` / `error` (the interface and the request) | the response, or the error |
//! | `host.clock.wall`, `host.clock.monotonic` | that the clock was read, once per read | each reading |
//! | `host.random` | the source and how many bytes, per read | the bytes of each read (the seed too) |
//! | `host.log`, `host.denied`, `host.stdout`, `host.stderr`, any other | the whole body | nothing (an acknowledgement) |
//!
//! The trace is bounded (`trace_caps.rs`): bytes over 64 KiB, refused requests and the
//! largest strings of a step over 1 MiB are recorded as `{"digest": {size, sha256, prefix}}`.
//! What the guest *asked* still compares ([`same_asked`]: the digest commits to the exact
//! bytes). What the world *answered* cannot be served from a digest: such a step is
//! [`ReadError::DigestOnly`], and a replay refuses it rather than serve something else.
//!
//! Long (one file): the table of what each step kind records and its reader are one
//! mapping, written once; a replay that reads a kind differently from how it was written
//! would diverge, so the writer's and the reader's side of each kind sit together.

use crate::http::{Cause, HttpError, OutboundError, OutboundResponse};
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

/// Why a recorded step cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReadError {
    /// Not a body this kind records.
    #[error("{0}")]
    Malformed(String),
    /// An answer the guest received was recorded only as its digest (`trace_caps.rs`): the
    /// trace commits to it but does not hold it, so it cannot be served.
    #[error(
        "{0} was recorded only as its size, SHA-256 and prefix (the trace's bounds): a replay can neither serve it to the code nor check it"
    )]
    DigestOnly(&'static str),
}

impl From<String> for ReadError {
    fn from(s: String) -> Self {
        ReadError::Malformed(s)
    }
}

impl From<&str> for ReadError {
    fn from(s: &str) -> Self {
        ReadError::Malformed(s.to_string())
    }
}

/// One call the guest made, as a step records it. A step is one call, except a compacted
/// run of clock or random reads (`compact.rs`), which is one call per read.
#[derive(Debug, Clone)]
pub(crate) struct Interaction {
    pub kind: StepKind,
    /// The part the guest decided; two calls of one kind with equal `asked` are the same call.
    pub asked: Value,
    /// What the world answered (`None`: an acknowledgement only).
    pub answer: Option<Answer>,
    /// Made on a task of its own (a standard `wasi:http` exchange), so where it lands among
    /// the guest's clock and random reads is a race, in the original and in a replay.
    pub concurrent: bool,
}

impl Interaction {
    pub fn is_read(&self) -> bool {
        matches!(
            self.kind,
            StepKind::HostRandom | StepKind::HostWallClock | StepKind::HostMonotonicClock
        )
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        match self.kind {
            StepKind::HostRandom => format!(
                "{} read of {} bytes ({})",
                self.kind.as_str(),
                self.asked["len"],
                self.asked["source"].as_str().unwrap_or("?")
            ),
            StepKind::HostWallClock | StepKind::HostMonotonicClock => {
                format!("{} read", self.kind.as_str())
            }
            _ => summary(self.kind, &self.asked),
        }
    }
}

/// The calls a step of `kind` with `body` records, in order. The same reading serves the
/// recorded steps and the events the replayed code produces, so both sides are cut the
/// same way whatever the compaction.
pub(crate) fn interactions(kind: StepKind, body: &Value) -> Result<Vec<Interaction>, ReadError> {
    // Whatever a standard `wasi:http` exchange records (its intent too), it records from
    // its own task.
    let concurrent = body["interface"] == "wasi:http/outgoing-handler";
    if is_bounded(body) {
        // The step cap digested the whole body: nothing is left to serve or compare.
        return Err(ReadError::DigestOnly("the whole step body"));
    }
    let one = |asked: Value, answer: Option<Answer>| Interaction {
        kind,
        asked,
        answer,
        concurrent,
    };
    Ok(match kind {
        StepKind::HostHttp => vec![one(
            without(body, &["response", "error"]),
            Some(Answer::Http(http_answer(body)?)),
        )],
        StepKind::HostWallClock => reads(body, "seconds")
            .iter()
            .map(|r| {
                let (Some(seconds), Some(nanos)) =
                    (r["seconds"].as_u64(), r["nanoseconds"].as_u64())
                else {
                    return Err("a wall-clock read without seconds/nanoseconds".to_string());
                };
                let nanos = u32::try_from(nanos).map_err(|_| "nanoseconds out of range")?;
                Ok(one(
                    Value::Null,
                    Some(Answer::Wall(Duration::new(seconds, nanos))),
                ))
            })
            .collect::<Result<_, String>>()?,
        StepKind::HostMonotonicClock => reads(body, "nanoseconds")
            .iter()
            .map(|r| {
                let ns = r.as_u64().or_else(|| r["nanoseconds"].as_u64());
                let ns = ns.ok_or("a monotonic-clock read without nanoseconds")?;
                Ok(one(Value::Null, Some(Answer::Monotonic(ns))))
            })
            .collect::<Result<_, String>>()?,
        StepKind::HostRandom => {
            let source = body["source"]
                .as_str()
                .ok_or("a random read without a source")?;
            random_reads(body)?
                .into_iter()
                .map(|bytes| {
                    let asked = json!({"source": source, "len": bytes.len()});
                    let answer = Answer::Random {
                        source: source.to_string(),
                        bytes,
                    };
                    one(asked, Some(answer))
                })
                .collect()
        }
        _ => vec![one(body.clone(), None)],
    })
}

/// `v` is what `trace_caps.rs` leaves of capped bytes, `{"digest": {size, sha256, prefix}}`
/// (`key` = `digest`), or of a whole capped body, `{"bounded": {"digest": ...}}` (`key` =
/// `bounded`), and nothing else. No other host step field has this shape (recorded bytes are
/// `{"text"}` or `{"base64"}`, headers are pairs of strings); a skill's own JSON (an input,
/// an output) could spell it only on purpose, and is then refused, never served wrongly.
fn is_digest(v: &Value, key: &str) -> bool {
    let Some(inner) = v
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.get(key))
    else {
        return false;
    };
    if key == "bounded" {
        return is_digest(inner, "digest");
    }
    inner.as_object().is_some_and(|d| {
        d.len() == 3
            && d.get("size").is_some_and(Value::is_u64)
            && d.get("sha256").is_some_and(Value::is_string)
            && d.get("prefix").is_some_and(Value::is_object)
    })
}

/// Whether a whole step body was capped to its digest (`{"bounded"}`).
pub fn is_bounded(body: &Value) -> bool {
    is_digest(body, "bounded")
}

/// Whether any value inside `v` is a capped field (`{"digest"}`): bytes the trace commits
/// to but does not hold.
pub fn holds_digest(v: &Value) -> bool {
    is_digest(v, "digest")
        || match v {
            Value::Array(items) => items.iter().any(holds_digest),
            Value::Object(map) => map.values().any(holds_digest),
            _ => false,
        }
}

/// Whether the guest's side of a replayed call (`actual`) is the recorded one. Equal, or
/// where the recorded one has a capped field (`{"digest"}`, put there by the step cap), the
/// replayed one has a string of exactly those bytes: the SHA-256 decides, and the replay
/// caps nothing itself. Fields the host caps before recording (bodies, URLs) are capped the
/// same way in both, so they are simply equal.
pub fn same_asked(recorded: &Value, actual: &Value) -> bool {
    if recorded == actual {
        return true;
    }
    match (recorded, actual) {
        (r, Value::String(s)) if is_digest(r, "digest") => {
            *r == crate::trace_caps::digest_json(s.as_bytes())
        }
        (Value::Array(r), Value::Array(a)) => {
            r.len() == a.len() && r.iter().zip(a).all(|(r, a)| same_asked(r, a))
        }
        (Value::Object(r), Value::Object(a)) => {
            r.len() == a.len()
                && r.iter()
                    .all(|(k, r)| a.get(k).is_some_and(|a| same_asked(r, a)))
        }
        _ => false,
    }
}

/// The reads of a compacted step (`{"reads": [...]}`), or the one read of a step written
/// before compaction (the body itself, which has `field`).
fn reads<'a>(body: &'a Value, field: &str) -> Vec<&'a Value> {
    match body.get("reads").and_then(Value::as_array) {
        Some(reads) => reads.iter().collect(),
        None if body.get(field).is_some() => vec![body],
        None => Vec::new(),
    }
}

/// The bytes of each random read: `{"reads": ["<hex>", ...]}`; before compaction
/// `{"bytes": "<hex>"}`, or the seed as one 128-bit hex `value` (handed over little-endian).
fn random_reads(body: &Value) -> Result<Vec<Vec<u8>>, ReadError> {
    if holds_digest(body) {
        return Err(ReadError::DigestOnly("a random read's bytes"));
    }
    let hex = |v: &Value| {
        v.as_str()
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| "random bytes that are not hex".to_string())
    };
    if let Some(reads) = body.get("reads").and_then(Value::as_array) {
        return Ok(reads.iter().map(hex).collect::<Result<_, _>>()?);
    }
    if let Some(b) = body.get("bytes") {
        return Ok(vec![hex(b)?]);
    }
    let value = body["value"]
        .as_str()
        .ok_or("a random step with no reads")?;
    let seed = u128::from_str_radix(value, 16).map_err(|_| "a seed value that is not hex")?;
    Ok(vec![seed.to_le_bytes().to_vec()])
}

/// One line for people: which call a step is.
pub fn summary(kind: StepKind, body: &Value) -> String {
    let text = |v: &Value| v.as_str().map(clip).unwrap_or_else(|| clip(&v.to_string()));
    match kind {
        StepKind::HostHttp | StepKind::HostIntent => format!(
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
        StepKind::HostRandom | StepKind::HostWallClock | StepKind::HostMonotonicClock => {
            match interactions(kind, body) {
                Ok(reads) if reads.len() == 1 => reads[0].summary(),
                Ok(reads) => format!("{} ({} reads)", kind.as_str(), reads.len()),
                Err(e) => format!("{} ({e})", kind.as_str()),
            }
        }
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
        _ => format!("{} {}", kind.as_str(), clip(&body.to_string())),
    }
}

fn http_answer(body: &Value) -> Result<HttpAnswer, ReadError> {
    if let Some(r) = body.get("response") {
        if holds_digest(r) {
            return Err(ReadError::DigestOnly(
                "the response (its body, a redirect hop or a header)",
            ));
        }
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
    if holds_digest(e) {
        return Err(ReadError::DigestOnly("the error message"));
    }
    let message = e["message"].as_str().unwrap_or_default().to_string();
    let code = e["code"].as_str();
    let error = code
        .and_then(|c| crate::http::from_code(c, message))
        .ok_or_else(|| format!("unknown http error code {code:?}"))?;
    let cause = match e.get("cause") {
        None => legacy_cause(&error),
        Some(Value::Null) => None,
        Some(c) => Some(
            c.as_str()
                .and_then(Cause::parse)
                .ok_or_else(|| format!("unknown http error cause {c}"))?,
        ),
    };
    let error = OutboundError::with_cause(error, cause)
        .ok_or_else(|| format!("the http error cause {cause:?} is not one of {code:?}"))?;
    Ok(Err(error))
}

/// The cause of an error recorded before steps carried one: then `wasi:http` chose its error
/// code from the message text, so this reads the message by the same rules, and a replay
/// serves the code the original guest got (a URL over its cap was then a response-head
/// error). Only for such old steps: every step written since records its cause.
fn legacy_cause(e: &HttpError) -> Option<Cause> {
    match e {
        HttpError::InvalidRequest(m) if m.contains("method") => Some(Cause::Method),
        HttpError::InvalidRequest(m) if m.contains("URL") => Some(Cause::Url),
        HttpError::Connect(m) if m.contains("cannot resolve") || m.contains("no address") => {
            Some(Cause::Dns)
        }
        HttpError::Connect(m) if m.starts_with("TLS") => Some(Cause::Tls),
        HttpError::TooLarge(m) if m.contains("max_request_body") => Some(Cause::RequestBody),
        HttpError::TooLarge(m) if m.contains("max_response_body") => Some(Cause::ResponseBody),
        HttpError::TooLarge(m) if m.contains("request headers") => Some(Cause::RequestHeaders),
        HttpError::TooLarge(m) if m.contains("redirects") => Some(Cause::Redirects),
        HttpError::TooLarge(_) => Some(Cause::ResponseHead),
        _ => None,
    }
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

    fn only(kind: StepKind, body: Value) -> Interaction {
        let mut all = interactions(kind, &body).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn http_asks_the_request_and_answers_the_response() {
        let body = json!({
            "interface": "runproof:skill/http",
            "request": {"method": "GET", "url": "http://127.0.0.1:1/x", "headers": [], "body": null, "follow_redirects": true},
            "response": {"status": 200, "headers": [["content-type", "text/plain"]], "body": {"base64": "AP8="}, "hops": ["http://127.0.0.1:1/x"]},
        });
        let i = only(StepKind::HostHttp, body.clone());
        assert_eq!(
            i.asked,
            json!({"interface": "runproof:skill/http", "request": body["request"]})
        );
        assert!(!i.concurrent);
        let Some(Answer::Http(Ok(r))) = i.answer else {
            panic!("a response")
        };
        assert_eq!(
            (r.status, r.body.as_slice(), r.hops.len()),
            (200, &[0u8, 255][..], 1)
        );
        assert_eq!(
            r.headers,
            vec![("content-type".into(), "text/plain".into())]
        );
        assert_eq!(
            summary(StepKind::HostHttp, &body),
            "host.http GET http://127.0.0.1:1/x"
        );
    }

    #[test]
    fn http_errors_keep_their_code_and_wasi_http_is_concurrent() {
        let body = json!({"interface": "wasi:http/outgoing-handler", "request": {}, "error": {"code": "denied", "cause": null, "message": "no"}});
        let i = only(StepKind::HostHttp, body);
        assert!(i.concurrent);
        let Some(Answer::Http(Err(e))) = i.answer else {
            panic!("an error")
        };
        assert_eq!(e, OutboundError::from(HttpError::Denied("no".into())));
        for bad in [
            json!({"code": "teapot", "message": ""}),
            json!({"code": "other", "cause": "teapot", "message": ""}),
            json!({"code": "denied", "cause": "tls", "message": ""}),
        ] {
            let step = json!({"request": {}, "error": bad});
            assert!(interactions(StepKind::HostHttp, &step).is_err(), "{step}");
        }
    }

    fn answer(error: Value) -> OutboundError {
        let i = only(StepKind::HostHttp, json!({"request": {}, "error": error}));
        let Some(Answer::Http(Err(e))) = i.answer else {
            panic!("an error")
        };
        e
    }

    #[test]
    fn an_error_reads_back_with_its_recorded_cause() {
        let e = Cause::ResponseBody.error("response body exceeds the cap".into());
        assert_eq!(answer(e.to_json()), e);
        // A message that reads like another cause changes nothing: the cause is recorded.
        let e = OutboundError::from(HttpError::InvalidRequest(
            "invalid header name \"x-URL-method\"".into(),
        ));
        assert_eq!(answer(e.to_json()).cause(), None);
    }

    #[test]
    fn an_error_recorded_before_causes_reads_its_cause_from_the_message() {
        let old =
            |code: &str, message: &str| answer(json!({"code": code, "message": message})).cause();
        assert_eq!(
            old("invalid-request", "invalid method \"G T\""),
            Some(Cause::Method)
        );
        assert_eq!(
            old("invalid-request", "invalid URL: empty host"),
            Some(Cause::Url)
        );
        assert_eq!(old("connect", "cannot resolve x: y"), Some(Cause::Dns));
        assert_eq!(old("connect", "TLS with x: bad cert"), Some(Cause::Tls));
        assert_eq!(old("connect", "connect to 127.0.0.1:1 (x): refused"), None);
        assert_eq!(
            old(
                "too-large",
                "response body exceeds the cap of 4 bytes (max_response_body)"
            ),
            Some(Cause::ResponseBody)
        );
        assert_eq!(
            old("too-large", "more than 10 redirects (max_redirects)"),
            Some(Cause::Redirects)
        );
        assert_eq!(old("denied", "no"), None);
    }

    #[test]
    fn a_compacted_random_step_is_one_call_per_read() {
        let body = json!({"source": "secure", "reads": ["00ff10", "aa"]});
        let reads = interactions(StepKind::HostRandom, &body).unwrap();
        assert_eq!(reads.len(), 2);
        assert_eq!(reads[0].asked, json!({"source": "secure", "len": 3}));
        assert_eq!(reads[1].asked, json!({"source": "secure", "len": 1}));
        let Some(Answer::Random { bytes, .. }) = &reads[1].answer else {
            panic!("bytes")
        };
        assert_eq!(bytes, &[0xaa]);
        assert_eq!(
            summary(StepKind::HostRandom, &body),
            "host.random (2 reads)"
        );
    }

    #[test]
    fn steps_written_before_compaction_still_read() {
        let seed = json!({"source": "insecure-seed", "value": format!("{:032x}", 258u128)});
        let Some(Answer::Random { bytes, .. }) = only(StepKind::HostRandom, seed).answer else {
            panic!("a seed")
        };
        assert_eq!(&bytes[..3], &[2, 1, 0]);
        let wall = only(
            StepKind::HostWallClock,
            json!({"seconds": 5, "nanoseconds": 7}),
        );
        assert!(matches!(wall.answer, Some(Answer::Wall(d)) if d == Duration::new(5, 7)));
        let mono = only(StepKind::HostMonotonicClock, json!({"nanoseconds": 9}));
        assert!(matches!(mono.answer, Some(Answer::Monotonic(9))));
    }

    #[test]
    fn compacted_clock_reads_answer_in_order() {
        let wall =
            json!({"reads": [{"seconds": 1, "nanoseconds": 2}, {"seconds": 3, "nanoseconds": 4}]});
        let reads = interactions(StepKind::HostWallClock, &wall).unwrap();
        assert!(matches!(reads[1].answer, Some(Answer::Wall(d)) if d == Duration::new(3, 4)));
        assert!(reads.iter().all(|r| r.asked.is_null() && r.is_read()));
        let mono = interactions(StepKind::HostMonotonicClock, &json!({"reads": [5, 6]})).unwrap();
        assert!(matches!(mono[0].answer, Some(Answer::Monotonic(5))));
    }

    #[test]
    fn answers_capped_to_a_digest_cannot_be_served() {
        let capped =
            crate::trace_caps::bytes_field(&[b'x'; crate::trace_caps::MAX_INLINE_BYTES + 1]);
        let body = json!({
            "interface": "runproof:skill/http",
            "request": {"method": "GET", "url": "http://127.0.0.1:1/x"},
            "response": {"status": 200, "headers": [], "body": capped, "hops": []},
        });
        let e = interactions(StepKind::HostHttp, &body).unwrap_err();
        assert!(matches!(e, ReadError::DigestOnly(_)), "{e}");
        assert!(e.to_string().contains("size, SHA-256 and prefix"), "{e}");
        let random = json!({"source": "secure", "reads": [crate::trace_caps::digest_json(b"r")]});
        assert!(matches!(
            interactions(StepKind::HostRandom, &random),
            Err(ReadError::DigestOnly(_))
        ));
        let whole = json!({"bounded": crate::trace_caps::digest_json(b"{}")});
        assert!(matches!(
            interactions(StepKind::HostLog, &whole),
            Err(ReadError::DigestOnly(_))
        ));
        // A text that happens to spell a digest is not one.
        let log = json!({"level": "info", "message": "{\"digest\": {}}"});
        assert!(interactions(StepKind::HostLog, &log).is_ok());
    }

    #[test]
    fn asked_sides_compare_through_a_digest_by_their_bytes() {
        let text = "y".repeat(5000);
        let recorded = json!({"text": crate::trace_caps::digest_json(text.as_bytes()), "n": 1});
        assert!(same_asked(&recorded, &json!({"text": text, "n": 1})));
        assert!(!same_asked(
            &recorded,
            &json!({"text": format!("{text}z"), "n": 1})
        ));
        assert!(!same_asked(&recorded, &json!({"text": text, "n": 2})));
        assert!(!same_asked(
            &recorded,
            &json!({"text": text, "n": 1, "more": true})
        ));
        assert!(!same_asked(&json!(["a"]), &json!(["a", "b"])));
        assert!(same_asked(&json!({"a": [1, "b"]}), &json!({"a": [1, "b"]})));
    }

    #[test]
    fn an_intent_asks_its_whole_body_and_is_concurrent_over_wasi_http() {
        let body = json!({"interface": "wasi:http/outgoing-handler", "request": {"method": "GET", "url": "http://h/"}});
        let i = only(StepKind::HostIntent, body.clone());
        assert_eq!(i.asked, body);
        assert!(i.concurrent && i.answer.is_none() && !i.is_read());
        assert_eq!(
            summary(StepKind::HostIntent, &body),
            "host.intent GET http://h/"
        );
    }

    #[test]
    fn acknowledged_kinds_ask_their_whole_body() {
        let log = json!({"level": "info", "message": "hi"});
        let i = only(StepKind::HostLog, log.clone());
        assert_eq!(i.asked, log);
        assert!(i.answer.is_none());
        assert_eq!(summary(StepKind::HostLog, &log), "host.log info \"hi\"");
    }
}
