//! `probe_wasi_http`: the probe's HTTP actions over standard `wasi:http/outgoing-handler`
//! (the `wasi` crate, WASI 0.2.x) instead of `runproof:skill/http`. The end-to-end network
//! suite runs every SSRF, redirect and secret test through both.
//!
//! Input: `{"actions": [...]}` with `log:<msg>`, `http:<url>` and `request:<json>` as in the
//! probe (`{"method", "url", "headers", "body", "timeout_ms", "follow_redirects"}`). Like
//! any `wasi:http` client, it follows redirects itself (at most 10, when
//! `follow_redirects` is not false): each hop is a new request the host checks from
//! scratch. Output: `{"results": [{"request": url, "status", "headers", "body"}, ...]}`.
//!
//! Errors: `HTTP-request-denied` becomes the SDK's code `http-denied`; DNS and connection
//! failures `http-connect`; timeouts `http-timeout`; size limits `http-too-large`; anything
//! else `http-other`. The message names the standard error code.

use runproof_sdk::prelude::*;
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    actions: Vec<String>,
}

#[derive(Serialize)]
struct Output {
    results: Vec<Value>,
}

struct ProbeWasiHttp;

impl Skill for ProbeWasiHttp {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        SkillInfo::new(
            "probe_wasi_http",
            env!("CARGO_PKG_VERSION"),
            "Test fixture: the probe's HTTP actions over standard wasi:http.",
        )
        .outbound_host("http://127.0.0.1:*")
        .outbound_host("http://*:*")
        .outbound_host("https://*:*")
        .secret("TOKEN")
        .secret("OTHER")
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        let mut results = Vec::with_capacity(input.actions.len());
        for action in &input.actions {
            let value = match action.split_once(':') {
                Some(("log", msg)) => {
                    log::info(msg);
                    json!({ "log": msg })
                }
                Some(("http", url)) => {
                    let spec = RequestSpec {
                        url: url.to_string(),
                        ..RequestSpec::default()
                    };
                    let (status, _, body) = fetch(&spec)?;
                    json!({ "http": url, "status": status, "body": String::from_utf8_lossy(&body) })
                }
                Some(("request", spec)) => {
                    let spec: RequestSpec = serde_json::from_str(spec)
                        .map_err(|e| SkillError::invalid_input(format!("request:<json>: {e}")))?;
                    let (status, headers, body) = fetch(&spec)?;
                    json!({
                        "request": spec.url,
                        "status": status,
                        "headers": headers,
                        "body": String::from_utf8_lossy(&body),
                    })
                }
                _ => {
                    return Err(SkillError::invalid_input(
                        "unknown action; expected log:<msg>, http:<url> or request:<json>",
                    ));
                }
            };
            results.push(value);
        }
        Ok(Output { results })
    }
}

#[derive(Deserialize, Default)]
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

type Exchange = (u16, Vec<(String, String)>, Vec<u8>);

/// One request, and the redirects after it when asked.
fn fetch(spec: &RequestSpec) -> Result<Exchange, SkillError> {
    let mut url = spec.url.clone();
    let mut method = spec.method.clone().unwrap_or_else(|| "GET".into());
    let mut body = spec.body.clone();
    for _ in 0..=10 {
        let (status, headers, resp_body) = send(
            &method,
            &url,
            &spec.headers,
            body.as_deref(),
            spec.timeout_ms,
        )?;
        let location = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.clone());
        match location {
            Some(loc) if (300..400).contains(&status) && spec.follow_redirects != Some(false) => {
                url = resolve(&url, &loc);
                if status == 303 || ((status == 301 || status == 302) && method == "POST") {
                    method = "GET".into();
                    body = None;
                }
            }
            _ => return Ok((status, headers, resp_body)),
        }
    }
    Err(SkillError::new("http-too-large", "more than 10 redirects"))
}

/// `location` against `base`: absolute URLs as they are, `/path` on the same origin.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}{location}")
}

fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout_ms: Option<u64>,
) -> Result<Exchange, SkillError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| SkillError::invalid_input(format!("not an absolute URL: {url}")))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() { "/" } else { path };

    let fields = Fields::new();
    for (k, v) in headers {
        fields
            .append(k, v.as_bytes())
            .map_err(|e| SkillError::new("http-invalid-request", format!("header {k}: {e:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_string()),
    };
    let invalid =
        |what: &str| SkillError::new("http-invalid-request", format!("invalid {what} in {url}"));
    request.set_method(&method).map_err(|_| invalid("method"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|_| invalid("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|_| invalid("authority"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|_| invalid("path"))?;

    let outgoing_body = request.body().map_err(|_| invalid("body"))?;
    let options = timeout_ms.map(|ms| {
        let o = RequestOptions::new();
        let _ = o.set_first_byte_timeout(Some(ms * 1_000_000));
        o
    });
    let future = outgoing_handler::handle(request, options).map_err(error)?;
    if let Some(text) = body {
        let mut stream = outgoing_body.write().map_err(|_| invalid("body"))?;
        stream
            .write_all(text.as_bytes())
            .map_err(|e| SkillError::new("http-other", format!("writing the body: {e}")))?;
        drop(stream);
    }
    OutgoingBody::finish(outgoing_body, None).map_err(error)?;

    future.subscribe().block();
    let response: IncomingResponse = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(code))) => return Err(error(code)),
        _ => return Err(SkillError::new("http-other", "the response future failed")),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|_| SkillError::new("http-other", "the response body was already taken"))?;
    let mut bytes = Vec::new();
    {
        let mut stream = incoming
            .stream()
            .map_err(|_| SkillError::new("http-other", "no response body stream"))?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| SkillError::new("http-other", format!("reading the body: {e}")))?;
    }
    Ok((status, headers, bytes))
}

/// The SDK's error codes for the standard ones, so a run fails with the same words.
fn error(code: ErrorCode) -> SkillError {
    let kind = match &code {
        ErrorCode::HttpRequestDenied => "http-denied",
        ErrorCode::DnsError(_)
        | ErrorCode::DnsTimeout
        | ErrorCode::ConnectionRefused
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::TlsProtocolError => "http-connect",
        ErrorCode::HttpResponseTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout => "http-timeout",
        ErrorCode::HttpRequestUriTooLong
        | ErrorCode::HttpRequestBodySize(_)
        | ErrorCode::HttpResponseBodySize(_)
        | ErrorCode::HttpRequestHeaderSectionSize(_)
        | ErrorCode::HttpResponseHeaderSectionSize(_)
        | ErrorCode::LoopDetected => "http-too-large",
        _ => "http-other",
    };
    SkillError::new(kind, format!("wasi:http error code {code:?}"))
}

runproof_sdk::export_skill!(ProbeWasiHttp);
