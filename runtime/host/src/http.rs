//! Outbound HTTP made by the host on a skill's behalf: one buffered request, one buffered
//! response, so the whole exchange can be recorded as one step.
//!
//! The policy is checked before any DNS lookup, and again on every redirect hop. The
//! address we resolved is the address we connect to (no second lookup). Sizes and time are
//! capped so a hostile server cannot hold or flood a run.

use crate::policy::OutboundPolicy;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Caps on one exchange.
#[derive(Debug, Clone, Copy)]
pub struct HttpCaps {
    pub max_request_body: usize,
    pub max_response_body: usize,
    pub max_headers: usize,
    pub max_redirects: usize,
}

impl Default for HttpCaps {
    fn default() -> Self {
        HttpCaps { max_request_body: 4 << 20, max_response_body: 8 << 20, max_headers: 100, max_redirects: 10 }
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

#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Every URL requested, the first one included (more than one after redirects).
    pub hops: Vec<String>,
}

/// Why an exchange failed; mirrors the WIT `http-error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    Denied(String),
    InvalidRequest(String),
    Connect(String),
    Timeout(String),
    TooLarge(String),
    Other(String),
}

impl OutboundError {
    pub fn code(&self) -> &'static str {
        match self {
            OutboundError::Denied(_) => "denied",
            OutboundError::InvalidRequest(_) => "invalid-request",
            OutboundError::Connect(_) => "connect",
            OutboundError::Timeout(_) => "timeout",
            OutboundError::TooLarge(_) => "too-large",
            OutboundError::Other(_) => "other",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            OutboundError::Denied(m)
            | OutboundError::InvalidRequest(m)
            | OutboundError::Connect(m)
            | OutboundError::Timeout(m)
            | OutboundError::TooLarge(m)
            | OutboundError::Other(m) => m,
        }
    }
}

/// Sends `req` under `policy`, giving up at `deadline`.
pub async fn send(
    req: &OutboundRequest,
    policy: &OutboundPolicy,
    caps: &HttpCaps,
    deadline: Instant,
) -> Result<OutboundResponse, OutboundError> {
    match tokio::time::timeout_at(deadline, send_inner(req, policy, caps)).await {
        Ok(r) => r,
        Err(_) => Err(OutboundError::Timeout(format!("{} {} did not finish before its deadline", req.method, req.url))),
    }
}

async fn send_inner(
    req: &OutboundRequest,
    policy: &OutboundPolicy,
    caps: &HttpCaps,
) -> Result<OutboundResponse, OutboundError> {
    let mut method = hyper::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| OutboundError::InvalidRequest(format!("invalid method {:?}", req.method)))?;
    if req.headers.len() > caps.max_headers {
        return Err(OutboundError::TooLarge(format!("{} request headers (max {})", req.headers.len(), caps.max_headers)));
    }
    let mut body = req.body.clone().unwrap_or_default();
    if body.len() > caps.max_request_body {
        return Err(OutboundError::TooLarge(format!("request body of {} bytes (max {})", body.len(), caps.max_request_body)));
    }
    let mut url = url::Url::parse(&req.url).map_err(|e| OutboundError::InvalidRequest(format!("invalid URL {:?}: {e}", req.url)))?;
    let mut hops = Vec::new();
    loop {
        policy.check(&url).map_err(OutboundError::Denied)?;
        hops.push(url.to_string());
        let resp = exchange(&method, &url, &req.headers, &body, caps).await?;
        let redirect = (300..400).contains(&resp.status) && req.follow_redirects;
        let location = resp.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone());
        match (redirect, location) {
            (true, Some(loc)) => {
                if hops.len() > caps.max_redirects {
                    return Err(OutboundError::Other(format!("more than {} redirects", caps.max_redirects)));
                }
                url = url.join(&loc).map_err(|e| OutboundError::Other(format!("bad redirect location {loc:?}: {e}")))?;
                // 303 (and, as browsers do, 301/302 after POST) turn into a GET without body.
                if resp.status == 303 || ((resp.status == 301 || resp.status == 302) && method == hyper::Method::POST) {
                    method = hyper::Method::GET;
                    body.clear();
                }
            }
            _ => return Ok(OutboundResponse { hops, ..resp }),
        }
    }
}

async fn exchange(
    method: &hyper::Method,
    url: &url::Url,
    headers: &[(String, String)],
    body: &[u8],
    caps: &HttpCaps,
) -> Result<OutboundResponse, OutboundError> {
    let host = url.host_str().ok_or_else(|| OutboundError::InvalidRequest(format!("{url} has no host")))?;
    let port = url.port_or_known_default().ok_or_else(|| OutboundError::InvalidRequest(format!("{url} has no port")))?;
    let lookup_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((lookup_host, port))
        .await
        .map_err(|e| OutboundError::Connect(format!("cannot resolve {host}: {e}")))?
        .collect();
    let addr = *addrs.first().ok_or_else(|| OutboundError::Connect(format!("{host} resolves to no address")))?;
    let tcp = TcpStream::connect(addr).await.map_err(|e| OutboundError::Connect(format!("connect to {addr} ({host}): {e}")))?;
    let _ = tcp.set_nodelay(true);

    let mut builder = hyper::Request::builder().method(method.clone()).uri(path_and_query(url));
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    builder = builder.header(hyper::header::HOST, host_header);
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| OutboundError::InvalidRequest(format!("invalid header name {k:?}")))?;
        let value = HeaderValue::from_str(v).map_err(|_| OutboundError::InvalidRequest(format!("invalid value for header {k}")))?;
        if name == hyper::header::HOST {
            continue; // the host header always names the destination that was checked
        }
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| OutboundError::InvalidRequest(e.to_string()))?;

    let response = if url.scheme() == "https" {
        let tls = tls_connector()
            .connect(server_name(lookup_host)?, tcp)
            .await
            .map_err(|e| OutboundError::Connect(format!("TLS with {host}: {e}")))?;
        roundtrip(hyper_util::rt::TokioIo::new(tls), request).await?
    } else {
        roundtrip(hyper_util::rt::TokioIo::new(tcp), request).await?
    };
    let status = response.status().as_u16();
    if response.headers().len() > caps.max_headers {
        return Err(OutboundError::TooLarge(format!("{} response headers (max {})", response.headers().len(), caps.max_headers)));
    }
    let resp_headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let collected = Limited::new(response.into_body(), caps.max_response_body)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                OutboundError::TooLarge(format!("response body over {} bytes", caps.max_response_body))
            } else {
                OutboundError::Other(format!("reading response body: {e}"))
            }
        })?;
    Ok(OutboundResponse { status, headers: resp_headers, body: collected.to_bytes().to_vec(), hops: Vec::new() })
}

async fn roundtrip<IO>(io: IO, request: hyper::Request<Full<Bytes>>) -> Result<hyper::Response<hyper::body::Incoming>, OutboundError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| OutboundError::Connect(format!("HTTP handshake: {e}")))?;
    // The connection task ends when the response body is read or dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(request).await.map_err(|e| OutboundError::Other(format!("HTTP exchange: {e}")))
}

fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, OutboundError> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| OutboundError::InvalidRequest(format!("{host} is not a valid TLS server name")))
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        // An explicit provider: the process may link more than one rustls crypto backend.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// A default request timeout when a skill names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
