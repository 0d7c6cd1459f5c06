//! Outbound HTTP grants: `scheme://host[:port]` patterns, and the special-address rule.
//!
//! - scheme: `http` or `https`, exact.
//! - host, one of:
//!   - an exact name (`api.example.com`), compared case-insensitively, one trailing dot ignored;
//!   - `*` (any host) or `*.example.com` (any name ending in `.example.com`, at any depth, but
//!     not `example.com` itself);
//!   - an IP literal (`127.0.0.1`, `[::1]`), normalized like a request's host, so every
//!     spelling of one address (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`) is one address;
//!   - a CIDR range: `10.0.0.0/8`, `[fd00::/8]` (IPv6 inside brackets).
//! - port: a number, `*` (any port), or omitted (the scheme's default port only).
//!
//! A destination is allowed only if the agent's grant *and* the skill's own request both
//! match it (the intersection); anything else is denied.
//!
//! **Special addresses.** Loopback, private, link-local, unique-local, unspecified, CGNAT,
//! multicast, documentation/benchmark/reserved ranges and the cloud metadata endpoints are
//! reachable only if the *agent's grant* names them by IP literal or CIDR (the cloud metadata
//! addresses: by IP literal only). A `*` host, a `*.suffix` or a host name never grants one:
//! otherwise `http://*:*` or a name that resolves to `127.0.0.1` (DNS is the attacker's)
//! would open the host's own network to every skill. The check runs on the address the host
//! resolved and will connect to, so it also holds against DNS rebinding (see `http.rs`).
//! The skill's own `describe` list is matched with plain patterns: it can only narrow what
//! the operator granted, never widen it.

mod ip;
mod pattern;

use ip::METADATA;
pub use ip::{Cidr, canonical_ip, special_kind};
pub use pattern::{HostPattern, NormalHost};

use std::fmt;
use std::net::IpAddr;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error(
        "host pattern {pattern:?}: {reason} (expected scheme://host[:port], e.g. https://*.example.com, http://127.0.0.1:*, http://10.0.0.0/8:*, https://[fd00::/8]:443)"
    )]
    Invalid {
        pattern: String,
        reason: &'static str,
    },
}

/// A request's destination after the first policy check: scheme, normalized host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub scheme: String,
    pub host: NormalHost,
    pub port: u16,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
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

    /// The destination of `url`, normalized.
    pub fn destination(url: &url::Url) -> Result<Destination, String> {
        let scheme = url.scheme().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "scheme {scheme:?} is not allowed (only http and https)"
            ));
        }
        let host = NormalHost::from_url(url).ok_or_else(|| format!("{url} has no host"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url} has no port"))?;
        Ok(Destination { scheme, host, port })
    }

    /// First check, before any DNS lookup: `Ok(destination)` if `url` may be called by
    /// pattern (and, for an IP literal, by the special-address rule too), else the reason
    /// it may not, naming the fix.
    pub fn check(&self, url: &url::Url) -> Result<Destination, String> {
        let dest = Self::destination(url)?;
        if !self
            .granted
            .iter()
            .any(|p| p.matches(&dest.scheme, &dest.host, dest.port))
        {
            return Err(format!(
                "{dest} is not granted to this agent (grant it with `runtime agent create --allow-host PATTERN`)"
            ));
        }
        if !self
            .requested
            .iter()
            .any(|p| p.matches(&dest.scheme, &dest.host, dest.port))
        {
            return Err(format!(
                "{dest} is outside the outbound hosts the skill declares in describe"
            ));
        }
        if let NormalHost::Ip(ip) = dest.host {
            self.check_address(&dest, ip)?;
        }
        Ok(dest)
    }

    /// Second check, on every address the host resolved for `dest` (and will connect to):
    /// a special address needs a grant that names it explicitly.
    pub fn check_address(&self, dest: &Destination, ip: IpAddr) -> Result<(), String> {
        let ip = canonical_ip(ip);
        let Some(kind) = special_kind(ip) else {
            return Ok(());
        };
        if self
            .granted
            .iter()
            .any(|p| p.names_explicitly(&dest.scheme, ip, dest.port))
        {
            return Ok(());
        }
        let shown = NormalHost::Ip(ip);
        let via = if dest.host == shown {
            String::new()
        } else {
            format!(" ({} resolves to it)", dest.host)
        };
        let how = if METADATA.contains(&ip) {
            "by its exact IP"
        } else {
            "by IP or CIDR"
        };
        Err(format!(
            "{shown} is a {kind} address{via}; it is reachable only with a grant naming it {how}, \
             e.g. --allow-host '{}://{shown}:{}' (a wildcard or host name never grants it)",
            dest.scheme, dest.port
        ))
    }
}

#[cfg(test)]
mod tests;
