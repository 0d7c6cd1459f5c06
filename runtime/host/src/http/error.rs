//! Why an exchange failed, in the WIT's own words. The host's error *is* the `http-error`
//! value a skill receives ([`HttpError`], generated from `sdk/wit/skill.wit`), so the host
//! keeps no copy of that vocabulary; next to it, a typed [`Cause`] where the WIT case is
//! coarser than an interface with finer codes needs (standard `wasi:http` tells a body cap
//! from a header cap, and a bad method from a bad URL; `runproof:skill/http` does not).
//!
//! One code table, [`code`]: the WIT case names. A `host.http` step records them
//! ([`OutboundError::to_json`]), a replay reads them back ([`from_code`]), and the SDK gives
//! a skill `http-` + the same name (`sdk/src/http.rs`).

use serde_json::Value;
use std::mem::discriminant;

pub use crate::bindings::runproof::skill::http::HttpError;

/// Every case of the WIT variant, in the WIT's order, so a recorded code is read back
/// through [`code`] rather than a second table (`the_code_table_is_the_wit` holds both to
/// `sdk/wit/skill.wit`).
const CASES: [fn(String) -> HttpError; 6] = [
    HttpError::Denied,
    HttpError::InvalidRequest,
    HttpError::Connect,
    HttpError::Timeout,
    HttpError::TooLarge,
    HttpError::Other,
];

/// The code of a case: its name in the WIT. What a `host.http` step records.
pub fn code(e: &HttpError) -> &'static str {
    match e {
        HttpError::Denied(_) => "denied",
        HttpError::InvalidRequest(_) => "invalid-request",
        HttpError::Connect(_) => "connect",
        HttpError::Timeout(_) => "timeout",
        HttpError::TooLarge(_) => "too-large",
        HttpError::Other(_) => "other",
    }
}

/// The case whose [`code`] is `name`, carrying `message`; `None` for a name the WIT does
/// not have.
pub fn from_code(name: &str, message: String) -> Option<HttpError> {
    CASES
        .iter()
        .find(|case| code(&case(String::new())) == name)
        .map(|case| case(message))
}

fn message_mut(e: &mut HttpError) -> &mut String {
    match e {
        HttpError::Denied(m)
        | HttpError::InvalidRequest(m)
        | HttpError::Connect(m)
        | HttpError::Timeout(m)
        | HttpError::TooLarge(m)
        | HttpError::Other(m) => m,
    }
}

/// What exactly went wrong, where one WIT case covers several things. Each cause refines
/// exactly one case ([`Cause::error`] builds the error in that case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `invalid-request`: not an HTTP method.
    Method,
    /// `invalid-request`: the URL does not parse, or carries a user or password.
    Url,
    /// `connect`: the name did not resolve, or resolved to no address.
    Dns,
    /// `connect`: the TLS handshake failed.
    Tls,
    /// `too-large`: the URL (`max_url_bytes`).
    UrlSize,
    /// `too-large`: the request body (`max_request_body`).
    RequestBody,
    /// `too-large`: the request headers, their number or bytes (`max_headers`,
    /// `max_header_bytes`).
    RequestHeaders,
    /// `too-large`: the response head, its headers' number or bytes (`max_headers`,
    /// `max_header_bytes`).
    ResponseHead,
    /// `too-large`: the response body (`max_response_body`).
    ResponseBody,
    /// `too-large`: the redirects followed (`max_redirects`).
    Redirects,
}

impl Cause {
    const ALL: [Cause; 10] = [
        Cause::Method,
        Cause::Url,
        Cause::Dns,
        Cause::Tls,
        Cause::UrlSize,
        Cause::RequestBody,
        Cause::RequestHeaders,
        Cause::ResponseHead,
        Cause::ResponseBody,
        Cause::Redirects,
    ];

    /// The word a step records (`"cause"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Method => "method",
            Cause::Url => "url",
            Cause::Dns => "dns",
            Cause::Tls => "tls",
            Cause::UrlSize => "url-size",
            Cause::RequestBody => "request-body",
            Cause::RequestHeaders => "request-headers",
            Cause::ResponseHead => "response-head",
            Cause::ResponseBody => "response-body",
            Cause::Redirects => "redirects",
        }
    }

    pub fn parse(word: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == word)
    }

    /// The WIT case this cause refines.
    fn case(self) -> fn(String) -> HttpError {
        match self {
            Cause::Method | Cause::Url => HttpError::InvalidRequest,
            Cause::Dns | Cause::Tls => HttpError::Connect,
            Cause::UrlSize
            | Cause::RequestBody
            | Cause::RequestHeaders
            | Cause::ResponseHead
            | Cause::ResponseBody
            | Cause::Redirects => HttpError::TooLarge,
        }
    }

    fn refines(self, e: &HttpError) -> bool {
        discriminant(&self.case()(String::new())) == discriminant(e)
    }

    /// The error of this cause, in the case it refines.
    pub fn error(self, message: String) -> OutboundError {
        OutboundError {
            error: self.case()(message),
            cause: Some(self),
        }
    }
}

