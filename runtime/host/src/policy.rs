//! Outbound HTTP grants: `scheme://host[:port]` patterns.
//!
//! - scheme: `http` or `https`, exact.
//! - host: an exact name or IP literal, `*` (any host), or `*.example.com` (any name ending
//!   in `.example.com`, at any depth, but not `example.com` itself).
//! - port: a number, `*` (any port), or omitted (the scheme's default port only).
//!
//! A destination is allowed only if the agent's policy *and* the skill's own request both
//! match it (the intersection); anything else is denied.

use std::fmt;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("host pattern {pattern:?}: {reason} (expected scheme://host[:port], e.g. https://*.example.com or http://127.0.0.1:*)")]
    Invalid { pattern: String, reason: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    Suffix(String), // ".example.com"
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
        let bad = |reason| PolicyError::Invalid { pattern: pattern.to_string(), reason };
        let (scheme, rest) = pattern.split_once("://").ok_or_else(|| bad("missing scheme://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad("scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("a pattern names a host and port only, no path, query or user"));
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
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(bad("a wildcard may only be the first label (*.example.com)"));
            }
            HostMatch::Suffix(format!(".{suffix}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(bad("a wildcard may only be the first label (*.example.com)"));
        } else {
            HostMatch::Exact(host)
        };
        Ok(HostPattern { source: pattern.to_string(), scheme, host, port })
    }

    /// Whether this pattern allows `scheme://host:port` (host already lower-cased, IPv6
    /// without brackets).
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme != scheme {
            return false;
        }
        let host_ok = match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(h) => h.trim_start_matches('[').trim_end_matches(']') == host,
            HostMatch::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
        };
        host_ok
            && match self.port {
                PortMatch::Any => true,
                PortMatch::Exact(p) => p == port,
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

fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        // [v6]:port
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

/// What one invocation may reach: both lists must match a destination.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// The operator's grant for the agent.
    pub granted: Vec<HostPattern>,
    /// What the skill asked for in `describe`.
    pub requested: Vec<HostPattern>,
}

impl OutboundPolicy {
    /// Deny everything.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// `Ok(())` if `url` may be called, else the reason it may not, naming the fix.
    pub fn check(&self, url: &url::Url) -> Result<(), String> {
        let scheme = url.scheme();
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(format!("{url} has no host")),
        };
        let port = url.port_or_known_default().ok_or_else(|| format!("{url} has no port"))?;
        let dest = format!("{scheme}://{host}:{port}");
        if !self.granted.iter().any(|p| p.matches(scheme, &host, port)) {
            return Err(format!(
                "{dest} is not granted to this agent (grant it with `runtime agent create --allow-host PATTERN`)"
            ));
        }
        if !self.requested.iter().any(|p| p.matches(scheme, &host, port)) {
            return Err(format!("{dest} is outside the outbound hosts the skill declares in describe"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> HostPattern {
        HostPattern::parse(s).unwrap()
    }

    #[test]
    fn exact_wildcard_and_ports() {
        assert!(p("http://127.0.0.1:*").matches("http", "127.0.0.1", 8080));
        assert!(!p("http://127.0.0.1:*").matches("https", "127.0.0.1", 8080));
        assert!(p("https://*.example.com").matches("https", "a.b.example.com", 443));
        assert!(!p("https://*.example.com").matches("https", "example.com", 443));
        assert!(!p("https://*.example.com").matches("https", "evilexample.com", 443));
        assert!(!p("https://*.example.com").matches("https", "a.example.com", 8443));
        assert!(p("http://localhost:8080").matches("http", "localhost", 8080));
        assert!(p("http://[::1]:*").matches("http", "::1", 1));
        assert!(p("HTTP://API.Example.com").matches("http", "api.example.com", 80));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in ["example.com", "ftp://x", "http://", "http://a.*.com", "http://x:port", "http://x/path", "http://u@x"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn policy_is_the_intersection_and_denies_by_default() {
        let url = url::Url::parse("http://127.0.0.1:9000/x").unwrap();
        assert!(OutboundPolicy::deny_all().check(&url).is_err());
        let only_agent = OutboundPolicy { granted: vec![p("http://127.0.0.1:*")], requested: vec![] };
        assert!(only_agent.check(&url).unwrap_err().contains("declares"));
        let both = OutboundPolicy { granted: vec![p("http://127.0.0.1:*")], requested: vec![p("http://*:*")] };
        assert!(both.check(&url).is_ok());
        let other = url::Url::parse("http://10.0.0.1:9000/").unwrap();
        assert!(both.check(&other).unwrap_err().contains("not granted"));
    }
}
