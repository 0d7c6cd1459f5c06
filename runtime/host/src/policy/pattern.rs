//! Host patterns (`scheme://host[:port]`) and the normalized host a request is matched by.

use super::PolicyError;
use super::ip::{Cidr, METADATA, canonical_ip};
use std::fmt;
use std::net::IpAddr;

/// A request's host, normalized: a lower-case name without a trailing dot, or a canonical IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalHost {
    Name(String),
    Ip(IpAddr),
}

impl NormalHost {
    /// From a parsed URL. The `url` crate implements the WHATWG host parser, which already
    /// turns every IPv4 spelling of an http(s) URL (`2130706433`, `0177.0.0.1`, `0x7f.1`,
    /// `127.1`, trailing dot, any case) into one `Ipv4`; we add the IPv6 → IPv4 unmapping and
    /// drop a name's trailing dot (`example.com.` is `example.com` to DNS).
    pub fn from_url(url: &url::Url) -> Option<NormalHost> {
        Some(match url.host()? {
            url::Host::Ipv4(ip) => NormalHost::Ip(canonical_ip(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => NormalHost::Ip(canonical_ip(IpAddr::V6(ip))),
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                let d = d.strip_suffix('.').unwrap_or(&d);
                // Belt and braces: a domain that is an IP literal after all is that IP.
                match d.parse::<IpAddr>() {
                    Ok(ip) => NormalHost::Ip(canonical_ip(ip)),
                    Err(_) => NormalHost::Name(d.to_string()),
                }
            }
        })
    }

    /// Normalizes a host as written in a pattern or URL authority, with the same parser as
    /// requests use.
    fn parse(host: &str) -> Option<NormalHost> {
        let url = url::Url::parse(&format!("http://{host}/")).ok()?;
        if url.host_str().is_none() || url.port().is_some() || url.path() != "/" {
            return None;
        }
        NormalHost::from_url(&url)
    }
}

impl fmt::Display for NormalHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormalHost::Name(n) => f.write_str(n),
            NormalHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            NormalHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Name(String),
    Suffix(String), // ".example.com"
    Ip(IpAddr),
    Cidr(Cidr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortMatch {
    Any,
    Exact(u16),
}

/// One parsed grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    source: String,
    scheme: String,
    host: HostMatch,
    port: PortMatch,
}

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<Self, PolicyError> {
        let bad = |reason| PolicyError::Invalid {
            pattern: pattern.to_string(),
            reason,
        };
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| bad("missing scheme://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad("scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['?', '#', '@', '\\'])
            || rest.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                "a pattern names a host and port only, no path, query or user",
            ));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| bad("malformed host or port"))?;
        let port = match port {
            None => PortMatch::Exact(default_port),
            Some("*") => PortMatch::Any,
            Some(p) => PortMatch::Exact(p.parse().map_err(|_| bad("port must be a number or *"))?),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some((addr, prefix)) = host.split_once('/') {
            // CIDR: only an IP literal may carry a prefix (anything else is a path).
            let ip = match NormalHost::parse(&bracket_v6(addr)) {
                Some(NormalHost::Ip(_)) => addr
                    .parse::<IpAddr>()
                    .map_err(|_| bad("a CIDR range needs a plain IP address before the /"))?,
                _ => {
                    return Err(bad(
                        "a pattern names a host and port only, no path (a CIDR range is an IP address/prefix)",
                    ));
                }
            };
            let prefix: u8 = prefix
                .parse()
                .map_err(|_| bad("a CIDR prefix must be a number"))?;
            HostMatch::Cidr(
                Cidr::new(ip, prefix).ok_or_else(|| bad("CIDR prefix too long for the address"))?,
            )
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(bad(
                    "a wildcard may only be the first label (*.example.com)",
                ));
            }
            if NormalHost::parse(suffix).is_none() {
                return Err(bad("malformed host name"));
            }
            HostMatch::Suffix(format!(".{}", suffix.strip_suffix('.').unwrap_or(suffix)))
        } else if host.is_empty() || host.contains('*') {
            return Err(bad(
                "a wildcard may only be the first label (*.example.com)",
            ));
        } else {
            match NormalHost::parse(&bracket_v6(&host)) {
                Some(NormalHost::Ip(ip)) => HostMatch::Ip(ip),
                Some(NormalHost::Name(n)) => HostMatch::Name(n),
                None => return Err(bad("malformed host name")),
            }
        };
        Ok(HostPattern {
            source: pattern.to_string(),
            scheme,
            host,
            port,
        })
    }

    fn scheme_port_match(&self, scheme: &str, port: u16) -> bool {
        self.scheme == scheme
            && match self.port {
                PortMatch::Any => true,
                PortMatch::Exact(p) => p == port,
            }
    }

    /// Whether this pattern allows `scheme://host:port` by plain pattern matching.
    pub fn matches(&self, scheme: &str, host: &NormalHost, port: u16) -> bool {
        self.scheme_port_match(scheme, port)
            && match (&self.host, host) {
                (HostMatch::Any, _) => true,
                (HostMatch::Name(n), NormalHost::Name(h)) => n == h,
                (HostMatch::Suffix(s), NormalHost::Name(h)) => {
                    h.len() > s.len() && h.ends_with(s.as_str())
                }
                (HostMatch::Ip(p), NormalHost::Ip(ip)) => p == ip,
                (HostMatch::Cidr(c), NormalHost::Ip(ip)) => c.contains(*ip),
                _ => false,
            }
    }

    /// Whether this pattern names `ip` explicitly, as the special-address rule requires: an
    /// IP literal equal to it or, except for cloud metadata, a CIDR range containing it.
    pub(super) fn names_explicitly(&self, scheme: &str, ip: IpAddr, port: u16) -> bool {
        self.scheme_port_match(scheme, port)
            && match &self.host {
                HostMatch::Ip(p) => *p == ip,
                // A range such as 169.254.0.0/16 or 0.0.0.0/0 is about networks; the
                // credential-handing metadata endpoint must be named on its own.
                HostMatch::Cidr(c) => c.contains(ip) && !METADATA.contains(&ip),
                _ => false,
            }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `fd00::` → `[fd00::]` so the URL host parser reads it as IPv6.
fn bracket_v6(h: &str) -> String {
    if h.contains(':') && !h.starts_with('[') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        // [v6]:port or [v6/prefix]:port
        let (h, after) = rest.split_once(']')?;
        return match after {
            "" => Some((h, None)),
            p => Some((h, Some(p.strip_prefix(':')?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p))),
        Some(_) => None,
        None => Some((s, None)),
    }
}
