//! Outbound HTTP, performed by the host.
//!
//! One buffered request goes out and one buffered response comes back, so the whole
//! exchange is recorded as one trace step. The host only contacts destinations granted to
//! the skill (see [`SkillInfo::outbound_host`](crate::SkillInfo::outbound_host)); anything
//! else fails with [`Error::Denied`], and the refusal is recorded too.
//!
//! ```no_run
//! use std::time::Duration;
//! use runproof_sdk::http;
//!
//! # fn main() -> Result<(), runproof_sdk::SkillError> {
//! // Shortcuts.
//! let page = http::get("https://api.example.com/items")?;
//! println!("{} {}", page.status, page.text());
//!
//! // The builder.
//! #[derive(serde::Serialize)]
//! struct NewItem<'a> { name: &'a str }
//! #[derive(serde::Deserialize)]
//! struct Created { id: u64 }
//!
//! let response = http::Request::post("https://api.example.com/items")
//!     .header("accept", "application/json")
//!     .json(&NewItem { name: "x" }) // also sets `content-type: application/json`
//!     .timeout(Duration::from_secs(10))
//!     .follow_redirects(false)
//!     .send()?;
//! let created: Created = response.json()?;
//! # let _ = created.id;
//! # Ok(())
//! # }
//! ```
//!
//! A response with a 4xx or 5xx status is still an `Ok(Response)`: check
//! [`Response::status`] (or [`Response::is_success`]) yourself.
//!
//! Outside a component (native builds, e.g. unit tests) every request fails with
//! [`Error::Other`].

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// An HTTP request, built with chained calls and sent with [`Request::send`].
///
/// Defaults: no headers, no body, no timeout of its own (the host still caps every request
/// at the invocation's deadline), redirects followed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a request does nothing until `.send()` is called"]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
    follow_redirects: bool,
    /// `.json()` was used: add `content-type: application/json` unless one is set.
    json: bool,
    /// A problem found while building (e.g. `.json()` could not serialize), reported by
    /// `.send()` so the builder chain stays infallible.
    build_error: Option<String>,
}

impl Request {
    /// A request with any method (`"GET"`, `"PROPFIND"`, ...).
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            follow_redirects: true,
            json: false,
            build_error: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Request::new("PUT", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Request::new("DELETE", url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Request::new("PATCH", url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl Into<String>) -> Self {
        Request::new("HEAD", url)
    }

    /// Adds a header. Headers are sent in the order added; adding a name twice sends it
    /// twice.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.json = false;
        self
    }

    /// Sets the body to `value` serialized as JSON, and the `content-type` header to
    /// `application/json` unless one is set (before or after this call). If `value` cannot
    /// be serialized, [`send`](Request::send) fails with [`Error::InvalidRequest`].
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Some(body);
                self.json = true;
            }
            Err(e) => self.build_error = Some(format!("could not serialize the JSON body: {e}")),
        }
        self
    }

    /// Gives up on this request after `timeout`. The host caps it at the invocation's
    /// deadline. Rounded up to whole milliseconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the host follows 3xx redirects (default `true`); each hop is checked
    /// against the granted hosts.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// The method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers added so far (without the implicit JSON `content-type`).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Sends the request through the host and waits for the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let request = self.into_wit()?;
        imp::send(request)
    }

    /// The request as the WIT record, with the implicit headers added.
    fn into_wit(self) -> Result<wit::Request, Error> {
        if let Some(e) = self.build_error {
            return Err(Error::InvalidRequest(e));
        }
        let mut headers = self.headers;
        if self.json && find_header(&headers, "content-type").is_none() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        Ok(wit::Request {
            method: self.method,
            url: self.url,
            headers,
            body: self.body,
            timeout_ms: self.timeout.map(duration_to_ms),
            follow_redirects: self.follow_redirects,
        })
    }
}

/// Whole milliseconds, rounded up (so a non-zero timeout never becomes 0), saturating at
/// `u32::MAX` (about 49 days).
fn duration_to_ms(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// Headers in the order received; names as the host reports them.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text; invalid UTF-8 sequences become `U+FFFD`.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON. The error converts into a
    /// [`SkillError`](crate::SkillError) with code `invalid-json` through `?`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The first value of the header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of the header `name` (e.g. `set-cookie`), compared case-insensitively.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why the host could not complete a request: the WIT `http-error` variant, case for case.
///
/// Its [`code`](Error::code) is `http-` followed by the WIT case name (`denied` gives
/// `http-denied`, `other` gives `http-other`): the same name the runtime records in the
/// request's `host.http` step (`"error": {"code": "other", ...}`), so a run's error and its
/// trace say the same word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The destination is not granted to this skill by the agent's policy.
    Denied(String),
    /// The request could not be built (bad URL, bad method or header).
    InvalidRequest(String),
    /// DNS, connect or TLS failure.
    Connect(String),
    /// The request did not finish in time.
    Timeout(String),
    /// A size cap was hit.
    TooLarge(String),
    /// Any other transport failure.
    Other(String),
}

