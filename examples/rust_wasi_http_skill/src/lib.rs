//! `json_pointer_wasi_http`: the JSON-pointer skill of the other examples, with its request
//! made over standard `wasi:http/outgoing-handler` (the `wasi` crate) instead of the SDK's
//! `http`. The skill still targets the `runproof:skill` world for `describe`/`invoke`
//! (through the SDK); RunProof polices and records the wasi:http request exactly like one
//! made through `runproof:skill/http`.
//!
//! Input: `{"url": "http://127.0.0.1:8080/doc.json", "pointer": "/a/b/0"}`.
//! Output: `{"value": <the value at the pointer>, "status": <HTTP status>}`.
//!
//! ```sh
//! cargo build --target wasm32-wasip2 --release
//! runtime skill add ../../guest/target/wasm32-wasip2/release/json_pointer_wasi_http.wasm   # in this checkout
//! ```

use runproof_sdk::prelude::*;
use std::io::Read as _;
use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    url: String,
    pointer: String,
}

#[derive(Serialize)]
struct Output {
    value: serde_json::Value,
    status: u16,
}

struct JsonPointer;

impl Skill for JsonPointer {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        SkillInfo::new(
            "json_pointer_wasi_http",
            env!("CARGO_PKG_VERSION"),
            "GETs a JSON document over wasi:http and returns the value at a JSON pointer (Rust)",
        )
        .outbound_host("http://127.0.0.1:*")
        .outbound_host("https://*:*")
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        log::info(format!("GET {} (wasi:http)", input.url));
        let (status, body) = get(&input.url)?;
        if !(200..300).contains(&status) {
            return Err(SkillError::new(
                "http-status",
                format!("{} answered {status}", input.url),
            ));
        }
        let doc: serde_json::Value = serde_json::from_slice(&body)?;
        let value = doc.pointer(&input.pointer).cloned().ok_or_else(|| {
            SkillError::new(
                "not-found",
                format!("{} does not exist in the document", input.pointer),
            )
        })?;
        Ok(Output { value, status })
    }
}

/// One GET over wasi:http: the status and the whole body.
fn get(url: &str) -> Result<(u16, Vec<u8>), SkillError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| SkillError::invalid_input(format!("not an absolute URL: {url}")))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let headers = Fields::new();
    headers
        .append("accept", b"application/json")
        .map_err(|e| SkillError::new("http-invalid-request", format!("{e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let invalid =
        |what: &str| SkillError::new("http-invalid-request", format!("invalid {what} in {url}"));
    request
        .set_method(&Method::Get)
        .map_err(|_| invalid("method"))?;
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => Scheme::Other(other.to_string()),
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|_| invalid("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|_| invalid("authority"))?;
    request
        .set_path_with_query(Some(if path.is_empty() { "/" } else { path }))
        .map_err(|_| invalid("path"))?;
    let body = request.body().map_err(|_| invalid("body"))?;
    let future = outgoing_handler::handle(request, None).map_err(http_error)?;
    OutgoingBody::finish(body, None).map_err(http_error)?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(code))) => return Err(http_error(code)),
        _ => return Err(SkillError::new("http-other", "the response future failed")),
    };
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|_| SkillError::new("http-other", "no response body"))?;
    let mut bytes = Vec::new();
    {
        let mut stream = incoming
            .stream()
            .map_err(|_| SkillError::new("http-other", "no response body stream"))?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| SkillError::new("http-other", format!("reading the body: {e}")))?;
    }
    Ok((status, bytes))
}

/// A standard error code as a skill error. `HTTP-request-denied` is what RunProof answers
/// for a destination the agent's policy does not allow (the reason is in the trace).
fn http_error(code: ErrorCode) -> SkillError {
    let kind = match code {
        ErrorCode::HttpRequestDenied => "http-denied",
        ErrorCode::HttpResponseTimeout => "http-timeout",
        ErrorCode::DnsError(_) | ErrorCode::ConnectionRefused => "http-connect",
        _ => "http-other",
    };
    SkillError::new(kind, format!("wasi:http error code {code:?}"))
}

runproof_sdk::export_skill!(JsonPointer);
