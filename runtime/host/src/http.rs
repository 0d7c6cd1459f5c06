//! Outbound HTTP made by the host on a skill's behalf: one buffered request, one buffered
//! response, so the whole exchange can be recorded as one step.
//!
//! The policy is checked before any DNS lookup, and again on every redirect hop; every
//! address a name resolves to is checked (special addresses need an explicit grant, see
//! `policy.rs`), and the addresses we checked are the only ones we connect to (no second
//! lookup, so no DNS rebinding). Secrets are substituted only after every check passed, and
//! redacted from everything that comes back. Sizes and time are capped so a hostile server
//! cannot hold or flood a run.

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

/// Caps on one exchange. Each cap hit is a `too-large` error that names the cap.
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
            "headers": crate::trace_caps::headers_field(&self.headers, caps),
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

    fn map_message(self, f: impl Fn(&str) -> String) -> Self {
        match self {
            OutboundError::Denied(m) => OutboundError::Denied(f(&m)),
            OutboundError::InvalidRequest(m) => OutboundError::InvalidRequest(f(&m)),
            OutboundError::Connect(m) => OutboundError::Connect(f(&m)),
            OutboundError::Timeout(m) => OutboundError::Timeout(f(&m)),
            OutboundError::TooLarge(m) => OutboundError::TooLarge(f(&m)),
            OutboundError::Other(m) => OutboundError::Other(f(&m)),
        }
    }
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
    let inner = send_inner(req, policy, secrets, caps, ahead);
    let result = match tokio::time::timeout_at(deadline.at, inner).await {
        Ok(r) => r,
        // The URL is in the recorded request already; the message does not repeat it.
        Err(_) => Err(OutboundError::Timeout(format!(
            "the request did not finish within {}",
            deadline.what
        ))),
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

async fn send_inner(
    req: &OutboundRequest,
    policy: &OutboundPolicy,
    secrets: &SecretSet,
    caps: &HttpCaps,
    ahead: &mut WriteAhead<'_>,
) -> Result<OutboundResponse, OutboundError> {
    let mut method = hyper::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| OutboundError::InvalidRequest(format!("invalid method {:?}", req.method)))?;
    // Sizes first, before anything is parsed, scanned or copied: a refused 40 MB body
    // costs nothing but this comparison.
    if req.url.len() > caps.max_url_bytes {
        return Err(OutboundError::TooLarge(format!(
            "URL of {} bytes exceeds the cap of {} bytes (max_url_bytes)",
            req.url.len(),
            caps.max_url_bytes
        )));
    }
    if let Some(body) = &req.body
        && body.len() > caps.max_request_body
    {
        return Err(OutboundError::TooLarge(format!(
            "request body of {} bytes exceeds the cap of {} bytes (max_request_body)",
            body.len(),
            caps.max_request_body
        )));
    }
    if req.headers.len() > caps.max_headers {
        return Err(OutboundError::TooLarge(format!(
            "{} request headers exceed the cap of {} (max_headers)",
            req.headers.len(),
            caps.max_headers
        )));
    }

    // Which secrets the request uses. Header names are not substituted (a placeholder there
    // is sent as written), so only URL, header values and body count.
    let mut used: Vec<String> = Vec::new();
    let body_raw = req.body.as_deref().unwrap_or_default();
    for text in std::iter::once(req.url.as_bytes())
        .chain(req.headers.iter().map(|(_, v)| v.as_bytes()))
        .chain(std::iter::once(body_raw))
    {
        for name in placeholder_names(text) {
            if !used.contains(&name) {
                used.push(name);
            }
        }
    }
    // Only the URL's path and query may carry a secret: in the host it would go to DNS
    // (anyone's resolver) before any check, and in the user part it is never sent anyway.
    let url_with_placeholders = url::Url::parse(&req.url)
        .map_err(|e| OutboundError::InvalidRequest(format!("invalid URL: {e}")))?;
    if !url_with_placeholders.username().is_empty() || url_with_placeholders.password().is_some() {
        return Err(OutboundError::InvalidRequest(
            "a URL with a user or password is not supported; send credentials in a header".into(),
        ));
    }
    let mut url = url::Url::parse(&secrets.substitute(&req.url)).map_err(|e| {
        OutboundError::InvalidRequest(format!("invalid URL after secret substitution: {e}"))
    })?;
    if OutboundPolicy::destination(&url) != OutboundPolicy::destination(&url_with_placeholders) {
        return Err(OutboundError::Denied(
            "a secret placeholder may appear only in a URL's path or query, never in its scheme, host or port".into(),
        ));
    }
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), secrets.substitute(v)))
        .collect();
    let header_bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if header_bytes > caps.max_header_bytes {
        return Err(OutboundError::TooLarge(format!(
            "request headers of {header_bytes} bytes exceed the cap of {} bytes (max_header_bytes)",
            caps.max_header_bytes
        )));
    }
    let mut body = secrets.substitute_bytes(body_raw);
    if body.len() > caps.max_request_body {
        return Err(OutboundError::TooLarge(format!(
            "request body of {} bytes exceeds the cap of {} bytes (max_request_body)",
            body.len(),
            caps.max_request_body
        )));
    }

    let mut hops: Vec<String> = Vec::new();
    loop {
        // Every hop is checked from scratch: scheme, host, port, special addresses (below, on
        // the resolved addresses) and the scope of every secret the request carries.
        let hop = |m: String| {
            if hops.is_empty() {
                m
            } else {
                format!("redirect hop {}: {m}", hops.len())
            }
        };
        let dest = policy
            .check(&url)
            .map_err(|m| OutboundError::Denied(hop(m)))?;
        secrets
            .check_scope(&used, &dest)
            .map_err(|m| OutboundError::Denied(hop(m)))?;
        let addrs = resolve_checked(&dest, policy)
            .await
            .map_err(|e| e.map_message(|m| hop(m.to_string())))?;
        // The last point before anything leaves for the server: the intent is durable
        // first (a no-op on later hops of the same call), or nothing is sent at all.
        ahead.commit(req.to_json(caps)).await.map_err(|e| {
            OutboundError::Other(format!("{} {} was not sent: {e}", req.method, req.url))
        })?;
        hops.push(url.to_string());
        let resp = exchange(&method, &url, &dest, &addrs, &headers, &body, caps).await?;
        let redirect = (300..400).contains(&resp.status) && req.follow_redirects;
        let location = resp
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.clone());
        match (redirect, location) {
            (true, Some(loc)) => {
                if hops.len() > caps.max_redirects {
                    return Err(OutboundError::TooLarge(format!(
                        "more than {} redirects (max_redirects)",
                        caps.max_redirects
                    )));
                }
                let next = url.join(&loc).map_err(|e| {
                    OutboundError::Other(format!(
                        "bad redirect location {:?}: {e}",
                        crate::trace_caps::cap_to(&loc, 256)
                    ))
                })?;
                // Credentials the skill wrote for one origin go to that origin only.
                crate::redact::strip_on_cross_origin(&mut headers, &url, &next);
                url = next;
                // 303 (and, as browsers do, 301/302 after POST) turn into a GET without body.
                if resp.status == 303
                    || ((resp.status == 301 || resp.status == 302) && method == hyper::Method::POST)
                {
                    method = hyper::Method::GET;
                    body.clear();
                }
            }
            _ => return Ok(OutboundResponse { hops, ..resp }),
        }
    }
}

