//! Standard `wasi:http/outgoing-handler` (WASI p2, 0.2.x) for skills, on the same outbound
//! path as `runproof:skill/http`.
//!
//! wasmtime-wasi-http implements the interface (requests, fields, bodies, futures) and hands
//! every outgoing request to [`WasiHttpHooks::send_request`]. Ours never opens a connection
//! itself: it buffers the request body (up to the request-body cap), then calls
//! [`send_recorded`], the function behind `runproof:skill/http` too. So a `wasi:http`
//! request gets exactly the same policy (the agent's grant ∩ the skill's `describe`, every
//! resolved address checked), secrets (substituted on the way out, redacted on the way
//! back), caps and invocation deadline, and is recorded as one `host.http` step of the same
//! shape (`"interface": "wasi:http/outgoing-handler"`), whether it was sent or denied.
//!
//! Differences that follow from the standard interface, not from a weaker policy:
//! - The host does not follow redirects: a `wasi:http` client sees the 3xx, as it would
//!   from any WASI host, and a request it then makes to the `location` is a new exchange,
//!   checked from scratch (and a new step).
//! - A denial reaches the guest as the error code `HTTP-request-denied` (the standard
//!   variant carries no text); the reason is in the recorded step.
//! - `request-options` timeouts: the largest one given is the request's timeout (one timer
//!   covers DNS, connect, head and body here), capped by the invocation's deadline.
//! - The response body is buffered (up to the response-body cap) before the guest sees
//!   the head, so the exchange is recorded whole, as ours is.

use crate::http::{Cause, HttpError, OutboundError, OutboundRequest};
use crate::state::{Outbound, SkillState, send_recorded};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::future::Future;
use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error as ErrorCode, RequestOptions, WasiBody, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// The `interface` of a `host.http` step made through standard `wasi:http`.
pub(crate) const INTERFACE_WASI_HTTP: &str = "wasi:http/outgoing-handler";

pub(crate) fn add_to_linker(linker: &mut Linker<SkillState>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

impl WasiHttpView for SkillState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        if self.wasi_http.hooks.is_none() {
            self.wasi_http.hooks = Some(self.outbound());
        }
        let state = &mut self.wasi_http;
        WasiHttpCtxView {
            ctx: &mut state.ctx,
            table: &mut self.table,
            hooks: state.hooks.as_mut().expect("set just above"),
        }
    }
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

// The hooks are the invocation's `Outbound`: every request goes to [`send_recorded`].
impl WasiHttpHooks for Outbound {
    // The host header always names the destination that was checked (`http.rs` sets it).
    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let out = self.clone();
        // One host call per exchange, as for runproof:skill/http. Past the cap the request
        // is not made; the epoch callback stops the skill with the limit named.
        let counted = out.reporter.meter.count();
        Box::new(async move {
            if !counted {
                return Err(ErrorCode::InternalError(Some(format!(
                    "host call limit of {} reached",
                    out.reporter.meter.max()
                ))));
            }
            let timeout_ms = options.and_then(|o| {
                [
                    o.connect_timeout,
                    o.first_byte_timeout,
                    o.between_bytes_timeout,
                ]
                .into_iter()
                .flatten()
                .max()
                .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
            });
            let (parts, body) = request.into_parts();
            let body = read_body(body, out.caps.max_request_body, out.deadline).await?;
            let req = OutboundRequest {
                method: parts.method.to_string(),
                url: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body,
                follow_redirects: false,
            };
            let resp = send_recorded(out, req, timeout_ms, INTERFACE_WASI_HTTP)
                .await
                .map_err(|e| error_code(&e))?;
            let mut builder = http::Response::builder().status(resp.status);
            for (k, v) in &resp.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            let body = Full::new(Bytes::from(resp.body))
                .map_err(|never| match never {})
                .boxed_unsync();
            let response = builder
                .body(body)
                .map_err(|e| ErrorCode::InternalError(Some(e.to_string())))?;
            let io: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

/// The whole request body, as the guest streams it (`None` when empty). Reading stops one
/// byte past the cap, so `http::send` refuses it with the cap named, and the refusal is
/// recorded like any other; and at the invocation's deadline, so a guest that never
/// finishes its body cannot park the exchange.
async fn read_body(
    mut body: WasiBody,
    cap: usize,
    deadline: tokio::time::Instant,
) -> wasmtime_wasi_http::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
                if bytes.len() > cap {
                    break;
                }
            }
        }
        Ok::<(), ErrorCode>(())
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(r) => r?,
        Err(_) => return Err(ErrorCode::ConnectionWriteTimeout),
    }
    Ok((!bytes.is_empty()).then_some(bytes))
}