/// Why an exchange failed: the WIT error the skill receives, and its cause when the case
/// has finer ones. Built from an [`HttpError`] (no finer cause) or by [`Cause::error`], so a
/// cause always refines its case.
#[derive(Debug, Clone)]
pub struct OutboundError {
    error: HttpError,
    cause: Option<Cause>,
}

impl From<HttpError> for OutboundError {
    fn from(error: HttpError) -> Self {
        OutboundError { error, cause: None }
    }
}

impl PartialEq for OutboundError {
    fn eq(&self, other: &Self) -> bool {
        (self.code(), self.message(), self.cause) == (other.code(), other.message(), other.cause)
    }
}

impl Eq for OutboundError {}

impl OutboundError {
    /// `error` with `cause`, when the cause refines that case (how a recorded error is read
    /// back); `None` when it does not.
    pub fn with_cause(error: HttpError, cause: Option<Cause>) -> Option<Self> {
        match cause {
            Some(c) if !c.refines(&error) => None,
            _ => Some(OutboundError { error, cause }),
        }
    }

    /// The WIT case name (`denied`, `too-large`, ...).
    pub fn code(&self) -> &'static str {
        code(&self.error)
    }

    pub fn message(&self) -> &str {
        match &self.error {
            HttpError::Denied(m)
            | HttpError::InvalidRequest(m)
            | HttpError::Connect(m)
            | HttpError::Timeout(m)
            | HttpError::TooLarge(m)
            | HttpError::Other(m) => m,
        }
    }

    pub fn cause(&self) -> Option<Cause> {
        self.cause
    }

    pub fn wit(&self) -> &HttpError {
        &self.error
    }

    /// What `runproof:skill/http` hands the skill.
    pub fn into_wit(self) -> HttpError {
        self.error
    }

    /// The same error with its message rewritten (redacted, capped, prefixed with a hop).
    pub(crate) fn map_message(mut self, f: impl Fn(&str) -> String) -> Self {
        let m = message_mut(&mut self.error);
        *m = f(m);
        self
    }

    /// The `error` object of a `host.http` step: `{"code", "cause", "message"}`, `cause`
    /// `null` when the case has no finer one. Always present, so a step without it is one
    /// recorded before causes were (`recorded.rs` reads those).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "code": self.code(),
            "cause": self.cause.map(Cause::as_str),
            "message": self.message(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case names of `variant http-error` in the WIT file, in order.
    fn wit_case_names() -> Vec<String> {
        let wit = include_str!("../../../../sdk/wit/skill.wit");
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
    fn the_code_table_is_the_wit() {
        let codes: Vec<&str> = CASES.iter().map(|c| code(&c(String::new()))).collect();
        assert_eq!(codes, wit_case_names());
        for name in &codes {
            let e = from_code(name, "m".into()).unwrap();
            assert_eq!((code(&e), OutboundError::from(e).message()), (*name, "m"));
        }
        assert!(from_code("error", String::new()).is_none());
    }

    #[test]
    fn a_cause_refines_one_case_and_reads_back() {
        for c in Cause::ALL {
            assert_eq!(Cause::parse(c.as_str()), Some(c));
            let e = c.error("m".into());
            assert_eq!(e.cause(), Some(c));
            let refined: Vec<&str> = CASES
                .iter()
                .map(|case| case(String::new()))
                .filter(|e| c.refines(e))
                .map(|e| code(&e))
                .collect();
            assert_eq!(refined, [e.code()], "{c:?}");
        }
        assert_eq!(Cause::ResponseBody.error("m".into()).code(), "too-large");
        assert!(
            OutboundError::with_cause(HttpError::Denied("m".into()), Some(Cause::Tls)).is_none()
        );
        assert!(
            OutboundError::with_cause(HttpError::Connect("m".into()), Some(Cause::Tls)).is_some()
        );
    }

    #[test]
    fn a_step_records_code_cause_and_message() {
        let e = Cause::Redirects.error("more than 10 redirects (max_redirects)".into());
        assert_eq!(
            e.to_json(),
            serde_json::json!({"code": "too-large", "cause": "redirects", "message": "more than 10 redirects (max_redirects)"})
        );
        let d = OutboundError::from(HttpError::Denied("no".into()));
        assert_eq!(d.to_json()["cause"], Value::Null);
        assert_eq!(
            d.map_message(|m| format!("hop 1: {m}")).message(),
            "hop 1: no"
        );
    }
}