/// The addresses to connect to for `dest`, every one of them checked. An IP literal is used
/// as is (no lookup). A name is resolved here, once; if *any* address it resolves to is
/// denied the request is denied (a name that mixes a public and a loopback address is an
/// attack, not a fallback), and only these checked addresses are ever connected to, so a
/// second, different DNS answer (rebinding) cannot be used.
async fn resolve_checked(
    dest: &Destination,
    policy: &OutboundPolicy,
) -> Result<Vec<SocketAddr>, OutboundError> {
    let addrs: Vec<SocketAddr> = match &dest.host {
        NormalHost::Ip(ip) => vec![SocketAddr::new(*ip, dest.port)],
        NormalHost::Name(name) => tokio::net::lookup_host((name.as_str(), dest.port))
            .await
            .map_err(|e| OutboundError::Connect(format!("cannot resolve {name}: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(OutboundError::Connect(format!(
            "{} resolves to no address",
            dest.host
        )));
    }
    for a in &addrs {
        policy
            .check_address(dest, a.ip())
            .map_err(OutboundError::Denied)?;
    }
    Ok(addrs)
}

async fn exchange(
    method: &hyper::Method,
    url: &url::Url,
    dest: &Destination,
    addrs: &[SocketAddr],
    headers: &[(String, String)],
    body: &[u8],
    caps: &HttpCaps,
) -> Result<OutboundResponse, OutboundError> {
    let host = url
        .host_str()
        .ok_or_else(|| OutboundError::InvalidRequest(format!("{url} has no host")))?;
    let mut tcp = None;
    let mut last_error = String::new();
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_error = format!("connect to {addr} ({host}): {e}"),
        }
    }
    let tcp = tcp.ok_or(OutboundError::Connect(last_error))?;
    let _ = tcp.set_nodelay(true);

    let mut builder = hyper::Request::builder()
        .method(method.clone())
        .uri(path_and_query(url));
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    builder = builder.header(hyper::header::HOST, host_header);
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| OutboundError::InvalidRequest(format!("invalid header name {k:?}")))?;
        // The value may hold a secret: never echo it in the error.
        let value = HeaderValue::from_str(v)
            .map_err(|_| OutboundError::InvalidRequest(format!("invalid value for header {k}")))?;
        if name == hyper::header::HOST {
            continue; // the host header always names the destination that was checked
        }
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| OutboundError::InvalidRequest(e.to_string()))?;

    let response = if url.scheme() == "https" {
        let name = match &dest.host {
            NormalHost::Ip(ip) => ip.to_string(),
            NormalHost::Name(n) => n.clone(),
        };
        let tls = tls_connector()
            .connect(server_name(&name)?, tcp)
            .await
            .map_err(|e| OutboundError::Connect(format!("TLS with {host}: {e}")))?;
        roundtrip(hyper_util::rt::TokioIo::new(tls), request, caps).await?
    } else {
        roundtrip(hyper_util::rt::TokioIo::new(tcp), request, caps).await?
    };
    let status = response.status().as_u16();
    // hyper enforces both caps while parsing; this is the same rule, said once more.
    if response.headers().len() > caps.max_headers {
        return Err(OutboundError::TooLarge(format!(
            "{} response headers exceed the cap of {} (max_headers)",
            response.headers().len(),
            caps.max_headers
        )));
    }
    let resp_headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let collected = Limited::new(response.into_body(), caps.max_response_body)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                OutboundError::TooLarge(format!(
                    "response body exceeds the cap of {} bytes (max_response_body)",
                    caps.max_response_body
                ))
            } else {
                OutboundError::Other(format!("reading response body: {e}"))
            }
        })?;
    Ok(OutboundResponse {
        status,
        headers: resp_headers,
        body: collected.to_bytes().to_vec(),
        hops: Vec::new(),
    })
}

