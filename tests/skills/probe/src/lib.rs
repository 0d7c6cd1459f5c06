//! `probe`: a test-fixture skill that exercises what a component can ask of the host.
//!
//! Input: `{"actions": ["log:hello", "wall_clock", "random", "http:http://127.0.0.1:8080/"]}`.
//! The actions run in order; each adds one entry to the output's `results`:
//!
//! | action | does | result entry |
//! | --- | --- | --- |
//! | `log:<msg>` | `log::info(msg)` | `{"log": "<msg>"}` |
//! | `wall_clock` | `std::time::SystemTime::now()` (wasi:clocks/wall-clock) | `{"wall_clock_ns": <ns since the UNIX epoch>}` |
//! | `monotonic_clock` | `std::time::Instant::now()` (wasi:clocks/monotonic-clock) | `{"monotonic_ns": <the clock's raw reading in ns, or null>, "monotonic_elapsed_ns": <ns since this invocation's first monotonic_clock action>}` |
//! | `random` | 8 bytes from `getrandom` (wasi:random) | `{"random": "<16 hex digits>"}` |
//! | `stdout:<text>` | `println!` | `{"stdout": "<text>"}` |
//! | `stderr:<text>` | `eprintln!` | `{"stderr": "<text>"}` |
//! | `http:<url>` | `GET url` through the SDK | `{"http": "<url>", "status": <u16>, "body": "<lossy utf-8>"}` |
//! | `request:<json>` | one request through the SDK builder: `{"method": "POST", "url": "...", "headers": [["k", "v"]], "body": "text", "timeout_ms": 1000, "follow_redirects": false}` (all but `url` optional; redirects followed by default) | `{"request": "<url>", "status": <u16>, "headers": [["k", "v"]], "body": "<lossy utf-8>"}` |
//! | `fail:<msg>` | stops, returns the error `probe-fail: <msg>` | none |
//! | `panic:<msg>` | `panic!("<msg>")`: the component traps | none |
//!
//! The probe declares `http://127.0.0.1:*`, `http://*:*` and `https://*:*` (so the agent's
//! grant alone decides what it reaches) and the secrets `TOKEN` and `OTHER`.
//!
//! Any status code is recorded (no `http-status` error); a transport failure stops the run
//! with the SDK's error (`http-denied`, `http-connect`, `http-timeout`, ...). An unknown
//! action is an `invalid-input` error. Output: `{"results": [...]}`.

use std::time::{Instant, SystemTime};

use runproof_sdk::prelude::*;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    actions: Vec<String>,
}

#[derive(Serialize)]
struct Output {
    results: Vec<Value>,
}

struct Probe;

impl Skill for Probe {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        SkillInfo::new(
            "probe",
            env!("CARGO_PKG_VERSION"),
            "Test fixture: runs actions (log, clocks, random, stdio, http, fail, panic) in order.",
        )
        .outbound_host("http://127.0.0.1:*")
        .outbound_host("http://*:*")
        .outbound_host("https://*:*")
        .secret("TOKEN")
        .secret("OTHER")
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        let mut state = State::default();
        let mut results = Vec::with_capacity(input.actions.len());
        for (index, action) in input.actions.iter().enumerate() {
            results.push(run(&mut state, action).map_err(|mut e| {
                if e.code == "invalid-input" {
                    e.message = format!("action {index} ({action:?}): {}", e.message);
                }
                e
            })?);
        }
        Ok(Output { results })
    }
}

/// What actions of one invocation share.
#[derive(Default)]
struct State {
    /// The reading of the first `monotonic_clock` action.
    first_instant: Option<Instant>,
}

