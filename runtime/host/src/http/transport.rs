//! One hop on the wire: resolve and check every address, connect only to a checked one,
//! TLS where the scheme says, one buffered request and one size-capped response.

use super::*;

/// The addresses to connect to for `dest`, every one of them checked. An IP literal is used
/// as is (no lookup). A name is resolved here, once; if *any* address it resolves to is
/// denied the request is denied (a name that mixes a public and a loopback address is an
/// attack, not a fallback), and only these checked addresses are ever connected to, so a
/// second, different DNS answer (rebinding) cannot be used.
pub(super) async fn resolve_checked(
    dest: &Destination,
    policy: &OutboundPolicy,
) -> Result<Vec<SocketAddr>, OutboundError> {
    let addrs: Vec<SocketAddr> = match &dest.host {
        NormalHost::Ip(ip) => vec![SocketAddr::new(*ip, dest.port)],
        NormalHost::Name(name) => tokio::net::lookup_host((name.as_str(), dest.port))
            .await
            .map_err(|e| Cause::Dns.error(format!("cannot resolve {name}: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Cause::Dns.error(format!("{} resolves to no address", dest.host)));
    }
    for a in &addrs {
        policy
            .check_address(dest, a.ip())
            .map_err(|m| OutboundError::from(HttpError::Denied(m)))?;
    }
    Ok(addrs)
}

pub(super) async fn exchange(
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
        .ok_or_else(|| Cause::Url.error(format!("{url} has no host")))?;
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
    let tcp = tcp.ok_or(HttpError::Connect(last_error))?;
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
            .map_err(|_| HttpError::InvalidRequest(format!("invalid header name {k:?}")))?;
        // The value may hold a secret: never echo it in the error.
        let value = HeaderValue::from_str(v)
            .map_err(|_| HttpError::InvalidRequest(format!("invalid value for header {k}")))?;
        if name == hyper::header::HOST {
            continue; // the host header always names the destination that was checked
        }
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| HttpError::InvalidRequest(e.to_string()))?;

    let response = if url.scheme() == "https" {
        let name = match &dest.host {
            NormalHost::Ip(ip) => ip.to_string(),
            NormalHost::Name(n) => n.clone(),
        };
        let tls = tls_connector()
            .connect(server_name(&name)?, tcp)
            .await
            .map_err(|e| Cause::Tls.error(format!("TLS with {host}: {e}")))?;
        roundtrip(hyper_util::rt::TokioIo::new(tls), request, caps).await?
    } else {
        roundtrip(hyper_util::rt::TokioIo::new(tcp), request, caps).await?
    };
    let status = response.status().as_u16();
    // hyper enforces both caps while parsing; this is the same rule, said once more.
    if response.headers().len() > caps.max_headers {
        return Err(Cause::ResponseHead.error(format!(
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
                Cause::ResponseBody.error(format!(
                    "response body exceeds the cap of {} bytes (max_response_body)",
                    caps.max_response_body
                ))
            } else {
                HttpError::Other(format!("reading response body: {e}")).into()
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
        .map_err(|e| HttpError::Connect(format!("HTTP handshake: {e}")))?;
    // The connection task ends when the response body is read or dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(request).await.map_err(|e| {
        if e.is_parse_too_large() {
            Cause::ResponseHead.error(format!(
                "response head exceeds the cap of {} headers or {} bytes (max_headers, max_header_bytes)",
                caps.max_headers, caps.max_header_bytes
            ))
        } else {
            HttpError::Other(format!("HTTP exchange: {e}")).into()
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
        HttpError::InvalidRequest(format!("{host} is not a valid TLS server name")).into()
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