/// The one table of the cases: each variant with its WIT case name. The code a skill sees
/// is made from the name by one rule (`http-` + name), so no code is written twice.
macro_rules! cases {
    ($($variant:ident => $name:literal),* $(,)?) => {
        impl Error {
            /// The WIT case names, in the WIT's order.
            #[cfg(test)]
            const CASE_NAMES: &'static [&'static str] = &[$($name),*];

            /// The name of this case in the WIT `http-error` variant (`denied`, ...,
            /// `other`): what the runtime records in the trace.
            pub fn case_name(&self) -> &'static str {
                match self {
                    $(Error::$variant(_) => $name,)*
                }
            }

            /// The [`SkillError`](crate::SkillError) code this error converts to: `http-`
            /// and the [`case_name`](Error::case_name), i.e. `http-denied`,
            /// `http-invalid-request`, `http-connect`, `http-timeout`, `http-too-large` or
            /// `http-other`.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Error::$variant(_) => concat!("http-", $name),)*
                }
            }

            /// The host's message.
            pub fn message(&self) -> &str {
                match self {
                    $(Error::$variant(m))|* => m,
                }
            }
        }

        impl From<wit::HttpError> for Error {
            fn from(e: wit::HttpError) -> Self {
                match e {
                    $(wit::HttpError::$variant(m) => Error::$variant(m),)*
                }
            }
        }
    };
}

cases! {
    Denied => "denied",
    InvalidRequest => "invalid-request",
    Connect => "connect",
    Timeout => "timeout",
    TooLarge => "too-large",
    Other => "other",
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Error::Denied(_) => "HTTP request denied",
            Error::InvalidRequest(_) => "invalid HTTP request",
            Error::Connect(_) => "HTTP connection failed",
            Error::Timeout(_) => "HTTP request timed out",
            Error::TooLarge(_) => "HTTP size limit exceeded",
            Error::Other(_) => "HTTP request failed",
        };
        write!(f, "{what}: {}", self.message())
    }
}

impl std::error::Error for Error {}

impl From<wit::Response> for Response {
    fn from(r: wit::Response) -> Self {
        Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

/// Sends `request`; the same as `request.send()`.
pub fn send(request: Request) -> Result<Response, Error> {
    request.send()
}

/// `GET url`.
pub fn get(url: impl Into<String>) -> Result<Response, Error> {
    Request::get(url).send()
}

/// `POST url` with `body` (no `content-type`; use [`Request::post`] with
/// [`Request::header`] or [`Request::json`] to set one).
pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Result<Response, Error> {
    Request::post(url).body(body).send()
}

use crate::bindings::runproof::skill::http as wit;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Error, Response, wit};

    pub(super) fn send(request: wit::Request) -> Result<Response, Error> {
        wit::send(&request).map(Response::from).map_err(Error::from)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Error, Response, wit};

