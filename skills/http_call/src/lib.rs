//! `http_call`: one HTTP request through the host.
//!
//! Input (unknown fields are rejected so that typos fail loudly):
//!
//! ```json
//! {
//!   "url": "https://api.example.com/items",
//!   "method": "POST",                       // optional, default "GET"
//!   "headers": {"accept": "application/json"}, // optional
//!   "body": {"name": "x"},                  // optional: a string is sent as is, any other
//!                                           // JSON value is serialized (and content-type
//!                                           // defaults to application/json)
//!   "timeout_seconds": 30,                  // optional, default 30
//!   "follow_redirects": true                // optional, default true
//! }
//! ```
//!
//! Output:
//!
//! ```json
//! {"status_code": 200, "response_body": "...", "response_headers": {"content-type": "..."}, "attempts": 1}
//! ```
//!
//! `response_body` is the body as lossy UTF-8. Header names are lower-cased; repeated
//! headers are joined with `", "`. A status of 400 or more fails with the error code
//! `http-status`; transport failures fail with the SDK's `http-*` codes. The skill sends
//! exactly one request (`attempts` is always 1): retries belong to the runner, where they
//! are recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use runproof_sdk::prelude::*;
use serde_json::Value;

const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    timeout_seconds: Option<f64>,
    #[serde(default)]
    follow_redirects: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Output {
    status_code: u16,
    response_body: String,
    response_headers: BTreeMap<String, String>,
    attempts: u32,
}

/// The validated request, before it becomes an SDK [`http::Request`].
#[derive(Debug, PartialEq)]
struct Plan {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
    follow_redirects: bool,
}

fn plan(input: Input) -> Result<Plan, SkillError> {
    if input.url.trim().is_empty() {
        return Err(SkillError::invalid_input("`url` must not be empty"));
    }
    let method = input
        .method
        .as_deref()
        .unwrap_or("GET")
        .trim()
        .to_ascii_uppercase();
    if method.is_empty() {
        return Err(SkillError::invalid_input("`method` must not be empty"));
    }

    let mut headers: Vec<(String, String)> =
        input.headers.unwrap_or_default().into_iter().collect();
    let has_content_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));

    let body = match input.body {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.into_bytes()),
        Some(other) => {
            if !has_content_type {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
            }
            Some(serde_json::to_vec(&other).map_err(|e| {
                SkillError::invalid_input(format!("`body` could not be serialized: {e}"))
            })?)
        }
    };

    let seconds = input.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(SkillError::invalid_input(format!(
            "`timeout_seconds` must be a positive number, got {seconds}"
        )));
    }
    let timeout = Duration::try_from_secs_f64(seconds).map_err(|e| {
        SkillError::invalid_input(format!("`timeout_seconds` is out of range: {e}"))
    })?;

    Ok(Plan {
        method,
        url: input.url,
        headers,
        body,
        timeout,
        follow_redirects: input.follow_redirects.unwrap_or(true),
    })
}

impl Plan {
    fn into_request(self) -> http::Request {
        let mut request = http::Request::new(self.method, self.url)
            .timeout(self.timeout)
            .follow_redirects(self.follow_redirects);
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        request
    }
}