/// The standard error code for an outbound failure, by its typed cause (`http/error.rs`),
/// else by its WIT case. The message stays in the step (the standard variants carry no
/// text, except `internal-error` and a DNS error's `rcode`).
fn error_code(e: &OutboundError) -> ErrorCode {
    let text = || Some(e.message().to_string());
    match e.cause() {
        Some(Cause::Method) => ErrorCode::HttpRequestMethodInvalid,
        Some(Cause::Url) => ErrorCode::HttpRequestUriInvalid,
        Some(Cause::Dns) => ErrorCode::DnsError {
            rcode: text(),
            info_code: None,
        },
        Some(Cause::Tls) => ErrorCode::TlsProtocolError,
        Some(Cause::UrlSize) => ErrorCode::HttpRequestUriTooLong,
        Some(Cause::RequestBody) => ErrorCode::HttpRequestBodySize(None),
        Some(Cause::RequestHeaders) => ErrorCode::HttpRequestHeaderSectionSize(None),
        Some(Cause::ResponseHead) => ErrorCode::HttpResponseHeaderSectionSize(None),
        Some(Cause::ResponseBody) => ErrorCode::HttpResponseBodySize(None),
        Some(Cause::Redirects) => ErrorCode::LoopDetected,
        None => match e.wit() {
            HttpError::Denied(_) => ErrorCode::HttpRequestDenied,
            HttpError::Connect(_) => ErrorCode::ConnectionRefused,
            HttpError::Timeout(_) => ErrorCode::HttpResponseTimeout,
            HttpError::InvalidRequest(_) | HttpError::TooLarge(_) | HttpError::Other(_) => {
                ErrorCode::InternalError(text())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_follows_the_cause_not_the_message() {
        let code = |e: OutboundError| format!("{:?}", error_code(&e));
        let denied = |m: &str| OutboundError::from(HttpError::Denied(m.into()));
        assert_eq!(
            code(denied("127.0.0.1 is a loopback address")),
            "HttpRequestDenied"
        );
        for (cause, expected) in [
            (Cause::Method, "HttpRequestMethodInvalid"),
            (Cause::Url, "HttpRequestUriInvalid"),
            (Cause::Tls, "TlsProtocolError"),
            (Cause::UrlSize, "HttpRequestUriTooLong"),
            (Cause::RequestBody, "HttpRequestBodySize(None)"),
            (Cause::RequestHeaders, "HttpRequestHeaderSectionSize(None)"),
            (Cause::ResponseHead, "HttpResponseHeaderSectionSize(None)"),
            (Cause::ResponseBody, "HttpResponseBodySize(None)"),
            (Cause::Redirects, "LoopDetected"),
        ] {
            // The message says something else on purpose: only the cause counts.
            assert_eq!(
                code(cause.error("redirects URL method TLS".into())),
                expected
            );
        }
        assert!(code(Cause::Dns.error("cannot resolve x: y".into())).starts_with("DnsError"));
        assert_eq!(
            code(HttpError::Connect("TLS with x: refused".into()).into()),
            "ConnectionRefused"
        );
        assert_eq!(
            code(HttpError::Timeout("did not finish".into()).into()),
            "HttpResponseTimeout"
        );
        assert_eq!(
            code(HttpError::InvalidRequest("invalid URL method".into()).into()),
            "InternalError(Some(\"invalid URL method\"))"
        );
    }
}