fn run(state: &mut State, action: &str) -> Result<Value, SkillError> {
    let (kind, arg) = match action.split_once(':') {
        Some((kind, arg)) => (kind, Some(arg)),
        None => (action, None),
    };
    let value = match (kind, arg) {
        ("log", Some(msg)) => {
            log::info(msg);
            json!({ "log": msg })
        }
        ("wall_clock", None) => {
            let since_epoch = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_err(|e| {
                    SkillError::new("probe-clock", format!("wall clock before 1970: {e}"))
                })?;
            json!({ "wall_clock_ns": u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX) })
        }
        ("monotonic_clock", None) => {
            let now = Instant::now();
            let first = *state.first_instant.get_or_insert(now);
            let elapsed = now.duration_since(first).as_nanos();
            json!({
                "monotonic_ns": instant_reading_ns(&now),
                "monotonic_elapsed_ns": u64::try_from(elapsed).unwrap_or(u64::MAX),
            })
        }
        ("random", None) => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes)
                .map_err(|e| SkillError::new("probe-random", format!("getrandom failed: {e}")))?;
            json!({ "random": hex(&bytes) })
        }
        ("stdout", Some(text)) => {
            println!("{text}");
            json!({ "stdout": text })
        }
        ("stderr", Some(text)) => {
            eprintln!("{text}");
            json!({ "stderr": text })
        }
        ("http", Some(url)) => {
            let response = http::get(url)?;
            json!({ "http": url, "status": response.status, "body": response.text() })
        }
        ("request", Some(spec)) => request(spec)?,
        ("fail", Some(msg)) => return Err(SkillError::new("probe-fail", msg)),
        ("panic", Some(msg)) => panic!("{msg}"),
        _ => {
            return Err(SkillError::invalid_input(
                "unknown action; expected log:<msg>, wall_clock, monotonic_clock, random, \
                 stdout:<text>, stderr:<text>, http:<url>, request:<json>, fail:<msg> or panic:<msg>",
            ));
        }
    };
    Ok(value)
}

/// What `request:<json>` sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestSpec {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    follow_redirects: Option<bool>,
}

fn request(spec: &str) -> Result<Value, SkillError> {
    let spec: RequestSpec = serde_json::from_str(spec)
        .map_err(|e| SkillError::invalid_input(format!("request:<json>: {e}")))?;
    let mut req = http::Request::new(spec.method.as_deref().unwrap_or("GET"), &spec.url);
    for (k, v) in &spec.headers {
        req = req.header(k, v);
    }
    if let Some(body) = spec.body {
        req = req.body(body);
    }
    if let Some(ms) = spec.timeout_ms {
        req = req.timeout(std::time::Duration::from_millis(ms));
    }
    if let Some(follow) = spec.follow_redirects {
        req = req.follow_redirects(follow);
    }
    let response = req.send()?;
    Ok(json!({
        "request": spec.url,
        "status": response.status,
        "headers": response.headers,
        "body": response.text(),
    }))
}

/// The raw wasi:clocks/monotonic-clock reading behind `instant`, in nanoseconds, or `None`
/// if std's `Debug` output is not the `Instant { tv_sec: S, tv_nsec: N }` it is today
/// (`Instant` is opaque; on wasm32-wasip2 it is the clock's reading as a timespec).
fn instant_reading_ns(instant: &Instant) -> Option<u64> {
    let text = format!("{instant:?}");
    let field = |name: &str| -> Option<u64> {
        let start = text.find(name)? + name.len();
        let digits: String = text[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let secs = field("tv_sec: ")?;
    let nanos = field("tv_nsec: ")?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

runproof_sdk::export_skill!(Probe);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }

    #[test]
    fn pure_actions() {
        assert_eq!(
            run(&mut State::default(), "log:hi").unwrap(),
            json!({"log": "hi"})
        );
        assert_eq!(
            run(&mut State::default(), "log:a:b").unwrap(),
            json!({"log": "a:b"})
        );
        assert_eq!(
            run(&mut State::default(), "stdout:x").unwrap(),
            json!({"stdout": "x"})
        );
        assert!(
            run(&mut State::default(), "wall_clock").unwrap()["wall_clock_ns"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(
            run(&mut State::default(), "random").unwrap()["random"]
                .as_str()
                .unwrap()
                .len(),
            16
        );
        let err = run(&mut State::default(), "fail:boom").unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("probe-fail", "boom")
        );
        assert_eq!(
            run(&mut State::default(), "nope").unwrap_err().code,
            "invalid-input"
        );
        assert_eq!(
            run(&mut State::default(), "wall_clock:x").unwrap_err().code,
            "invalid-input"
        );
    }
}
