//! The hop loop: the first request and every redirect it is given, each re-checked against
//! the policy, with credentials dropped when a hop leaves the origin; the bytes of one hop
//! go over `transport.rs`.

use super::transport::{exchange, resolve_checked};
use super::*;

/// Follows `req` through at most `caps.max_redirects` redirects.
pub(super) async fn send_following(
    req: &OutboundRequest,
    policy: &OutboundPolicy,
    secrets: &SecretSet,
    caps: &HttpCaps,
    ahead: &mut WriteAhead<'_>,
) -> Result<OutboundResponse, OutboundError> {
    let mut method = hyper::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Cause::Method.error(format!("invalid method {:?}", req.method)))?;
    // Sizes first, before anything is parsed, scanned or copied: a refused 40 MB body
    // costs nothing but this comparison.
    if req.url.len() > caps.max_url_bytes {
        return Err(Cause::UrlSize.error(format!(
            "URL of {} bytes exceeds the cap of {} bytes (max_url_bytes)",
            req.url.len(),
            caps.max_url_bytes
        )));
    }
    if let Some(body) = &req.body
        && body.len() > caps.max_request_body
    {
        return Err(Cause::RequestBody.error(format!(
            "request body of {} bytes exceeds the cap of {} bytes (max_request_body)",
            body.len(),
            caps.max_request_body
        )));
    }
    if req.headers.len() > caps.max_headers {
        return Err(Cause::RequestHeaders.error(format!(
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
    let url_with_placeholders =
        url::Url::parse(&req.url).map_err(|e| Cause::Url.error(format!("invalid URL: {e}")))?;
    if !url_with_placeholders.username().is_empty() || url_with_placeholders.password().is_some() {
        return Err(Cause::Url.error(
            "a URL with a user or password is not supported; send credentials in a header".into(),
        ));
    }
    let mut url = url::Url::parse(&secrets.substitute(&req.url))
        .map_err(|e| Cause::Url.error(format!("invalid URL after secret substitution: {e}")))?;
    if OutboundPolicy::destination(&url) != OutboundPolicy::destination(&url_with_placeholders) {
        return Err(OutboundError::from(HttpError::Denied(
            "a secret placeholder may appear only in a URL's path or query, never in its scheme, host or port".into(),
        )));
    }
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), secrets.substitute(v)))
        .collect();
    let header_bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if header_bytes > caps.max_header_bytes {
        return Err(Cause::RequestHeaders.error(format!(
            "request headers of {header_bytes} bytes exceed the cap of {} bytes (max_header_bytes)",
            caps.max_header_bytes
        )));
    }
    let mut body = secrets.substitute_bytes(body_raw);
    if body.len() > caps.max_request_body {
        return Err(Cause::RequestBody.error(format!(
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
            .map_err(|m| OutboundError::from(HttpError::Denied(hop(m))))?;
        secrets
            .check_scope(&used, &dest)
            .map_err(|m| OutboundError::from(HttpError::Denied(hop(m))))?;
        let addrs = resolve_checked(&dest, policy)
            .await
            .map_err(|e| e.map_message(|m| hop(m.to_string())))?;
        // The last point before anything leaves for the server: the intent is durable
        // first (a no-op on later hops of the same call), or nothing is sent at all.
        ahead.commit(req.to_json(caps)).await.map_err(|e| {
            OutboundError::from(HttpError::Other(format!(
                "{} {} was not sent: {e}",
                req.method, req.url
            )))
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
                    return Err(Cause::Redirects.error(format!(
                        "more than {} redirects (max_redirects)",
                        caps.max_redirects
                    )));
                }
                let next = url.join(&loc).map_err(|e| {
                    OutboundError::from(HttpError::Other(format!(
                        "bad redirect location {:?}: {e}",
                        crate::trace_caps::cap_to(&loc, 256)
                    )))
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