/// Lower-cased names; repeated headers joined with ", ".
fn collect_headers(headers: Vec<(String, String)>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        out.entry(name.to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

fn output(method: &str, url: &str, response: http::Response) -> Result<Output, SkillError> {
    if response.status >= 400 {
        return Err(SkillError::new(
            "http-status",
            format!("{method} {url} returned HTTP {}", response.status),
        ));
    }
    Ok(Output {
        status_code: response.status,
        response_body: response.text(),
        response_headers: collect_headers(response.headers),
        attempts: 1,
    })
}

struct HttpCall;

impl Skill for HttpCall {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        SkillInfo::new(
            "http_call",
            env!("CARGO_PKG_VERSION"),
            "Sends one HTTP request (method, url, headers, body) and returns the status code, \
             body and headers. Fails on HTTP status >= 400. No retries.",
        )
        // Any destination: what is actually reachable is decided by the agent's policy.
        .outbound_host("http://*:*")
        .outbound_host("https://*:*")
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        let plan = plan(input)?;
        let (method, url) = (plan.method.clone(), plan.url.clone());
        log::info(format!("{method} {url}"));
        let response = plan.into_request().send()?;
        output(&method, &url, response)
    }
}

runproof_sdk::export_skill!(HttpCall);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> Result<Input, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults() {
        let p = plan(input(r#"{"url": "http://127.0.0.1:8080/x"}"#).unwrap()).unwrap();
        assert_eq!(
            p,
            Plan {
                method: "GET".into(),
                url: "http://127.0.0.1:8080/x".into(),
                headers: vec![],
                body: None,
                timeout: Duration::from_secs(30),
                follow_redirects: true,
            }
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = input(r#"{"url": "http://a/", "heders": {}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `heders`"), "{err}");
        assert!(input(r#"{"method": "GET"}"#).is_err(), "url is required");
    }

    #[test]
    fn string_body_is_sent_as_is() {
        let p = plan(
            input(r#"{"url": "u", "method": "post", "body": "a=1", "headers": {"Content-Type": "text/plain"}}"#)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(p.method, "POST");
        assert_eq!(p.body.as_deref(), Some(&b"a=1"[..]));
        assert_eq!(
            p.headers,
            vec![("Content-Type".into(), "text/plain".into())]
        );
    }

    #[test]
    fn json_body_is_serialized_with_content_type() {
        let p = plan(input(r#"{"url": "u", "method": "PUT", "body": {"a": [1, 2]}}"#).unwrap())
            .unwrap();
        assert_eq!(p.body.as_deref(), Some(&br#"{"a":[1,2]}"#[..]));
        assert_eq!(
            p.headers,
            vec![("content-type".into(), "application/json".into())]
        );

        let p = plan(
            input(
                r#"{"url": "u", "body": [1], "headers": {"CONTENT-TYPE": "application/x+json"}}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            p.headers,
            vec![("CONTENT-TYPE".into(), "application/x+json".into())]
        );

        let p = plan(input(r#"{"url": "u", "body": null}"#).unwrap()).unwrap();
        assert_eq!(p.body, None);
    }

    #[test]
    fn timeout_and_redirects() {
        let p = plan(
            input(r#"{"url": "u", "timeout_seconds": 1.5, "follow_redirects": false}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(p.timeout, Duration::from_millis(1500));
        assert!(!p.follow_redirects);

        for bad in ["0", "-1", "1e300"] {
            let json = format!(r#"{{"url": "u", "timeout_seconds": {bad}}}"#);
            let err = plan(input(&json).unwrap()).unwrap_err();
            assert_eq!(err.code, "invalid-input", "{bad}");
            assert!(err.message.contains("timeout_seconds"), "{}", err.message);
        }
    }

    #[test]
    fn empty_url_or_method_is_invalid() {
        assert_eq!(
            plan(input(r#"{"url": " "}"#).unwrap()).unwrap_err().code,
            "invalid-input"
        );
        assert_eq!(
            plan(input(r#"{"url": "u", "method": ""}"#).unwrap())
                .unwrap_err()
                .code,
            "invalid-input"
        );
    }

    #[test]
    fn status_mapping() {
        let resp = |status| http::Response {
            status,
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Vary".into(), "a".into()),
                ("vary".into(), "b".into()),
            ],
            body: vec![b'o', b'k', 0xff],
        };
        let out = output("GET", "http://a/", resp(200)).unwrap();
        assert_eq!(out.status_code, 200);
        assert_eq!(out.response_body, "ok\u{fffd}");
        assert_eq!(out.attempts, 1);
        assert_eq!(out.response_headers["content-type"], "text/plain");
        assert_eq!(out.response_headers["vary"], "a, b");

        let out = output("GET", "http://a/", resp(399)).unwrap();
        assert_eq!(out.status_code, 399);

        let err = output("GET", "http://a/", resp(500)).unwrap_err();
        assert_eq!(err.code, "http-status");
        assert_eq!(err.message, "GET http://a/ returned HTTP 500");
    }

    #[test]
    fn transport_errors_map_to_sdk_codes() {
        // Natively the SDK's http fails with `http-other`; inside a component the host's
        // variant decides the code (`http-denied`, `http-connect`, `http-timeout`, ...).
        let err = runproof_sdk::testing::invoke::<HttpCall>(r#"{"url": "http://127.0.0.1:1/"}"#)
            .unwrap_err();
        assert_eq!(err.code, "http-other");
        let err = runproof_sdk::testing::invoke::<HttpCall>(r#"{"url": "http://a/", "x": 1}"#)
            .unwrap_err();
        assert_eq!(err.code, "invalid-input");
    }
}