    pub(super) fn send(request: wit::Request) -> Result<Response, Error> {
        Err(Error::Other(format!(
            "{} {}: outbound HTTP is only available inside a RunProof component (wasm32-wasip2)",
            request.method, request.url
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_defaults() {
        let r = Request::get("http://a/").into_wit().unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.url, "http://a/");
        assert!(r.headers.is_empty());
        assert_eq!(r.body, None);
        assert_eq!(r.timeout_ms, None);
        assert!(r.follow_redirects);
    }

    #[test]
    fn builder_methods() {
        for (r, m) in [
            (Request::get("u"), "GET"),
            (Request::post("u"), "POST"),
            (Request::put("u"), "PUT"),
            (Request::delete("u"), "DELETE"),
            (Request::patch("u"), "PATCH"),
            (Request::head("u"), "HEAD"),
            (Request::new("PROPFIND", "u"), "PROPFIND"),
        ] {
            assert_eq!(r.method(), m);
            assert_eq!(r.url(), "u");
        }
    }

    #[test]
    fn builder_everything() {
        let r = Request::put("http://a/x")
            .header("x-one", "1")
            .header("X-One", "2")
            .body("hello")
            .timeout(Duration::from_millis(1500))
            .follow_redirects(false)
            .into_wit()
            .unwrap();
        assert_eq!(
            r.headers,
            vec![("x-one".into(), "1".into()), ("X-One".into(), "2".into())]
        );
        assert_eq!(r.body.as_deref(), Some(&b"hello"[..]));
        assert_eq!(r.timeout_ms, Some(1500));
        assert!(!r.follow_redirects);
    }

    #[test]
    fn json_sets_content_type_unless_present() {
        let r = Request::post("u")
            .json(&serde_json::json!({"a": 1}))
            .into_wit()
            .unwrap();
        assert_eq!(r.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(
            r.headers,
            vec![("content-type".into(), "application/json".into())]
        );

        // Set before or after `.json()`: kept, not duplicated.
        for r in [
            Request::post("u")
                .header("Content-Type", "application/vnd.x+json")
                .json(&[1, 2]),
            Request::post("u")
                .json(&[1, 2])
                .header("Content-Type", "application/vnd.x+json"),
        ] {
            let r = r.into_wit().unwrap();
            assert_eq!(
                r.headers,
                vec![("Content-Type".into(), "application/vnd.x+json".into())]
            );
        }

        // A later `.body()` replaces the JSON body and its implicit content-type.
        let r = Request::post("u").json(&1).body("raw").into_wit().unwrap();
        assert!(r.headers.is_empty());
        assert_eq!(r.body.as_deref(), Some(&b"raw"[..]));
    }

    #[test]
    fn json_serialization_error_is_reported_on_send() {
        use std::collections::HashMap;
        // Maps with non-string keys cannot be JSON.
        let bad: HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        let err = Request::post("u").json(&bad).send().unwrap_err();
        assert_eq!(err.code(), "http-invalid-request");
        assert!(err.message().contains("JSON body"), "{err}");
    }

    #[test]
    fn timeout_rounding() {
        assert_eq!(duration_to_ms(Duration::ZERO), 0);
        assert_eq!(duration_to_ms(Duration::from_micros(1)), 1);
        assert_eq!(duration_to_ms(Duration::from_micros(1500)), 2);
        assert_eq!(duration_to_ms(Duration::from_secs(30)), 30_000);
        assert_eq!(duration_to_ms(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    fn response() -> Response {
        Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("set-cookie".into(), "a=1".into()),
                ("Set-Cookie".into(), "b=2".into()),
            ],
            body: br#"{"ok":true}"#.to_vec(),
        }
    }

    #[test]
    fn response_header_lookup_is_case_insensitive() {
        let r = response();
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(r.header("set-cookie"), Some("a=1"));
        assert_eq!(
            r.header_all("SET-COOKIE").collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(r.header("x-missing"), None);
    }

    #[test]
    fn response_body_helpers() {
        let r = response();
        assert!(r.is_success());
        assert_eq!(r.text(), r#"{"ok":true}"#);
        #[derive(serde::Deserialize)]
        struct Ok_ {
            ok: bool,
        }
        assert!(r.json::<Ok_>().unwrap().ok);
        assert!(r.json::<Vec<u8>>().is_err());

        let lossy = Response {
            status: 500,
            headers: vec![],
            body: vec![b'a', 0xff, b'b'],
        };
        assert!(!lossy.is_success());
        assert_eq!(lossy.text(), "a\u{fffd}b");
    }

    #[test]
    fn error_mapping_from_wit() {
        let cases = [
            (
                wit::HttpError::Denied("d".into()),
                Error::Denied("d".into()),
            ),
            (
                wit::HttpError::InvalidRequest("i".into()),
                Error::InvalidRequest("i".into()),
            ),
            (
                wit::HttpError::Connect("c".into()),
                Error::Connect("c".into()),
            ),
            (
                wit::HttpError::Timeout("t".into()),
                Error::Timeout("t".into()),
            ),
            (
                wit::HttpError::TooLarge("l".into()),
                Error::TooLarge("l".into()),
            ),
            (wit::HttpError::Other("o".into()), Error::Other("o".into())),
        ];
        for (w, e) in cases {
            assert_eq!(Error::from(w), e);
        }
        assert_eq!(
            Error::Denied("http://evil:80 is not granted".into()).to_string(),
            "HTTP request denied: http://evil:80 is not granted"
        );
    }

    /// The case names of `variant http-error` in `wit/skill.wit`, in order.
    fn wit_case_names() -> Vec<String> {
        let wit = include_str!("../wit/skill.wit");
        let start = wit
            .find("variant http-error {")
            .expect("the WIT has http-error");
        let body = &wit[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .map(|l| l.split(['(', ',']).next().unwrap().trim().to_string())
            .collect()
    }

    #[test]
    fn codes_are_http_and_the_wit_case_name() {
        assert_eq!(Error::CASE_NAMES, wit_case_names());
        let all = [
            Error::Denied(String::new()),
            Error::InvalidRequest(String::new()),
            Error::Connect(String::new()),
            Error::Timeout(String::new()),
            Error::TooLarge(String::new()),
            Error::Other(String::new()),
        ];
        let names: Vec<&str> = all.iter().map(Error::case_name).collect();
        assert_eq!(names, Error::CASE_NAMES);
        for e in &all {
            assert_eq!(e.code(), format!("http-{}", e.case_name()));
        }
        assert_eq!(Error::Other("eof".into()).code(), "http-other");
    }

    #[test]
    fn native_send_fails_cleanly() {
        let err = get("http://127.0.0.1:1/").unwrap_err();
        assert_eq!(err.code(), "http-other");
        assert!(err.message().contains("GET http://127.0.0.1:1/"), "{err}");
    }
}
