//! Outbound HTTP made by the host on a skill's behalf: one buffered request, one buffered
//! response, so the whole exchange can be recorded as one step.
//!
//! The policy is checked before any DNS lookup, and again on every redirect hop; every
//! address a name resolves to is checked (special addresses need an explicit grant, see
//! `policy.rs`), and the addresses we checked are the only ones we connect to (no second
//! lookup, so no DNS rebinding). Secrets are substituted only after every check passed, and
//! redacted from everything that comes back. Sizes and time are capped so a hostile server
//! cannot hold or flood a run.

mod error;
mod redirects;
mod transport;

pub use error::{Cause, HttpError, OutboundError, code, from_code};

use crate::policy::{Destination, NormalHost, OutboundPolicy};
use crate::recorder::WriteAhead;
use crate::secrets::{SecretSet, placeholder_names};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Caps on one exchange. Each cap hit is a `too-large` error that names the cap (its
/// [`Cause`] says which).
#[derive(Debug, Clone, Copy)]
pub struct HttpCaps {
    pub max_request_body: usize,
    pub max_response_body: usize,
    /// Most headers in a request, and in a response.
    pub max_headers: usize,
    /// Most bytes of request headers (names + values), and of a response head (status line
    /// and headers): bounds what a hostile server can make us buffer before the body.
    pub max_header_bytes: usize,
    /// Most redirects followed for one request.
    pub max_redirects: usize,
    /// Most bytes of a request URL (checked before it is parsed).
    pub max_url_bytes: usize,
}

impl Default for HttpCaps {
    fn default() -> Self {
        HttpCaps {
            max_request_body: 4 << 20,
            max_response_body: 8 << 20,
            max_headers: 100,
            max_header_bytes: 64 << 10,
            max_redirects: 10,
            max_url_bytes: 64 << 10,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub follow_redirects: bool,
}

impl OutboundRequest {
    /// The request as a step records it: as the skill wrote it (placeholders, never secret
    /// values), bounded (`trace_caps.rs`: a large or refused request is its size, SHA-256
    /// and prefix, never the whole bytes). The intent and the result of one call record the
    /// same object.
    pub fn to_json(&self, caps: &HttpCaps) -> serde_json::Value {
        serde_json::json!({
            "method": crate::trace_caps::cap_to(&self.method, 64),
            "url": crate::trace_caps::text_field(&self.url),
            "headers": crate::trace_caps::headers_field(
                &self.headers,
                caps.max_headers,
                caps.max_header_bytes,
            ),
            "body": self.body.as_deref().map(crate::trace_caps::bytes_field),
            "follow_redirects": self.follow_redirects,
        })
    }
}

#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Every URL requested, the first one included (more than one after redirects).
    pub hops: Vec<String>,
}

/// When an exchange must be over, and which limit that is (named in the timeout error).
#[derive(Debug, Clone)]
pub struct Deadline {
    pub at: Instant,
    /// e.g. "the request's timeout of 1000 ms" or "the invocation's deadline".
    pub what: String,
}

/// Sends `req` under `policy`, with `secrets` substituted on the way out and redacted on
/// the way back, giving up at `deadline`. Whatever the result, no secret value is in it:
/// the response, the hops and every error message are redacted.
///
/// Write-ahead: once every check has passed and just before the first byte leaves the
/// host, the request is recorded through `ahead` and made durable; if that fails, nothing
/// is sent. A request refused before that point records no intent (nothing left). Every
/// interface that sends through here gets this.
pub async fn send(
    req: &OutboundRequest,
    policy: &OutboundPolicy,
    secrets: &SecretSet,
    caps: &HttpCaps,
    deadline: &Deadline,
    ahead: &mut WriteAhead<'_>,
) -> Result<OutboundResponse, OutboundError> {
    // One timer over everything (DNS, connect, TLS, head, body, every redirect): a server
    // that trickles bytes cannot stretch the exchange past it.
    let inner = redirects::send_following(req, policy, secrets, caps, ahead);
    let result = match tokio::time::timeout_at(deadline.at, inner).await {
        Ok(r) => r,
        // The URL is in the recorded request already; the message does not repeat it.
        Err(_) => Err(HttpError::Timeout(format!(
            "the request did not finish within {}",
            deadline.what
        ))
        .into()),
    };
    match result {
        // Names too: a server can echo a value as a header name (`x-echo-<value>`).
        Ok(resp) => Ok(OutboundResponse {
            status: resp.status,
            headers: resp
                .headers
                .iter()
                .map(|(k, v)| (secrets.redact_name(k), secrets.redact(v)))
                .collect(),
            body: secrets.redact_bytes(&resp.body),
            hops: resp.hops.iter().map(|h| secrets.redact(h)).collect(),
        }),
        Err(e) => Err(e.map_message(|m| crate::trace_caps::cap_message(&secrets.redact(m)))),
    }
}

/// A default request timeout when a skill names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests;