async fn roundtrip<IO>(
    io: IO,
    request: hyper::Request<Full<Bytes>>,
    caps: &HttpCaps,
) -> Result<hyper::Response<hyper::body::Incoming>, OutboundError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_headers(caps.max_headers)
        .max_header_size(caps.max_header_bytes)
        .handshake(io)
        .await
        .map_err(|e| OutboundError::Connect(format!("HTTP handshake: {e}")))?;
    // The connection task ends when the response body is read or dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(request).await.map_err(|e| {
        if e.is_parse_too_large() {
            OutboundError::TooLarge(format!(
                "response head exceeds the cap of {} headers or {} bytes (max_headers, max_header_bytes)",
                caps.max_headers, caps.max_header_bytes
            ))
        } else {
            OutboundError::Other(format!("HTTP exchange: {e}"))
        }
    })
}

fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, OutboundError> {
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| {
        OutboundError::InvalidRequest(format!("{host} is not a valid TLS server name"))
    })
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // An explicit provider: the process may link more than one rustls crypto backend.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostPattern;
    use crate::secrets::Secret;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn policy(granted: &[&str]) -> OutboundPolicy {
        let p = |s: &&str| HostPattern::parse(s).unwrap();
        OutboundPolicy {
            granted: granted.iter().map(p).collect(),
            requested: ["http://*:*"].iter().map(p).collect(),
        }
    }

    fn get(url: String) -> OutboundRequest {
        OutboundRequest {
            method: "GET".into(),
            url,
            headers: vec![],
            body: None,
            follow_redirects: true,
        }
    }

    fn soon(ms: u64) -> Deadline {
        Deadline {
            at: Instant::now() + Duration::from_millis(ms),
            what: "the invocation's deadline".into(),
        }
    }

    /// A loopback server that reads a request head, then answers with `respond(head)`;
    /// `None` means trickle a never-ending head instead.
    async fn server(respond: fn() -> Option<Vec<u8>>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    match respond() {
                        Some(bytes) => {
                            let _ = s.write_all(&bytes).await;
                        }
                        None => {
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
                            for _ in 0..600 {
                                if s.write_all(b"X").await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                });
            }
        });
        port
    }

    /// A write-ahead that keeps nothing: these tests are about the exchange.
    fn quiet() -> WriteAhead<'static> {
        WriteAhead::new(&crate::NullRecorder, "test", "test")
    }

    /// Remembers what was recorded, and whether the server had been reached when the
    /// intent was made durable.
    struct Witness {
        events: std::sync::Mutex<Vec<(crate::HostEvent, usize)>>,
        hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        fail: bool,
    }

    impl crate::TraceRecorder for Witness {
        fn record(&self, _: &str, e: crate::HostEvent) {
            let hits = self.hits.load(std::sync::atomic::Ordering::SeqCst);
            self.events.lock().unwrap().push((e, hits));
        }

        fn record_durable(
            &self,
            skill: &str,
            e: crate::HostEvent,
        ) -> crate::RecorderFuture<'_, Result<(), crate::NotDurable>> {
            self.record(skill, e);
            let fail = self.fail;
            Box::pin(async move {
                // Durability takes time; nothing may leave meanwhile.
                tokio::time::sleep(Duration::from_millis(50)).await;
                if fail {
                    Err(crate::NotDurable("database gone".into()))
                } else {
                    Ok(())
                }
            })
        }
    }

    async fn counting_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 302 Found\r\nlocation: /next\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        (port, hits)
    }

    #[tokio::test]
    async fn the_intent_is_durable_before_anything_leaves_and_only_once_per_call() {
        let (port, hits) = counting_server().await;
        let w = Witness {
            events: Default::default(),
            hits: hits.clone(),
            fail: false,
        };
        let mut req = get(format!("http://127.0.0.1:{port}/start"));
        req.follow_redirects = true;
        let mut ahead = WriteAhead::new(&w, "probe", "runproof:skill/http");
        let caps = HttpCaps {
            max_redirects: 2,
            ..HttpCaps::default()
        };
        let _ = send(
            &req,
            &policy(&["http://127.0.0.1:*"]),
            &SecretSet::default(),
            &caps,
            &soon(5000),
            &mut ahead,
        )
        .await;
        assert!(ahead.committed());
        assert!(
            hits.load(std::sync::atomic::Ordering::SeqCst) >= 2,
            "redirects were followed"
        );
        let events = w.events.lock().unwrap();
        assert_eq!(
            events.len(),
            1,
            "one intent for the call, whatever the hops"
        );
        let (intent, hits_then) = &events[0];
        assert_eq!(intent.kind, runproof_proof::StepKind::HostIntent);
        assert_eq!(*hits_then, 0, "recorded before the server was reached");
        assert_eq!(intent.body["interface"], "runproof:skill/http");
        assert_eq!(intent.body["request"], req.to_json(&caps));
    }

    #[tokio::test]
    async fn no_intent_no_request_and_a_denied_request_records_no_intent() {
        let (port, hits) = counting_server().await;
        let w = Witness {
            events: Default::default(),
            hits: hits.clone(),
            fail: true,
        };
        let mut ahead = WriteAhead::new(&w, "probe", "runproof:skill/http");
        let err = send(
            &get(format!("http://127.0.0.1:{port}/")),
            &policy(&["http://127.0.0.1:*"]),
            &SecretSet::default(),
            &HttpCaps::default(),
            &soon(5000),
            &mut ahead,
        )
        .await
        .unwrap_err();
        assert!(err.message().contains("was not sent"), "{err:?}");
        assert!(err.message().contains("database gone"), "{err:?}");
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing left the host"
        );

        // Denied by policy: nothing would leave, so nothing is announced.
        let w = Witness {
            events: Default::default(),
            hits,
            fail: false,
        };
        let mut ahead = WriteAhead::new(&w, "probe", "runproof:skill/http");
        let err = send(
            &get(format!("http://127.0.0.1:{port}/")),
            &policy(&["https://api.example.com"]),
            &SecretSet::default(),
            &HttpCaps::default(),
            &soon(5000),
            &mut ahead,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "denied");
        assert!(!ahead.committed());
        assert!(w.events.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_trickling_server_is_cut_at_the_deadline_it_names() {
        let port = server(|| None).await;
        let started = Instant::now();
        let err = send(
            &get(format!("http://127.0.0.1:{port}/")),
            &policy(&["http://127.0.0.1:*"]),
            &SecretSet::default(),
            &HttpCaps::default(),
            &soon(400),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "timeout", "{err:?}");
        assert!(
            err.message().contains("the invocation's deadline"),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn response_header_caps_are_too_large() {
        let many = server(|| {
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
            for i in 0..150 {
                r.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
            }
            r.extend_from_slice(b"\r\n");
            Some(r)
        })
        .await;
        let big = server(|| {
            Some(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-big: {}\r\n\r\n",
                    "a".repeat(100_000)
                )
                .into_bytes(),
            )
        })
        .await;
        for port in [many, big] {
            let err = send(
                &get(format!("http://127.0.0.1:{port}/")),
                &policy(&["http://127.0.0.1:*"]),
                &SecretSet::default(),
                &HttpCaps::default(),
                &soon(5000),
                &mut quiet(),
            )
            .await
            .unwrap_err();
            assert_eq!(err.code(), "too-large", "{err:?}");
            assert!(err.message().contains("max_header"), "{err:?}");
        }
    }

    #[tokio::test]
    async fn request_caps_are_checked_before_sending() {
        let caps = HttpCaps {
            max_request_body: 10,
            ..Default::default()
        };
        let mut req = get("http://127.0.0.1:1/".into());
        req.body = Some(vec![b'x'; 11]);
        let err = send(
            &req,
            &policy(&["http://127.0.0.1:*"]),
            &SecretSet::default(),
            &caps,
            &soon(5000),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert!(err.message().contains("max_request_body"), "{err:?}");
        let mut req = get("http://127.0.0.1:1/".into());
        req.headers = (0..101).map(|i| (format!("x-{i}"), "v".into())).collect();
        let err = send(
            &req,
            &policy(&["http://127.0.0.1:*"]),
            &SecretSet::default(),
            &caps,
            &soon(5000),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert!(err.message().contains("max_headers"), "{err:?}");
    }

    #[tokio::test]
    async fn names_resolving_to_special_addresses_are_denied_before_connecting() {
        let err = send(
            &get("http://localhost:1/".into()),
            &policy(&["http://*:*"]),
            &SecretSet::default(),
            &HttpCaps::default(),
            &soon(5000),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "denied", "{err:?}");
        assert!(
            err.message().contains("localhost resolves to it"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn secrets_never_go_to_dns_or_into_errors() {
        let secrets = SecretSet::new(vec![Secret {
            name: "T".into(),
            value: "v4lue".into(),
            allowed_hosts: vec![HostPattern::parse("http://*:*").unwrap()],
        }]);
        let err = send(
            &get("http://{{secret:T}}.example.com/".into()),
            &policy(&["http://*:*"]),
            &secrets,
            &HttpCaps::default(),
            &soon(5000),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err.code(), "denied" | "invalid-request"),
            "{err:?}"
        );
        assert!(!err.message().contains("v4lue"), "{err:?}");
        // A refused connection's error names the URL: redacted.
        let err = send(
            &get("http://127.0.0.1:1/?k={{secret:T}}".into()),
            &policy(&["http://127.0.0.1:*"]),
            &secrets,
            &HttpCaps::default(),
            &soon(5000),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert!(!err.message().contains("v4lue"), "{err:?}");
    }
}
